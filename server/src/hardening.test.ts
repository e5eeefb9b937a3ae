import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import http from 'node:http'
import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { signPayload, VigilError } from '@vigil/core'
import { buildApp } from './app.js'
import type { HardeningOptions } from './hardening.js'
import { contentSecurityPolicy } from './security-headers.js'
import { captureLogger, openTestStore, startTestApp, type TestApp, type TestStore } from './test-support.js'

let t: TestStore
let h: TestApp
let app: FastifyInstance
let sourceSecret: string
const log = captureLogger()
const SOURCE = 'desk-hardening'
const RATE_MAX = 5
const prefix = `vigil:test:rl:${randomBytes(6).toString('hex')}:`
/** A secret-shaped value a buggy dependency might put in its error message. */
const LEAKY = `vgs_${randomBytes(18).toString('base64url')}`

/** The test app: every workspace's routes, a few routes that fail on purpose, hardening on. */
async function hardenedApp(hardening: HardeningOptions): Promise<FastifyInstance> {
  return buildApp({
    logger: log.logger,
    store: t.store,
    redis: h.redis,
    ingest: h.ingest,
    metrics: h.registry,
    plugins: [
      ...h.respond.plugins,
      async (a) => {
        a.get('/test/boom', { config: { permission: 'events:read' } }, async () => {
          throw new Error(`upstream refused: Authorization: Bearer ${LEAKY} at /srv/app.js:1:1`)
        })
        a.get('/test/vigil-500', { config: { permission: 'public' } }, async () => {
          throw new VigilError('VIGIL_ERR_INTERNAL', `detail for the log only: ${LEAKY}`)
        })
        a.get('/test/unavailable', { config: { permission: 'public' } }, async () => {
          throw new VigilError('VIGIL_ERR_API_UNAVAILABLE', 'test', { headers: { 'retry-after': '5' } })
        })
        a.get('/test/items/:id', { config: { permission: 'public' } }, async (req) => ({ id: (req.params as { id: string }).id }))
      },
    ],
    hardening,
  })
}

beforeAll(async () => {
  t = await openTestStore()
  h = await startTestApp(t)
  sourceSecret = (await h.sources.add(SOURCE)).secret
  app = await hardenedApp({ rateLimit: { redis: h.redis, max: RATE_MAX, windowSec: 60, prefix } })
})
afterAll(async () => {
  await app?.close()
  await h?.close()
  await t?.cleanup()
})

const EXPECTED_CSP =
  "default-src 'self';base-uri 'none';connect-src 'self';font-src 'self';form-action 'self';frame-ancestors 'none';frame-src 'none';" +
  "img-src 'self' data:;manifest-src 'self';media-src 'none';object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self';worker-src 'self'"

/** What every answer must carry over plain HTTP. */
function expectHardened(headers: http.IncomingHttpHeaders | Record<string, unknown>, label: string): void {
  expect(headers['content-security-policy'], label).toBe(EXPECTED_CSP)
  expect(headers['x-content-type-options'], label).toBe('nosniff')
  expect(headers['referrer-policy'], label).toBe('no-referrer')
  expect(headers['x-frame-options'], label).toBe('DENY')
  expect(headers['cross-origin-opener-policy'], label).toBe('same-origin')
  expect(headers['cross-origin-resource-policy'], label).toBe('same-origin')
  expect(headers['x-permitted-cross-domain-policies'], label).toBe('none')
  expect(headers['permissions-policy'], label).toMatch(/camera=\(\).*microphone=\(\)/)
  // HSTS only over TLS (transport.test.ts checks it there).
  expect(headers['strict-transport-security'], label).toBeUndefined()
  expect(headers['x-powered-by'], label).toBeUndefined()
  expect(Object.keys(headers).filter((k) => k.startsWith('access-control-')), label).toEqual([])
}

