import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { storeFixtureEvents } from '@vigil/detect'
import { openTestStore, startTestApp, type TestApp, type TestStore } from './test-support.js'
import { bucketFor, MAX_BUCKETS } from './key-explorer.js'

let t: TestStore
let h: TestApp
const MIN = 60_000
const HOUR = 60 * MIN
const WEEK = 7 * 24 * HOUR
const KEY = 'ak_explore_1'
// Six hours ending at the last full hour: 2-minute buckets.
const T0 = Math.floor(Date.now() / HOUR) * HOUR - 6 * HOUR
const FROM = new Date(T0).toISOString()
const TO = new Date(T0 + 6 * HOUR).toISOString()
const iso = (ms: number) => new Date(ms).toISOString()

let n = 0
const ev = (atMs: number, over: Record<string, unknown>) => ({
  id: `kx${++n}`,
  ts: iso(atMs),
  received_at: iso(atMs),
  source: 'gw',
  action: 'api.request',
  outcome: 'success',
  api_key_id: KEY,
  account_id: 'ACC-77',
  ...over,
})
const order = (atMs: number, over: Record<string, unknown> = {}) =>
  ev(atMs, { action: 'order.new', order: { symbol: 'SAP', side: 'buy', type: 'limit', qty: 10, price: 100, notional: 1000, currency: 'EUR' }, ...over })
const berlin = { country: 'DE', city: 'Berlin', lat: 52.52, lon: 13.4 }

beforeAll(async () => {
  t = await openTestStore()
  h = await startTestApp(t)
  const events: Array<Record<string, unknown>> = []
  // Four weeks of history in the twin of the bucket at T0+10m: 3, 4, 5, 6 orders (newest first).
  for (let k = 1; k <= 4; k++) for (let i = 0; i < 2 + k; i++) events.push(order(T0 + 10 * MIN - k * WEEK + i * 1000))
  // The period: 8 orders from Berlin, 3 refused requests from a US address, 2 reads carrying scopes.
  for (let i = 0; i < 8; i++) events.push(order(T0 + 10 * MIN + i * 1000, { client_ip: '203.0.113.5', geo: berlin }))
  for (let i = 0; i < 3; i++) {
    events.push(ev(T0 + 30 * MIN + i * 1000, { outcome: 'failure', reason: 'bad_signature', client_ip: '198.51.100.7', geo: { country: 'US' }, http: { method: 'POST', path: '/v1/orders', status: 401 } }))
  }
  for (let i = 0; i < 2; i++) events.push(ev(T0 + HOUR + i * 1000, { scopes: ['trade', 'read'], client_ip: '203.0.113.5', geo: berlin }))
  // Before the period: in no list, and in no bucket.
  events.push(ev(T0 - HOUR, { outcome: 'denied', reason: 'scope_denied', client_ip: '192.0.2.1', scopes: ['old'] }))
  // Another key and account.
  events.push(ev(T0 + 20 * MIN, { api_key_id: 'ak_other', account_id: 'ACC-99' }))
  await storeFixtureEvents(t.store, events)
})
afterAll(async () => {
  await h?.close()
  await t?.cleanup()
})

const as = (role: keyof TestApp['tokens']) => ({ authorization: `Bearer ${h.tokens[role]}` })
const get = (url: string, role: keyof TestApp['tokens'] = 'viewer') => h.app.inject({ url, headers: as(role) })
const code = (r: { json(): unknown }) => (r.json() as { error?: { code: string } }).error?.code

interface Activity {
  api_key_id: string
  account_ids: string[]
  bucket_ms: number
  buckets: Array<{ t: string; requests: number; orders: number; notional: number; failures: number; baseline: { low: number; median: number; high: number } | null }>
  locations: Array<{ country: string; city: string | null; lat: number | null; lon: number | null; count: number; first_seen: string; last_seen: string }>
  ips: Array<{ client_ip: string; country: string | null; count: number; failures: number; last_seen: string }>
  recent_failures: Array<Record<string, unknown>>
  scopes: string[]
}

