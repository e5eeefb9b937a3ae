import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { buildApp } from './app.js'
import { ROLES, can, type Role } from './permissions.js'
import { createMetricsRegistry } from './metrics-route.js'
import { captureLogger, openTestStore, startTestApp, type TestApp, type TestStore } from './test-support.js'

let t: TestStore
let h: TestApp

beforeAll(async () => {
  t = await openTestStore()
  h = await startTestApp(t)
})
afterAll(async () => {
  await h?.close()
  await t?.cleanup()
})

const errorBody = (code: string) => ({ error: { code, message: expect.any(String) } })

/** A concrete URL for a route pattern: `:params` and wildcards filled with harmless values. */
function concreteUrl(pattern: string): string {
  return pattern.replace(/:[A-Za-z0-9_]+/g, 'x').replace(/\*/g, 'x')
}

function requestFor(route: { method: string; url: string }, token?: string): InjectOptions {
  const withBody = !['GET', 'HEAD', 'DELETE', 'OPTIONS'].includes(route.method)
  return {
    method: route.method as InjectOptions['method'],
    url: concreteUrl(route.url),
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(withBody ? { 'content-type': 'application/json' } : {}),
      // A stream would never end under inject(): a resume point it cannot have issued makes
      // it answer 400 right after the access check, which is what the walk checks.
      ...(route.url.endsWith('/stream') ? { 'last-event-id': 'matrix' } : {}),
    },
    ...(withBody ? { payload: '{}' } : {}),
  }
}

describe('route permissions', () => {
  it('knows every route and each declares a permission', () => {
    const routes = h.app.vigilRoutes
    const urls = routes.map((r) => `${r.method} ${r.url}`)
    expect(urls).toEqual(expect.arrayContaining(['GET /v1/health', 'GET /v1/events', 'GET /metrics', 'POST /v1/events']))
    // Cross-check against fastify's own view, so a route that bypassed onRoute would show.
    for (const r of routes) expect(h.app.hasRoute({ method: r.method as 'GET', url: r.url })).toBe(true)
    const printed = h.app.printRoutes({ commonPrefix: false })
    const printedCount = (printed.match(/\(([A-Z, ]+)\)/g) ?? []).reduce((n, m) => n + m.split(',').length, 0)
    expect(printedCount).toBe(routes.length)
    expect(routes.find((r) => r.url === '/v1/health')?.permission).toBe('public')
    expect(routes.find((r) => r.method === 'POST' && r.url === '/v1/events')?.permission).toBe('source')
  })

  it('refuses to build an app with a route that declares no permission', async () => {
    const { logger } = captureLogger()
    const base = { logger, store: t.store, redis: h.redis, ingest: { routes: async () => {}, status: () => h.ingest.status() } }
    await expect(
      buildApp({ ...base, metrics: createMetricsRegistry(), plugins: [async (app) => void app.get('/v1/oops', async () => 'open')] }),
    ).rejects.toThrow(/GET,HEAD \/v1\/oops declares no valid config\.permission|GET \/v1\/oops declares no valid config\.permission/)
    await expect(
      buildApp({
        ...base,
        metrics: createMetricsRegistry(),
        plugins: [async (app) => void app.get('/v1/typo', { config: { permission: 'events:reed' } }, async () => 'open')],
      }),
    ).rejects.toThrow(/declares no valid config\.permission/)
  })

  it('answers every route × role as the table says', async () => {
    const seen: string[] = []
    for (const route of h.app.vigilRoutes) {
      for (const role of ROLES) {
        const res = await h.app.inject(requestFor(route, h.tokens[role]))
        const label = `${route.method} ${route.url} as ${role} → ${res.statusCode}`
        seen.push(label)
        if (route.permission === 'public') {
          // The access check stays out of public routes; a sign-in route may still refuse by
          // its own rules (no refresh cookie: session_invalid), never as the access check does.
          if ([401, 403].includes(res.statusCode)) expect(res.json().error.code, label).not.toMatch(/^(unauthorized|forbidden)$/)
        } else if (route.permission === 'source') {
          // An operator token opens no source route: the route's own HMAC check answers.
          expect(res.statusCode, label).toBe(401)
        } else if (can(role, route.permission)) {
          expect([401, 403], label).not.toContain(res.statusCode)
        } else {
          expect(res.statusCode, label).toBe(403)
          if (route.method !== 'HEAD') expect(res.json(), label).toEqual(errorBody('forbidden'))
        }
      }
    }
    expect(seen.length).toBe(h.app.vigilRoutes.length * ROLES.length)
  })

  it('answers 401 without a token, with a malformed one, and with an unknown one', async () => {
    for (const route of h.app.vigilRoutes.filter((r) => r.permission !== 'public')) {
      for (const authorization of [undefined, 'Bearer', 'Basic dXNlcjpwYXNz', `Bearer vgt_${'x'.repeat(43)}`, `Token ${h.tokens.admin}`]) {
        const opts = requestFor(route)
        if (authorization) opts.headers = { ...opts.headers, authorization }
        const res = await h.app.inject(opts)
        expect(res.statusCode, `${route.method} ${route.url} with ${authorization}`).toBe(401)
        if (route.permission !== 'source') {
          if (route.method !== 'HEAD') expect(res.json()).toEqual(errorBody('unauthorized'))
          expect(res.headers['www-authenticate']).toMatch(/^Bearer/)
        }
      }
    }
  })

  it('accepts the bearer scheme case-insensitively', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/v1/events', headers: { authorization: `bearer ${h.tokens.viewer}` } })
    expect(res.statusCode).toBe(200)
  })
})