function signedHeaders(body = ''): Record<string, string> {
  const ts = Math.floor(Date.now() / 1000)
  return { 'vigil-source': SOURCE, 'vigil-timestamp': String(ts), 'vigil-signature': signPayload(sourceSecret, ts, body) }
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

describe('security headers', () => {
  it('states a CSP for a same-origin dashboard: nothing inline, nothing framed, no plugins', () => {
    const csp = contentSecurityPolicy(false)
    expect(csp['script-src']).toEqual(["'self'"])
    expect(csp['object-src']).toEqual(["'none'"])
    expect(csp['frame-ancestors']).toEqual(["'none'"])
    expect(Object.values(csp).flat().join(' ')).not.toMatch(/unsafe-inline|unsafe-eval|\*/)
    expect(contentSecurityPolicy(true)['upgrade-insecure-requests']).toEqual([])
    expect(contentSecurityPolicy(false)['upgrade-insecure-requests']).toBeUndefined()
  })

  it('are on every kind of answer', async () => {
    const event = JSON.stringify({ ts: new Date().toISOString(), action: 'api.request', outcome: 'success' })
    const cases: Array<{ label: string; status: number; req: Parameters<FastifyInstance['inject']>[0] }> = [
      { label: 'health', status: 200, req: { method: 'GET', url: '/v1/health' } },
      { label: 'metrics', status: 200, req: { method: 'GET', url: '/metrics', headers: bearer(h.tokens.admin) } },
      { label: 'operator list', status: 200, req: { method: 'GET', url: '/v1/events?limit=1', headers: bearer(h.tokens.analyst) } },
      { label: 'no token', status: 401, req: { method: 'GET', url: '/v1/events' } },
      { label: 'bad token', status: 401, req: { method: 'GET', url: '/v1/incidents', headers: bearer('vgt_' + 'x'.repeat(30)) } },
      { label: 'wrong role', status: 403, req: { method: 'GET', url: '/v1/events', headers: bearer(h.tokens.regulator) } },
      { label: 'unknown path', status: 404, req: { method: 'GET', url: '/nowhere' } },
      { label: 'wrong method', status: 405, req: { method: 'DELETE', url: '/v1/health' } },
      { label: 'bad query', status: 400, req: { method: 'GET', url: '/v1/events?limit=abc', headers: bearer(h.tokens.analyst) } },
      { label: 'bad url', status: 400, req: { method: 'GET', url: '/test/items/%zz' } },
      { label: 'bug', status: 500, req: { method: 'GET', url: '/test/boom', headers: bearer(h.tokens.analyst) } },
      { label: 'unavailable', status: 503, req: { method: 'GET', url: '/test/unavailable' } },
      { label: 'ingest unsigned', status: 401, req: { method: 'POST', url: '/v1/events', headers: { 'content-type': 'application/json' }, payload: event } },
      {
        label: 'ingest accepted',
        status: 202,
        req: { method: 'POST', url: '/v1/events', headers: { 'content-type': 'application/json', ...signedHeaders(event) }, payload: event },
      },
      { label: 'control state', status: 200, req: { method: 'GET', url: '/v1/control/state', headers: signedHeaders() } },
      { label: 'control unsigned', status: 401, req: { method: 'GET', url: '/v1/control/stream' } },
    ]
    for (const c of cases) {
      const res = await app.inject(c.req)
      expect(res.statusCode, `${c.label}: ${res.body.slice(0, 200)}`).toBe(c.status)
      expectHardened(res.headers, c.label)
    }
  })

  it('are on the SSE control stream, whose head is written raw', async () => {
    await app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = app.server.address() as AddressInfo
    const headers = await new Promise<http.IncomingHttpHeaders>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/v1/control/stream', headers: signedHeaders() }, (res) => {
        resolve({ ...res.headers, status: String(res.statusCode) })
        req.destroy()
      })
      req.on('error', reject)
    })
    expect(headers.status).toBe('200')
    delete headers.status
    expect(headers['content-type']).toMatch(/^text\/event-stream/)
    expectHardened(headers, 'control stream')
  })
})