describe('GET /v1/keys/:api_key_id/activity', () => {
  it('answers buckets that add up to what events holds, with volume.spike baseline bands', async () => {
    const res = await get(`/v1/keys/${KEY}/activity?from=${FROM}&to=${TO}`)
    expect(res.statusCode).toBe(200)
    const a = res.json() as Activity
    expect(a.api_key_id).toBe(KEY)
    expect(a.account_ids).toEqual(['ACC-77'])
    expect(a.bucket_ms).toBe(2 * MIN)
    expect(a.buckets).toHaveLength(180)
    expect(a.buckets[0]?.t).toBe(FROM.replace('.000Z', 'Z'))
    const direct = (
      await t.store.query<{ n: string; o: string; f: string; v: number }>(
        `SELECT toString(count()) AS n, toString(countIf(action = 'order.new')) AS o, toString(countIf(outcome != 'success')) AS f, sumIf(order_notional, action = 'order.new') AS v
         FROM events FINAL WHERE api_key_id = {k:String} AND ts >= parseDateTime64BestEffort({a:String}, 3) AND ts < parseDateTime64BestEffort({b:String}, 3)`,
        { k: KEY, a: FROM, b: TO },
      )
    )[0]!
    const sum = (f: 'requests' | 'orders' | 'failures' | 'notional') => a.buckets.reduce((s, b) => s + b[f], 0)
    expect([sum('requests'), sum('orders'), sum('failures'), sum('notional')]).toEqual([Number(direct.n), Number(direct.o), Number(direct.f), direct.v])
    expect([sum('requests'), sum('orders'), sum('failures')]).toEqual([13, 8, 3])
    const at = (ms: number) => a.buckets.find((b) => b.t === iso(ms).replace('.000Z', 'Z'))!
    expect(at(T0 + 10 * MIN)).toMatchObject({ requests: 8, orders: 8, notional: 8000, failures: 0 })
    expect(at(T0 + 30 * MIN)).toMatchObject({ requests: 3, orders: 0, failures: 3 })
    // Twins 3, 4, 5, 6: median 4.5, MAD 1 → scale 1.4826; EWMA(0.3) 4.53; high = max(4.5 + 6 × 1.4826, 5 × 4.53).
    expect(at(T0 + 10 * MIN).baseline).toEqual({ low: 0, median: 4.5, high: 22.67 })
    // Twins with no orders after the first order count as 0: median 0, scale floor 1, high 6.
    expect(at(T0 + 2 * HOUR).baseline).toEqual({ low: 0, median: 0, high: 6 })
  })

  it('lists where, from which addresses, the recent failures and the scopes, within the period only', async () => {
    const a = (await get(`/v1/keys/${KEY}/activity?from=${FROM}&to=${TO}`)).json() as Activity
    expect(a.locations.map((l) => [l.country, l.city, l.count])).toEqual([
      ['DE', 'Berlin', 10],
      ['US', null, 3],
    ])
    expect(a.locations[0]).toMatchObject({ lat: 52.52, lon: 13.4, first_seen: iso(T0 + 10 * MIN).replace('.000Z', 'Z'), last_seen: iso(T0 + HOUR + 1000).replace('.000Z', 'Z') })
    expect(a.ips.map((i) => [i.client_ip, i.country, i.count, i.failures])).toEqual([
      ['203.0.113.5', 'DE', 10, 0],
      ['198.51.100.7', 'US', 3, 3],
    ])
    expect(a.recent_failures).toHaveLength(3)
    expect(a.recent_failures.map((e) => e.ts)).toEqual([2, 1, 0].map((i) => iso(T0 + 30 * MIN + i * 1000).replace('.000Z', 'Z')))
    expect(a.recent_failures[0]).toMatchObject({ api_key_id: KEY, action: 'api.request', outcome: 'failure', reason: 'bad_signature', client_ip: '198.51.100.7', source: 'gw', http: { status: 401 } })
    expect(a.scopes).toEqual(['trade', 'read'])
  })

  it('answers 200 with zero buckets and empty lists for a key with no traffic', async () => {
    const res = await get(`/v1/keys/ak_never_seen/activity?from=${FROM}&to=${TO}`)
    expect(res.statusCode).toBe(200)
    const a = res.json() as Activity
    expect(a.buckets).toHaveLength(180)
    expect(a.buckets.every((b) => b.requests === 0 && b.failures === 0 && b.baseline === null)).toBe(true)
    expect([a.account_ids, a.locations, a.ips, a.recent_failures, a.scopes]).toEqual([[], [], [], [], []])
  })

  it('defaults to the last day, and refuses bad periods with stable codes', async () => {
    const d = await get(`/v1/keys/${KEY}/activity`)
    expect(d.statusCode).toBe(200)
    expect((d.json() as Activity).bucket_ms).toBe(10 * MIN)
    for (const q of ['from=yesterday', `from=${TO}&to=${FROM}`, `from=${FROM}&to=${FROM}`, 'from=2026-02-30T00:00:00Z', 'from=2025-01-01T00:00:00Z&to=2026-01-01T00:00:00Z']) {
      const res = await get(`/v1/keys/${KEY}/activity?${q}`)
      expect([res.statusCode, code(res)], q).toEqual([400, 'bad_time_range'])
    }
    const unknown = await get(`/v1/keys/${KEY}/activity?limit=5`)
    expect([unknown.statusCode, code(unknown)]).toEqual([400, 'bad_request'])
    const regulator = await get(`/v1/keys/${KEY}/activity`, 'regulator')
    expect([regulator.statusCode, code(regulator)]).toEqual([403, 'forbidden'])
  })

  it('never uses more than 240 buckets', () => {
    for (const [from, to] of [
      [0, 239 * 86_400_000],
      [1_234_567, 1_234_567 + 4 * HOUR],
      [T0, T0 + 1],
      [T0 + 59_999, T0 + 239 * 86_400_000],
    ] as const) {
      const b = bucketFor(from, to)
      expect(Math.ceil(to / b) - Math.floor(from / b)).toBeLessThanOrEqual(MAX_BUCKETS)
    }
  })

  it('does not take the state route: GET /v1/keys/:id still answers the key state', async () => {
    const res = await get(`/v1/keys/${KEY}`)
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ api_key_id: KEY, status: 'active' })
  })
})

