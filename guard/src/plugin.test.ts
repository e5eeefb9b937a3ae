import { randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import { Redis } from 'ioredis'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { MemoryKeyStore } from './key-store.js'
import { vigilGuard, type VigilGuardOptions } from './plugin.js'
import { REFUSALS } from './refusals.js'
import { signRequest } from './request-signing.js'
import type { ActiveKillSwitch, ControlView, GuardEvent, RefusalReason, TradeContext } from './seams.js'

const T0 = Date.parse('2026-11-24T09:30:00.000Z')
const SECRET = 'k1-secret-Zq8vW3xY5tR7uP9sA2dF4gH6'
const SECRET_2 = 'k2-secret-Mn4bV6cX8zL1kJ3hG5fD7sA9'
const OTHER = 'wrong-secret-0000000000000000000'

/** A fixed control state, the way the control client would present it. */
function fixedControl(state: { revoked?: string[]; killswitches?: ActiveKillSwitch[]; degraded?: boolean }): ControlView {
  const field: Record<string, (c: TradeContext) => string | undefined> = {
    global: () => '*',
    source: (c) => c.source,
    account: (c) => c.account_id,
    api_key: (c) => c.api_key_id,
    symbol: (c) => c.symbol,
    venue: (c) => c.venue,
  }
  return {
    isRevoked: (id) => (state.revoked ?? []).includes(id),
    killSwitchFor: (ctx) => (state.killswitches ?? []).find((k) => field[k.scope.type]?.(ctx) === k.scope.id),
    degraded: () => state.degraded === true,
    version: () => 1,
  }
}

const ks = (type: ActiveKillSwitch['scope']['type'], id: string): ActiveKillSwitch => ({ id: `ks-${type}`, scope: { type, id }, tripped_at: '2026-11-24T09:00:00Z', reason: 'test' })

interface Harness {
  app: FastifyInstance
  events: GuardEvent[]
  logs: string[]
  store: MemoryKeyStore
  clock: { now: number }
  killSwitchCalls: [ActiveKillSwitch, TradeContext][]
  send(opts: { method?: string; path?: string; body?: string; keyId?: string; secret?: string; ts?: number; nonce?: string; ip?: string; headers?: Record<string, string> }): Promise<LightMyRequestResponse>
}

const apps: FastifyInstance[] = []
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()))
})