describe('no CORS', () => {
  it('gives a cross-origin preflight no allowance', async () => {
    const res = await app.inject({
      method: 'OPTIONS',
      url: '/v1/events',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
    })
    expect(res.statusCode).toBeGreaterThanOrEqual(400)
    expectHardened(res.headers, 'preflight')
  })

  it('answers a cross-origin request without Access-Control-Allow-Origin', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/events?limit=1', headers: { origin: 'https://evil.example', ...bearer(h.tokens.viewer) } })
    expect(res.statusCode).toBe(200)
    expectHardened(res.headers, 'cross-origin GET')
  })
})

describe('errors never echo secrets or stack traces', () => {
  it('answers a bug with an error id only, and logs the cause under that id, masked', async () => {
    const before = log.lines.length
    const res = await app.inject({ method: 'GET', url: '/test/boom', headers: bearer(h.tokens.analyst) })
    expect(res.statusCode).toBe(500)
    const body = res.json() as { error: { code: string; message: string } }
    expect(body).toEqual({ error: { code: 'internal_error', message: expect.stringMatching(/^Internal error: error id err_[0-9a-f]{16}$/) } })
    expect(res.body).not.toContain(LEAKY)
    expect(res.body).not.toMatch(/upstream|srv|\.js|stack|Bearer/)
    const id = body.error.message.split(' ').pop() as string
    const logged = log.lines.slice(before).filter((l) => l.includes(id))
    expect(logged).toHaveLength(1)
    expect(logged[0]).toContain('upstream refused')
    expect(logged[0]).not.toContain(LEAKY)
  })

  it('keeps a 500 VigilError detail out of the answer too', async () => {
    const res = await app.inject({ method: 'GET', url: '/test/vigil-500' })
    expect(res.statusCode).toBe(500)
    expect(res.json()).toEqual({ error: { code: 'internal_error', message: expect.stringMatching(/^Internal error: error id err_[0-9a-f]{16}$/) } })
    expect(res.body).not.toContain('detail for the log')
  })

  it('never repeats a bearer token or a signature sent with a refused request', async () => {
    const token = `vgt_${randomBytes(24).toString('base64url')}`
    const refused = await app.inject({ method: 'GET', url: '/v1/incidents', headers: bearer(token) })
    expect(refused.statusCode).toBe(401)
    expect(refused.body).not.toContain(token)
    const forged = await app.inject({ method: 'GET', url: '/v1/control/state', headers: { ...signedHeaders(), 'vigil-signature': `v1=${'ab'.repeat(32)}` } })
    expect(forged.statusCode).toBe(401)
    expect(forged.body).not.toContain('abab')
  })
})