describe('GET /v1/keys', () => {
  it('finds keys by a prefix of the key or of an account, with their last day as events holds it', async () => {
    for (const q of ['ak_explore', 'ACC-7']) {
      const res = await get(`/v1/keys?q=${q}`)
      expect(res.statusCode).toBe(200)
      const body = res.json() as { items: Array<Record<string, unknown>>; next: null }
      expect(body.next).toBeNull()
      const since = new Date(Date.now() - 86_400_000).toISOString()
      const direct = (
        await t.store.query<{ n: string; f: string; l: string }>(
          `SELECT toString(countIf(ts >= parseDateTime64BestEffort({s:String}, 3))) AS n, toString(countIf(ts >= parseDateTime64BestEffort({s:String}, 3) AND outcome != 'success')) AS f, toString(max(ts)) AS l
           FROM events FINAL WHERE api_key_id = {k:String}`,
          { k: KEY, s: since },
        )
      )[0]!
      expect(body.items, q).toEqual([
        { api_key_id: KEY, account_id: 'ACC-77', last_seen: iso(T0 + HOUR + 1000).replace('.000Z', 'Z'), events_24h: Number(direct.n), failures_24h: Number(direct.f) },
      ])
      expect([Number(direct.n), Number(direct.f)]).toEqual([14, 4])
    }
    const all = (await get('/v1/keys?limit=5')).json() as { items: Array<{ api_key_id: string }> }
    expect(all.items.map((i) => i.api_key_id).sort()).toEqual(['ak_explore_1', 'ak_other'])
    expect(((await get('/v1/keys?q=zzz')).json() as { items: unknown[] }).items).toEqual([])
  })

  it('refuses a bad q or limit with bad_key_query', async () => {
    for (const q of ['q=a%00b', `q=${'x'.repeat(129)}`, 'limit=0', 'limit=101', 'limit=ten']) {
      const res = await get(`/v1/keys?${q}`)
      expect([res.statusCode, code(res)], q).toEqual([400, 'bad_key_query'])
    }
    const regulator = await get('/v1/keys', 'regulator')
    expect(regulator.statusCode).toBe(403)
  })
})