async function harness(over: Partial<VigilGuardOptions> & { keys?: MemoryKeyStore; bodyLimit?: number } = {}): Promise<Harness> {
  const events: GuardEvent[] = []
  const logs: string[] = []
  const clock = { now: T0 }
  const killSwitchCalls: [ActiveKillSwitch, TradeContext][] = []
  const stream = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk))
      cb()
    },
  })
  const app = Fastify({ logger: { level: 'trace', stream }, bodyLimit: over.bodyLimit ?? 1024 })
  apps.push(app)
  const store = over.keys ?? new MemoryKeyStore({ encryptionKey: randomBytes(32), now: () => clock.now })
  if (!over.keys) {
    store.add({ id: 'k1', account_id: 'acc-1', user_id: 'u-1', scopes: ['orders:read', 'orders:write'], tier: 'retail' }, SECRET)
    store.add({ id: 'k2', account_id: 'acc-2', scopes: ['orders:read'], tier: 'pro', ip_allowlist: ['10.0.0.0/8', '2001:db8:abcd::/48'] }, SECRET_2)
  }
  await app.register(vigilGuard, {
    keys: store,
    sink: { emit: (e) => events.push(e) },
    source: 'acme-api',
    limits: { retail: { perSecond: 3, perDay: 1000 }, pro: { perSecond: 50, perDay: 100_000 } },
    lockout: { maxFailures: 3, windowMs: 60_000, lockMs: 60_000 },
    lostChannelPolicy: 'fail_open',
    onKillSwitch: (k, c) => killSwitchCalls.push([k, c]),
    now: () => clock.now,
    ...over,
  })
  app.get('/health', async () => ({ ok: true }))
  app.get('/v1/orders', { config: { guard: { scope: 'orders:read' } } }, async (req) => ({ key: req.guard?.key?.id }))
  app.post(
    '/v1/orders',
    {
      config: {
        guard: {
          scope: 'orders:write',
          action: 'order.new',
          order: (req) => {
            const b = req.body as { symbol?: string; side?: 'buy' | 'sell'; qty?: number; venue?: string }
            return { symbol: b.symbol, side: b.side, qty: b.qty, venue: b.venue }
          },
        },
      },
      schema: { body: { type: 'object', required: ['symbol'], properties: { symbol: { type: 'string' } } } },
    },
    async (req, reply) => {
      const b = req.body as { qty?: number }
      if ((b.qty ?? 0) > 1_000_000) {
        req.guard?.annotate({ reason: 'risk_rejected', order: { id: 'ord-rejected' } })
        return reply.code(422).send({ error: { code: 'risk_rejected', message: 'too big' } })
      }
      req.guard?.annotate({ order: { id: 'ord-1' } })
      return reply.code(201).send({ id: 'ord-1' })
    },
  )
  app.post('/v1/withdrawals', { config: { guard: { scope: 'funds:withdraw', action: 'funds.withdraw' } } }, async () => ({ ok: true }))
  app.get('/v1/slow', { config: { guard: { scope: 'orders:read' } } }, async () => {
    await new Promise((r) => setTimeout(r, 300))
    return { ok: true }
  })
  app.get('/v1/boom', { config: { guard: { scope: 'orders:read' } } }, async () => {
    throw new Error('handler failed')
  })
  await app.ready()
  return {
    app,
    events,
    logs,
    store,
    clock,
    killSwitchCalls,
    send(o) {
      const method = o.method ?? 'GET'
      const path = o.path ?? '/v1/orders'
      const signed = signRequest({
        keyId: o.keyId ?? 'k1',
        secret: o.secret ?? SECRET,
        method,
        path,
        ...(o.body !== undefined ? { body: o.body } : {}),
        timestamp: o.ts ?? Math.floor(clock.now / 1000),
        ...(o.nonce ? { nonce: o.nonce } : {}),
      })
      return app.inject({
        method: method as 'GET',
        url: path,
        headers: { ...signed, 'user-agent': 'acme-client/1.0', ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}), ...o.headers },
        ...(o.body !== undefined ? { payload: o.body } : {}),
        remoteAddress: o.ip ?? '10.1.2.3',
      })
    },
  }
}

function expectRefused(res: { statusCode: number; json(): unknown }, reason: RefusalReason) {
  expect(res.statusCode).toBe(REFUSALS[reason].status)
  expect((res.json() as { error: { code: string } }).error.code).toBe(reason)
}

const order = JSON.stringify({ symbol: 'AAPL', side: 'buy', qty: 10, venue: 'XNAS' })