describe('operator API rate limit', () => {
  it(`answers 429 with Retry-After after ${RATE_MAX} requests per operator in a window`, async () => {
    const statuses: number[] = []
    let last
    for (let i = 0; i < RATE_MAX + 2; i++) {
      last = await app.inject({ method: 'GET', url: '/v1/incidents?limit=1', headers: bearer(h.tokens.responder) })
      statuses.push(last.statusCode)
    }
    expect(statuses).toEqual([...Array(RATE_MAX).fill(200), 429, 429])
    expect(last!.json()).toEqual({ error: { code: 'rate_limited', message: 'Too many requests; retry later' } })
    const retryAfter = Number(last!.headers['retry-after'])
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true)
    expectHardened(last!.headers, 'rate limited')
    // The budget is per operator: another token is not affected.
    const other = await app.inject({ method: 'GET', url: '/v1/incidents?limit=1', headers: bearer(h.tokens.viewer) })
    expect(other.statusCode).toBe(200)
    expect(other.headers['x-ratelimit-limit']).toBe(String(RATE_MAX))
  })

  it('never limits health, ingest, the control channel or unknown paths', async () => {
    for (let i = 0; i < RATE_MAX * 3; i++) {
      const event = JSON.stringify({ id: `ev-${i}-${randomBytes(4).toString('hex')}`, ts: new Date().toISOString(), action: 'api.request', outcome: 'success' })
      expect((await app.inject({ method: 'GET', url: '/v1/health' })).statusCode).toBe(200)
      const ingest = await app.inject({
        method: 'POST',
        url: '/v1/events',
        headers: { 'content-type': 'application/json', ...signedHeaders(event) },
        payload: event,
      })
      expect(ingest.statusCode, ingest.body).toBe(202)
      expect((await app.inject({ method: 'GET', url: '/v1/control/state', headers: signedHeaders() })).statusCode).toBe(200)
      expect((await app.inject({ method: 'GET', url: '/nowhere' })).statusCode).toBe(404)
    }
  })

  it('counts refused tokens per IP against the same budget, before any token is looked up', async () => {
    const d = await hardenedApp({ rateLimit: { redis: h.redis, max: 3, windowSec: 60, prefix: `vigil:test:rl:${randomBytes(6).toString('hex')}:` } })
    try {
      // An operator at work from the same address before the flood starts.
      expect((await d.inject({ method: 'GET', url: '/v1/incidents?limit=1', headers: bearer(h.tokens.analyst) })).statusCode).toBe(200)
      const guess = () => bearer(`vgt_${randomBytes(24).toString('base64url')}`)
      const statuses: number[] = []
      for (let i = 0; i < 5; i++) statuses.push((await d.inject({ method: 'GET', url: '/v1/incidents', headers: guess() })).statusCode)
      expect(statuses).toEqual([401, 401, 401, 429, 429])
      // The IP has spent its budget: a token not seen lately waits for the window to end…
      const fresh = await d.inject({ method: 'GET', url: '/v1/incidents?limit=1', headers: bearer(h.tokens.viewer) })
      expect([fresh.statusCode, fresh.json().error.code]).toEqual([429, 'rate_limited'])
      expect(Number(fresh.headers['retry-after'])).toBeGreaterThanOrEqual(1)
      // …the operator already at work goes on…
      expect((await d.inject({ method: 'GET', url: '/v1/incidents?limit=1', headers: bearer(h.tokens.analyst) })).statusCode).toBe(200)
      // …and health and the machine routes are not operator routes.
      expect((await d.inject({ method: 'GET', url: '/v1/health' })).statusCode).toBe(200)
      expect((await d.inject({ method: 'GET', url: '/v1/control/state', headers: signedHeaders() })).statusCode).toBe(200)
    } finally {
      await d.close()
    }
  })

  it('is shared through Redis by every process', async () => {
    const shared = `vigil:test:rl:${randomBytes(6).toString('hex')}:`
    // A second connection, as a second Vigil process would have.
    const redis2 = new Redis(process.env.REDIS_URL as string, { maxRetriesPerRequest: 1 })
    const a = await hardenedApp({ rateLimit: { redis: h.redis, max: 4, windowSec: 60, prefix: shared } })
    const b = await hardenedApp({ rateLimit: { redis: redis2, max: 4, windowSec: 60, prefix: shared } })
    try {
      const statuses: number[] = []
      for (const target of [a, b, a, b, a, b]) {
        statuses.push((await target.inject({ method: 'GET', url: '/v1/incidents?limit=1', headers: bearer(h.tokens.analyst) })).statusCode)
      }
      expect(statuses).toEqual([200, 200, 200, 200, 429, 429])
    } finally {
      await a.close()
      await b.close()
      redis2.disconnect()
    }
  })

  it('lets requests through while Redis is unreachable', async () => {
    const dead = new Redis('redis://127.0.0.1:1', { maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: true, retryStrategy: () => null })
    dead.on('error', () => {})
    const c = await hardenedApp({ rateLimit: { redis: dead, max: 1, windowSec: 60 } })
    try {
      for (let i = 0; i < 3; i++) {
        expect((await c.inject({ method: 'GET', url: '/v1/events?limit=1', headers: bearer(h.tokens.viewer) })).statusCode).toBe(200)
      }
    } finally {
      await c.close()
      dead.disconnect()
    }
  })
})