describe('error replies', () => {
  let app: FastifyInstance
  beforeAll(async () => {
    app = await h.extraApp({
      plugins: [
        async (a) => {
          a.get('/test/boom', { config: { permission: 'events:read' } }, async () => {
            throw new Error('connect ECONNREFUSED clickhouse:9000 password=hunter2 at /srv/secret/path.js')
          })
          a.get('/test/throw-string', { config: { permission: 'public' } }, async () => {
            throw 'raw string with password=hunter2'
          })
          a.get(
            '/test/validated',
            { config: { permission: 'public' }, schema: { querystring: { type: 'object', properties: { n: { type: 'integer' } } } } },
            async () => ({ ok: true }),
          )
          a.post('/test/echo', { config: { permission: 'public' }, bodyLimit: 64 }, async (req) => ({ got: req.body }))
          a.get('/test/items/:id', { config: { permission: 'public' } }, async (req) => ({ id: (req.params as { id: string }).id }))
        },
      ],
    })
  })

  it('answers a bug with a bare internal_error and logs it masked', async () => {
    const before = h.logLines.length
    const res = await app.inject({ method: 'GET', url: '/test/boom', headers: { authorization: `Bearer ${h.tokens.viewer}` } })
    expect(res.statusCode).toBe(500)
    expect(res.json()).toEqual({ error: { code: 'internal_error', message: expect.stringMatching(/^Internal error: error id err_[0-9a-f]{16}$/) } })
    expect(res.body).not.toMatch(/hunter2|ECONNREFUSED|srv|stack/)
    const logged = h.logLines.slice(before).join('')
    expect(logged).toContain('ECONNREFUSED')
    // The id in the answer finds the log line with the cause.
    expect(logged).toContain(`"error_id":"${(res.json() as { error: { message: string } }).error.message.split(' ').pop()}"`)
    expect(logged).not.toContain('hunter2')
  })

  it('answers a thrown non-Error the same way', async () => {
    const res = await app.inject({ method: 'GET', url: '/test/throw-string' })
    expect(res.statusCode).toBe(500)
    expect(res.json()).toEqual({ error: { code: 'internal_error', message: expect.stringMatching(/^Internal error: error id err_[0-9a-f]{16}$/) } })
  })

  it('maps validation errors to bad_request', async () => {
    const res = await app.inject({ method: 'GET', url: '/test/validated?n=abc' })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toEqual(errorBody('bad_request'))
    expect(res.json().error.message).toContain('querystring.n')
  })

  it('maps fastify body errors to the registry', async () => {
    const bad = await app.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': 'application/json' }, payload: '{"a":' })
    expect([bad.statusCode, bad.json()]).toEqual([400, errorBody('malformed_body')])
    const empty = await app.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': 'application/json' }, payload: '' })
    expect([empty.statusCode, empty.json()]).toEqual([400, errorBody('malformed_body')])
    const big = await app.inject({
      method: 'POST',
      url: '/test/echo',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ a: 'x'.repeat(100) }),
    })
    expect([big.statusCode, big.json()]).toEqual([413, errorBody('payload_too_large')])
    const xml = await app.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': 'application/xml' }, payload: '<a/>' })
    expect([xml.statusCode, xml.json()]).toEqual([415, errorBody('unsupported_media_type')])
    const ok = await app.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': 'application/json' }, payload: '{"a":1}' })
    expect(ok.json()).toEqual({ got: { a: 1 } })
  })

  it('answers unknown routes and malformed URLs in the same shape', async () => {
    const missing = await app.inject({ method: 'GET', url: '/v1/nope' })
    expect([missing.statusCode, missing.json()]).toEqual([404, errorBody('not_found')])
    const wrongMethod = await app.inject({ method: 'DELETE', url: '/v1/health' })
    expect([wrongMethod.statusCode, wrongMethod.json()]).toEqual([405, errorBody('method_not_allowed')])
    expect(wrongMethod.headers.allow).toBe('GET, HEAD')
    const wrongOnParam = await app.inject({ method: 'PUT', url: '/test/items/42?x=1' })
    expect([wrongOnParam.statusCode, wrongOnParam.headers.allow]).toEqual([405, 'GET, HEAD'])
    const deeper = await app.inject({ method: 'GET', url: '/test/items/42/more' })
    expect(deeper.statusCode).toBe(404)
    const badUrl = await app.inject({ method: 'GET', url: '/test/items/%E0%A4%A' })
    expect([badUrl.statusCode, badUrl.json()]).toEqual([400, errorBody('bad_request')])
  })

  it('never logs bodies, bearer tokens or signatures', async () => {
    const before = h.logLines.length
    await h.app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { 'content-type': 'application/json', 'vigil-source': 'nope', 'vigil-timestamp': '1', 'vigil-signature': 'v1=' + 'ab'.repeat(32) },
      payload: '{"body_marker":"zebra-quokka"}',
    })
    await h.app.inject({ method: 'GET', url: '/v1/events?account_id=acct-7', headers: { authorization: `Bearer ${h.tokens.admin}` } })
    await app.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': 'application/json' }, payload: '{"body_marker":"zebra-quokka"}' })
    const logged = h.logLines.slice(before).join('')
    expect(logged).toContain('"route":"/v1/events"')
    expect(logged).not.toContain('zebra-quokka')
    expect(logged).not.toContain(h.tokens.admin)
    expect(logged).not.toContain('ab'.repeat(32))
    expect(logged).not.toContain('acct-7')
  })
})