describe('vigilGuard: a good request', () => {
  it('passes a signed request and emits one success event with the request fields', async () => {
    const h = await harness()
    const res = await h.send({ method: 'POST', path: '/v1/orders', body: order })
    expect(res.statusCode).toBe(201)
    expect(h.events).toHaveLength(1)
    const e = h.events[0] as GuardEvent
    expect(e).toMatchObject({
      action: 'order.new',
      outcome: 'success',
      api_key_id: 'k1',
      account_id: 'acc-1',
      user_id: 'u-1',
      client_ip: '10.1.2.3',
      user_agent: 'acme-client/1.0',
      scopes: ['orders:read', 'orders:write'],
      http: { method: 'POST', path: '/v1/orders', status: 201, bytes_in: Buffer.byteLength(order) },
      order: { id: 'ord-1', symbol: 'AAPL', side: 'buy', qty: 10, venue: 'XNAS' },
    })
    expect(e.reason).toBeUndefined()
    expect(e.ts).toBe('2026-11-24T09:30:00.000000Z')
    expect(typeof e.http?.latency_ms).toBe('number')
    expect(e.id.length).toBeGreaterThan(0)
  })

  it('signs the query string too, and gives the handler the authenticated key', async () => {
    const h = await harness()
    const res = await h.send({ path: '/v1/orders?status=open&limit=5' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ key: 'k1' })
    expect(h.events[0]?.http?.path).toBe('/v1/orders?status=open&limit=5')
  })

  it('leaves unguarded routes and 404s alone: no check, no event', async () => {
    const h = await harness()
    expect((await h.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200)
    expect((await h.app.inject({ method: 'GET', url: '/nowhere' })).statusCode).toBe(404)
    expect((await h.send({ path: '/nowhere' })).statusCode).toBe(404)
    expect(h.events).toEqual([])
  })

  it('records a handler failure as one error event', async () => {
    const h = await harness()
    const res = await h.send({ path: '/v1/boom' })
    expect(res.statusCode).toBe(500)
    expect(h.events).toHaveLength(1)
    expect(h.events[0]).toMatchObject({ outcome: 'error', reason: 'internal_error', http: { status: 500 } })
  })

  it('takes a reason the handler annotates (risk_rejected)', async () => {
    const h = await harness()
    const res = await h.send({ method: 'POST', path: '/v1/orders', body: JSON.stringify({ symbol: 'AAPL', qty: 5_000_000 }) })
    expect(res.statusCode).toBe(422)
    expect(h.events).toHaveLength(1)
    expect(h.events[0]).toMatchObject({ outcome: 'failure', reason: 'risk_rejected', order: { id: 'ord-rejected', symbol: 'AAPL' } })
  })

  it('authenticates before schema validation: a forged request learns nothing about the schema', async () => {
    const h = await harness()
    expectRefused(await h.send({ method: 'POST', path: '/v1/orders', body: '{}', secret: OTHER }), 'bad_signature')
    const res = await h.send({ method: 'POST', path: '/v1/orders', body: '{}' })
    expect(res.statusCode).toBe(400)
    expect(h.events[1]).toMatchObject({ outcome: 'failure', reason: 'invalid_request', api_key_id: 'k1' })
  })
})

describe('vigilGuard: every refusal reason, one event each', () => {
  it('bad_signature when the signing headers are missing', async () => {
    const h = await harness()
    const res = await h.app.inject({ method: 'GET', url: '/v1/orders' })
    expectRefused(res, 'bad_signature')
    expect(h.events).toHaveLength(1)
    expect(h.events[0]).toMatchObject({ outcome: 'denied', reason: 'bad_signature', attrs: { refusal_detail: 'missing_credentials' } })
    expect(h.events[0]?.api_key_id).toBeUndefined()
  })

  it('invalid_request when a signing header is malformed or hostile', async () => {
    const h = await harness()
    const good = signRequest({ keyId: 'k1', secret: SECRET, method: 'GET', path: '/v1/orders', timestamp: T0 / 1000 })
    for (const headers of [
      { ...good, 'x-signature': 'v1=zz' },
      { ...good, 'x-timestamp': '1e9' },
      { ...good, 'x-nonce': '../../etc/passwd' },
      { ...good, 'x-key-id': "k1' OR 1=1 --" },
      { ...good, 'x-signature': 'v1=' + 'a'.repeat(5000) },
    ]) {
      expectRefused(await h.app.inject({ method: 'GET', url: '/v1/orders', headers }), 'invalid_request')
    }
    expect(h.events).toHaveLength(5)
    expect(h.events.every((e) => e.outcome === 'denied' && e.reason === 'invalid_request')).toBe(true)
  })

  it('unknown_key, with the claimed key id in the event', async () => {
    const h = await harness()
    expectRefused(await h.send({ keyId: 'nobody' }), 'unknown_key')
    expect(h.events).toEqual([expect.objectContaining({ reason: 'unknown_key', api_key_id: 'nobody', outcome: 'denied' })])
    expect(h.events[0]?.account_id).toBeUndefined()
  })

  it('expired_key from the expiry time on', async () => {
    const h = await harness()
    h.store.expire('k1', new Date(T0 + 1000))
    expect((await h.send({})).statusCode).toBe(200)
    h.clock.now = T0 + 1000
    expectRefused(await h.send({}), 'expired_key')
    expect(h.events.map((e) => e.reason)).toEqual([undefined, 'expired_key'])
  })

  it('bad_signature for a wrong secret, a tampered body, path, method or timestamp', async () => {
    const h = await harness({ lockout: { maxFailures: 100, windowMs: 60_000, lockMs: 60_000 } })
    expectRefused(await h.send({ secret: OTHER }), 'bad_signature')
    const signed = signRequest({ keyId: 'k1', secret: SECRET, method: 'POST', path: '/v1/orders', body: order, timestamp: T0 / 1000 })
    const base = { method: 'POST' as const, url: '/v1/orders', headers: { ...signed, 'content-type': 'application/json' } }
    expectRefused(await h.app.inject({ ...base, payload: order.replace('10', '1000') }), 'bad_signature')
    expectRefused(await h.app.inject({ ...base, url: '/v1/withdrawals', payload: order }), 'bad_signature')
    expectRefused(await h.app.inject({ method: 'GET', url: '/v1/orders', headers: signed }), 'bad_signature')
    expectRefused(await h.app.inject({ ...base, headers: { ...base.headers, 'x-timestamp': String(T0 / 1000 + 1) }, payload: order }), 'bad_signature')
    expect(h.events.filter((e) => e.reason === 'bad_signature')).toHaveLength(5)
  })

  it('bad_signature (stale_timestamp) outside the window, either way', async () => {
    const h = await harness()
    expectRefused(await h.send({ ts: T0 / 1000 - 301 }), 'bad_signature')
    expectRefused(await h.send({ ts: T0 / 1000 + 301 }), 'bad_signature')
    expect((await h.send({ ts: T0 / 1000 - 299 })).statusCode).toBe(200)
    expect(h.events.map((e) => e.attrs?.refusal_detail)).toEqual(['stale_timestamp', 'stale_timestamp', undefined])
  })

  it('bad_signature (replayed_nonce) for a replay of a good request', async () => {
    const h = await harness()
    const first = await h.send({ nonce: 'replay-nonce-000001' })
    expect(first.statusCode).toBe(200)
    const again = await h.send({ nonce: 'replay-nonce-000001' })
    expectRefused(again, 'bad_signature')
    expect(h.events[1]?.attrs?.refusal_detail).toBe('replayed_nonce')
  })

  it('a forged request does not burn the nonce of the real one', async () => {
    const h = await harness()
    expectRefused(await h.send({ secret: OTHER, nonce: 'shared-nonce-0000001' }), 'bad_signature')
    expect((await h.send({ nonce: 'shared-nonce-0000001' })).statusCode).toBe(200)
  })

  it('ip_not_allowed outside the key allowlist, IPv4 and IPv6 (including IPv4-mapped)', async () => {
    const h = await harness()
    const k2 = { keyId: 'k2', secret: SECRET_2 }
    expect((await h.send({ ...k2, ip: '10.200.0.1' })).statusCode).toBe(200)
    expect((await h.send({ ...k2, ip: '::ffff:10.9.9.9' })).statusCode).toBe(200)
    expect((await h.send({ ...k2, ip: '2001:db8:abcd:12::7' })).statusCode).toBe(200)
    expectRefused(await h.send({ ...k2, ip: '192.0.2.1' }), 'ip_not_allowed')
    expectRefused(await h.send({ ...k2, ip: '2001:db8:abce::1' }), 'ip_not_allowed')
    expect(h.events.map((e) => e.reason)).toEqual([undefined, undefined, undefined, 'ip_not_allowed', 'ip_not_allowed'])
    expect(h.events[4]).toMatchObject({ client_ip: '2001:db8:abce::1', api_key_id: 'k2' })
  })

  it('revoked_key when Vigil has revoked the key', async () => {
    const h = await harness({ control: fixedControl({ revoked: ['k1'] }) })
    expectRefused(await h.send({}), 'revoked_key')
    expect((await h.send({ keyId: 'k2', secret: SECRET_2 })).statusCode).toBe(200)
    expect(h.events.map((e) => e.reason)).toEqual(['revoked_key', undefined])
  })

  it('scope_denied for an operation the key does not hold', async () => {
    const h = await harness()
    expectRefused(await h.send({ method: 'POST', path: '/v1/withdrawals', body: '{}' }), 'scope_denied')
    expect(h.events[0]).toMatchObject({ action: 'funds.withdraw', reason: 'scope_denied', attrs: { required_scope: 'funds:withdraw' } })
  })

  it('rate_limited with Retry-After past the tier limit, per tier', async () => {
    const g = await harness()
    for (let i = 0; i < 3; i++) expect((await g.send({})).statusCode).toBe(200)
    const res = await g.send({})
    expectRefused(res, 'rate_limited')
    expect(res.headers['retry-after']).toBe('1')
    expect(g.events[3]).toMatchObject({ reason: 'rate_limited', attrs: { rate_window: 'second', tier: 'retail' } })
    // The pro tier of k2 is not limited at 4 a second.
    for (let i = 0; i < 4; i++) expect((await g.send({ keyId: 'k2', secret: SECRET_2 })).statusCode).toBe(200)
    g.clock.now += 1000
    expect((await g.send({})).statusCode).toBe(200)
  })

  it('forged requests never spend a key budget', async () => {
    const h = await harness({ lockout: { maxFailures: 1000, windowMs: 60_000, lockMs: 60_000 } })
    for (let i = 0; i < 10; i++) expectRefused(await h.send({ secret: OTHER }), 'bad_signature')
    for (let i = 0; i < 3; i++) expect((await h.send({})).statusCode).toBe(200)
  })

  it('kill_switch for new orders in scope, with the onKillSwitch hook; reads and other symbols pass', async () => {
    const h = await harness({ control: fixedControl({ killswitches: [ks('symbol', 'AAPL')] }) })
    expectRefused(await h.send({ method: 'POST', path: '/v1/orders', body: order }), 'kill_switch')
    expect(h.killSwitchCalls).toEqual([[ks('symbol', 'AAPL'), { source: 'acme-api', account_id: 'acc-1', api_key_id: 'k1', symbol: 'AAPL', venue: 'XNAS' }]])
    expect((await h.send({ method: 'POST', path: '/v1/orders', body: JSON.stringify({ symbol: 'MSFT' }) })).statusCode).toBe(201)
    expect((await h.send({})).statusCode).toBe(200)
    expect(h.events[0]).toMatchObject({ action: 'order.new', outcome: 'denied', reason: 'kill_switch', order: { symbol: 'AAPL' }, attrs: { kill_switch_id: 'ks-symbol' } })
  })

  it('kill_switch by account, key, source and global scope', async () => {
    for (const k of [ks('account', 'acc-1'), ks('api_key', 'k1'), ks('source', 'acme-api'), ks('global', '*')]) {
      const h = await harness({ control: fixedControl({ killswitches: [k] }) })
      expectRefused(await h.send({ method: 'POST', path: '/v1/orders', body: order }), 'kill_switch')
    }
  })

  it('lost channel: fail_closed refuses new orders with kill_switch, fail_open lets them through', async () => {
    const closed = await harness({ control: fixedControl({ degraded: true }), lostChannelPolicy: 'fail_closed' })
    const res = await closed.send({ method: 'POST', path: '/v1/orders', body: order })
    expectRefused(res, 'kill_switch')
    expect(closed.killSwitchCalls[0]?.[0].id).toBe('lost-channel')
    expect(closed.events[0]?.attrs?.refusal_detail).toBe('lost_channel')
    expect((await closed.send({})).statusCode).toBe(200)
    const open = await harness({ control: fixedControl({ degraded: true, revoked: ['k2'] }), lostChannelPolicy: 'fail_open' })
    expect((await open.send({ method: 'POST', path: '/v1/orders', body: order })).statusCode).toBe(201)
    expectRefused(await open.send({ keyId: 'k2', secret: SECRET_2 }), 'revoked_key')
  })

  it('invalid_request for an oversized body, still one event and no body read for a forged key', async () => {
    const h = await harness({ bodyLimit: 64 })
    const big = JSON.stringify({ symbol: 'A'.repeat(200) })
    const res = await h.send({ method: 'POST', path: '/v1/orders', body: big })
    expect(res.statusCode).toBe(413)
    expect(h.events).toHaveLength(1)
    expect(h.events[0]).toMatchObject({ outcome: 'failure', reason: 'invalid_request', http: { status: 413 } })
    // An unknown key is refused before its body is read: 401, not 413.
    expectRefused(await h.send({ method: 'POST', path: '/v1/orders', body: big, keyId: 'forged' }), 'unknown_key')
    expect(h.events).toHaveLength(2)
  })
})

describe('vigilGuard: lockout', () => {
  it('locks a key after repeated bad signatures, even against a good one, and emits auth.lockout once', async () => {
    const h = await harness()
    for (let i = 0; i < 3; i++) expectRefused(await h.send({ secret: OTHER }), 'bad_signature')
    const res = await h.send({})
    expectRefused(res, 'locked_out')
    expect(Number(res.headers['retry-after'])).toBe(60)
    expectRefused(await h.send({ secret: OTHER }), 'locked_out')
    const lockouts = h.events.filter((e) => e.action === 'auth.lockout')
    expect(lockouts).toHaveLength(1)
    expect(lockouts[0]).toMatchObject({ outcome: 'denied', reason: 'locked_out', api_key_id: 'k1', account_id: 'acc-1', attrs: { locked: 'api_key' } })
    // 3 refusals + 1 lockout + 2 locked_out: one event per request plus the lifecycle event.
    expect(h.events.filter((e) => e.action !== 'auth.lockout')).toHaveLength(5)
    // Another key is unaffected, and the lock ends.
    expect((await h.send({ keyId: 'k2', secret: SECRET_2 })).statusCode).toBe(200)
    h.clock.now += 60_001
    expect((await h.send({})).statusCode).toBe(200)
  })

  it('a good signature clears the failure count', async () => {
    const h = await harness()
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 2; i++) expectRefused(await h.send({ secret: OTHER }), 'bad_signature')
      h.clock.now += 1000
      expect((await h.send({})).statusCode).toBe(200)
    }
    expect(h.events.some((e) => e.action === 'auth.lockout')).toBe(false)
  })

  it('locks an address that tries unknown keys, for every key', async () => {
    const h = await harness()
    for (let i = 0; i < 3; i++) expectRefused(await h.send({ keyId: `guess-${i}`, ip: '198.51.100.7' }), 'unknown_key')
    expectRefused(await h.send({ ip: '198.51.100.7' }), 'locked_out')
    expect((await h.send({ ip: '10.0.0.1' })).statusCode).toBe(200)
    const lockouts = h.events.filter((e) => e.action === 'auth.lockout')
    expect(lockouts).toHaveLength(1)
    expect(lockouts[0]).toMatchObject({ client_ip: '198.51.100.7', attrs: { locked: 'client_ip' } })
  })
})

