/**
 * `@emotion/css/create-instance` that gives every instance this page's CSP nonce. EUI makes
 * an `@emotion/css` instance of its own (and `@emotion/css` has a default one); each inserts
 * a `<style>` element, which the Content-Security-Policy admits only with the nonce.
 * vite.config.ts points every other import of `@emotion/css/create-instance` here.
 */
import createEmotion from '@emotion/css/create-instance'
import { cspNonce } from './csp-nonce.js'

type Options = Parameters<typeof createEmotion>[0]

export default function createEmotionWithNonce(options?: Options): ReturnType<typeof createEmotion> {
  return createEmotion({ key: 'css', ...options, nonce: options?.nonce ?? cspNonce })
}
