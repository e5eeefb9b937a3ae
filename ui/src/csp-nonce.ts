/** This page's CSP nonce, written by the server into `<meta name="csp-nonce">` (server/src/dashboard.ts). */
const meta = document.querySelector<HTMLMetaElement>('meta[name="csp-nonce"]')?.content
export const cspNonce = meta && meta !== '__CSP_NONCE__' ? meta : undefined