describe('vigilGuard: keys', () => {
  it('accepts both secrets during a rotation overlap, only the new one after', async () => {
    const h = await harness()
    const fresh = 'k1-rotated-secret-Yh7Tg5Rf3Ed1Ws9Qa'
    h.store.rotate('k1', fresh, { overlapMs: 30_000 })
    expect((await h.send({})).statusCode).toBe(200)
    expect((await h.send({ secret: fresh })).statusCode).toBe(200)
    h.clock.now += 30_001
    expectRefused(await h.send({}), 'bad_signature')
    expect((await h.send({ secret: fresh })).statusCode).toBe(200)
  })

  it('never puts a secret or a signature into an event or a log line', async () => {
    const h = await harness({ control: fixedControl({ revoked: ['k2'] }) })
    await h.send({})
    await h.send({ secret: OTHER })
    await h.send({ keyId: 'k2', secret: SECRET_2 })
    await h.send({ method: 'POST', path: '/v1/orders', body: order })
    await h.send({ path: '/v1/boom' })
    const everything = JSON.stringify(h.events) + h.logs.join('')
    expect(h.logs.length).toBeGreaterThan(0)
    for (const s of [SECRET, SECRET_2, OTHER]) expect(everything).not.toContain(s)
    expect(everything).not.toMatch(/v1=[0-9a-f]{64}/)
  })
})