describe('GET /v1/health', () => {
  it('is open and reports ok when everything is up', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/v1/health' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ status: 'ok', clickhouse: 'ok', redis: 'ok', ingest: { storage: 'ok', spoolBytes: 0 } })
    expect(res.headers['cache-control']).toBe('no-store')
  })

  it('stays 200 but says degraded when Redis is down or ingest is spooling', async () => {
    const downRedis = await h.extraApp({ redis: { ping: () => Promise.reject(new Error('ECONNREFUSED')) } })
    const a = await downRedis.inject({ method: 'GET', url: '/v1/health' })
    expect(a.statusCode).toBe(200)
    expect(a.json()).toMatchObject({ status: 'degraded', clickhouse: 'ok', redis: 'down' })

    const hungRedis = await h.extraApp({ redis: { ping: () => new Promise(() => {}) } })
    const started = Date.now()
    const b = await hungRedis.inject({ method: 'GET', url: '/v1/health' })
    expect(Date.now() - started).toBeLessThan(3_000)
    expect(b.json()).toMatchObject({ status: 'degraded', redis: 'down' })

    const spooling = await h.extraApp({ ingest: { routes: async () => {}, status: () => ({ storage: 'spooling', spoolBytes: 4096 }) } })
    const c = await spooling.inject({ method: 'GET', url: '/v1/health' })
    expect(c.json()).toEqual({ status: 'degraded', clickhouse: 'ok', redis: 'ok', ingest: { storage: 'spooling', spoolBytes: 4096 } })
  })
})

describe('GET /metrics', () => {
  it('serves default and ingest metrics as Prometheus text', async () => {
    await h.app.inject({ method: 'GET', url: '/v1/health' })
    const res = await h.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${h.tokens.viewer}` } })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/plain/)
    expect(res.body).toContain('vigil_process_cpu_user_seconds_total')
    expect(res.body).toContain('vigil_ingest_requests_total')
    expect(res.body).toMatch(/vigil_http_requests_total\{method="GET",route="\/v1\/health",status="200"\} \d+/)
  })

  it('is closed to regulators', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${h.tokens.regulator}` } })
    expect(res.statusCode).toBe(403)
  })
})

// Keep the role list honest: a role added to the table must be exercised above.
it('exercises every role', () => {
  expect(Object.keys(h.tokens).sort()).toEqual([...ROLES].sort() as Role[])
})
