/**
 * The response headers every answer carries (issue 6 §5): `@fastify/helmet` with a strict
 * Content-Security-Policy fitted to the dashboard this server serves itself, HSTS when on
 * TLS, and no CORS at all.
 *
 * Relied on by: the dashboard (its scripts, styles and API calls must all come from this
 * origin: no inline script, no third-party CDN, no framing) and by whoever audits the
 * deployment. Headers are set in an `onRequest` hook installed before any other, so they are
 * on every kind of answer: routes, 401/403 from the access check, 404/405, errors, the
 * shutting-down 503, and the hijacked SSE control stream (which copies the reply's headers
 * into its response head).
 *
 * No CORS: nothing here (or anywhere in Vigil) emits `Access-Control-*`, so browsers keep
 * other origins from reading any answer, and a cross-origin preflight gets no allowance
 * (the not-found handler answers it 404/405).
 */
import helmet from '@fastify/helmet'
import Fastify, { type FastifyInstance } from 'fastify'

/** HSTS lifetime: one year, what browsers' preload lists expect. */
const HSTS_MAX_AGE_SEC = 365 * 86_400

/** Browser features the dashboard never uses, turned off for it and anything injected into it. */
const PERMISSIONS_POLICY = 'accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()'

/**
 * The dashboard's policy: everything from this origin, nothing inline, nothing framed.
 * `img-src data:` lets the dashboard show TOTP enrolment QR codes rendered as data URLs.
 */
export function contentSecurityPolicy(tls: boolean): Record<string, string[]> {
  const directives: Record<string, string[]> = {
    'default-src': ["'self'"],
    'base-uri': ["'none'"],
    'connect-src': ["'self'"],
    'font-src': ["'self'"],
    'form-action': ["'self'"],
    'frame-ancestors': ["'none'"],
    'frame-src': ["'none'"],
    'img-src': ["'self'", 'data:'],
    'manifest-src': ["'self'"],
    'media-src': ["'none'"],
    'object-src': ["'none'"],
    'script-src': ["'self'"],
    'script-src-attr': ["'none'"],
    'style-src': ["'self'"],
    'worker-src': ["'self'"],
  }
  if (tls) directives['upgrade-insecure-requests'] = []
  return directives
}

/** Headers of a bare answer that are not about security; everything else helmet set is. */
const NOT_SECURITY = new Set(['content-type', 'content-length', 'date', 'connection', 'keep-alive', 'transfer-encoding'])

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * The headers every answer carries, for the one path no hook runs on: fastify's
     * `frameworkErrors` (a URL it cannot decode), answered by error-reply.ts.
     */
    securityHeaders: Readonly<Record<string, string>>
  }
}

function helmetOptions(tls: boolean) {
  return {
    global: true,
    contentSecurityPolicy: { useDefaults: false, directives: contentSecurityPolicy(tls) },
    crossOriginOpenerPolicy: { policy: 'same-origin' as const },
    crossOriginResourcePolicy: { policy: 'same-origin' as const },
    referrerPolicy: { policy: 'no-referrer' as const },
    // Over plain HTTP browsers ignore HSTS, and a loopback Vigil must not pin localhost to TLS.
    strictTransportSecurity: tls ? { maxAge: HSTS_MAX_AGE_SEC, includeSubDomains: true } : (false as const),
    xFrameOptions: { action: 'deny' as const },
    xPermittedCrossDomainPolicies: { permittedPolicies: 'none' as const },
  }
}

async function register(app: FastifyInstance, tls: boolean): Promise<void> {
  await app.register(helmet, helmetOptions(tls))
  app.addHook('onRequest', async (_request, reply) => {
    reply.header('permissions-policy', PERMISSIONS_POLICY)
  })
}

/**
 * What the hooks write, read off a bare instance configured the same way: helmet decides
 * the header set, and this copy can never drift from it.
 */
async function staticHeaders(tls: boolean): Promise<Record<string, string>> {
  const probe = Fastify({ logger: false })
  try {
    await register(probe, tls)
    probe.get('/', async () => '')
    const res = await probe.inject({ method: 'GET', url: '/' })
    const out: Record<string, string> = {}
    for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string' && !NOT_SECURITY.has(k)) out[k] = v
    return out
  } finally {
    await probe.close()
  }
}

/** Installs the headers on every response of `app`. Call before any other hook or route. */
export async function installSecurityHeaders(app: FastifyInstance, opts: { tls: boolean }): Promise<void> {
  await register(app, opts.tls)
  app.decorate('securityHeaders', Object.freeze(await staticHeaders(opts.tls)))
}