describe('vigilGuard: a client that goes away', () => {
  it('still produces exactly one event, status 499, when the client aborts mid-request', async () => {
    const h = await harness()
    const address = await h.app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = new URL(address)
    const headers = signRequest({ keyId: 'k1', secret: SECRET, method: 'GET', path: '/v1/slow', timestamp: T0 / 1000 })
    const socket = connect(Number(port), '127.0.0.1')
    await new Promise((r) => socket.once('connect', r))
    socket.write(`GET /v1/slow HTTP/1.1\r\nHost: x\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`)
    await new Promise((r) => setTimeout(r, 100))
    socket.destroy()
    // Past the handler's 300 ms, so a second (onResponse) event would have come by now.
    await new Promise((r) => setTimeout(r, 500))
    expect(h.events).toHaveLength(1)
    expect(h.events[0]).toMatchObject({ api_key_id: 'k1', http: { path: '/v1/slow', status: 499 }, attrs: { aborted: 'true' } })
  })
})

describe('vigilGuard: a failing key store', () => {
  it('answers 500 with one error event, and the store error does not reach the client', async () => {
    const broken = new MemoryKeyStore({ encryptionKey: randomBytes(32) })
    broken.get = async () => {
      throw new Error('db password=hunter2 unreachable')
    }
    const h = await harness({ keys: broken })
    const res = await h.send({})
    expect(res.statusCode).toBe(500)
    expect(h.events).toHaveLength(1)
    expect(h.events[0]).toMatchObject({ outcome: 'error', reason: 'internal_error', api_key_id: 'k1' })
    expect(JSON.stringify(h.events)).not.toContain('hunter2')
    expect(res.body).not.toContain('hunter2')
    expect(res.json()).toMatchObject({ error: { code: 'internal_error' } })
  })
})

