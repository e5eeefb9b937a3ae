import createCache from '@emotion/cache'
import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
// EUI's flyouts and modals lock scrolling with react-remove-scroll, whose <style> takes its nonce from get-nonce.
import { setNonce } from 'get-nonce'
import { App } from './App.js'
import { cspNonce } from './csp-nonce.js'

// Emotion (EUI's styling) inserts <style> elements; the server's Content-Security-Policy
// admits only those carrying this answer's nonce (server/src/dashboard.ts).
if (cspNonce) setNonce(cspNonce)
const cache = {
  default: createCache({ key: 'vgl', nonce: cspNonce }),
  global: createCache({ key: 'vgl-global', nonce: cspNonce }),
  utility: createCache({ key: 'vgl-util', nonce: cspNonce }),
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App emotionCache={cache} />
  </StrictMode>,
)
