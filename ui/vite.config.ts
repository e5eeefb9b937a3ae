import { fileURLToPath } from 'node:url'
import { defineConfig, type Plugin } from 'vite'
import react from '@vitejs/plugin-react'

const emotionInstance = fileURLToPath(new URL('./src/emotion-instance.ts', import.meta.url))

/**
 * Every `@emotion/css` instance (EUI's own, and `@emotion/css`'s default) gets the page's
 * CSP nonce: imports of `@emotion/css/create-instance` resolve to src/emotion-instance.ts,
 * except that module's own import of the real one.
 */
function emotionNonce(): Plugin {
  return {
    name: 'vigil-emotion-nonce',
    enforce: 'pre',
    resolveId(source, importer) {
      if (importer === emotionInstance) return null
      if (source === '@emotion/css/create-instance' || /create-instance\/dist\/emotion-css-create-instance\.[\w.]*js$/.test(source)) return emotionInstance
      return null
    },
  }
}

// The dashboard is served by `server` from this package's dist/ at the site root, same
// origin as the API (server/src/dashboard.ts); no dev proxy, no CDN.
export default defineConfig({
  plugins: [emotionNonce(), react()],
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 6000,
  },
})