describe('vigilGuard: options', () => {
  it('refuses to start without a lost-channel policy or with bad limits', async () => {
    for (const bad of [{ lostChannelPolicy: undefined }, { lostChannelPolicy: 'maybe' }, { limits: {} }, { limits: { retail: { perSecond: 0, perDay: 1 } } }]) {
      const app = Fastify()
      apps.push(app)
      const store = new MemoryKeyStore({ encryptionKey: randomBytes(32) })
      const opts = { keys: store, sink: { emit: () => undefined }, source: 's', limits: { retail: { perSecond: 1, perDay: 1 } }, lostChannelPolicy: 'fail_open', ...bad }
      await expect(app.register(vigilGuard, opts as VigilGuardOptions).ready()).rejects.toThrow(/vigilGuard/)
    }
  })
})

describe('vigilGuard with Redis: two instances, one state', () => {
  const redis = new Redis(process.env.REDIS_URL as string)
  afterAll(() => redis.quit())

  it('shares the rate limit, the replay cache and the lockout across instances', async () => {
    const store = new MemoryKeyStore({ encryptionKey: randomBytes(32), now: () => T0 })
    store.add({ id: 'k1', account_id: 'acc-1', scopes: ['orders:read'], tier: 'retail' }, SECRET)
    const redisPrefix = `guard-test:${randomBytes(6).toString('hex')}:`
    const a = await harness({ keys: store, redis, redisPrefix })
    const b = await harness({ keys: store, redis, redisPrefix })
    expect((await a.send({})).statusCode).toBe(200)
    expect((await b.send({})).statusCode).toBe(200)
    expect((await a.send({ nonce: 'cross-instance-nonce1' })).statusCode).toBe(200)
    expectRefused(await b.send({ nonce: 'cross-instance-nonce1' }), 'bad_signature')
    expectRefused(await b.send({}), 'rate_limited')
    expectRefused(await a.send({}), 'rate_limited')

    for (let i = 0; i < 2; i++) expectRefused(await a.send({ secret: OTHER }), 'bad_signature')
    expectRefused(await b.send({ secret: OTHER }), 'bad_signature')
    expectRefused(await a.send({}), 'locked_out')
    const lockouts = [...a.events, ...b.events].filter((e) => e.action === 'auth.lockout')
    expect(lockouts).toHaveLength(1)
  })

  it('keeps serving from memory when Redis is down', async () => {
    const dead = new Redis({ port: 1, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    dead.on('error', () => undefined)
    const h = await harness({ redis: dead, redisTimeoutMs: 100 })
    expect((await h.send({ nonce: 'redis-down-nonce-001' })).statusCode).toBe(200)
    expectRefused(await h.send({ nonce: 'redis-down-nonce-001' }), 'bad_signature')
    expect(h.logs.some((l) => l.includes('Redis failed'))).toBe(true)
    dead.disconnect()
  })
})
