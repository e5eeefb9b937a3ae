import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { buildApp } from './app.js'
import { createMetricsRegistry } from './metrics-route.js'
import { captureLogger, insertEvents, openTestStore, startTestApp, type TestApp, type TestStore } from './test-support.js'

let t: TestStore
let h: TestApp

interface Page {
  items: Array<Record<string, unknown> & { id: string; ts: string; source: string }>
  next: string | null
}

async function get(url: string, app: FastifyInstance = h.app) {
  return app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${h.tokens.viewer}` } })
}

async function page(url: string): Promise<Page> {
  const res = await get(url)
  expect(res.statusCode, res.body).toBe(200)
  return res.json() as Page
}

/** Every page of a listing, following `next`. */
async function all(base: string, limit: number, between?: (n: number) => Promise<void>): Promise<Page['items']> {
  const out: Page['items'] = []
  let cursor: string | null = null
  for (let n = 0; n < 1000; n++) {
    const sep = base.includes('?') ? '&' : '?'
    const p = await page(`${base}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`)
    out.push(...p.items)
    if (!p.next) return out
    cursor = p.next
    await between?.(n)
  }
  throw new Error('paging did not end')
}

const SOURCES = ['api-eu', 'api-us']
const KEYS = ['key-a', 'key-b', 'key-c']

function row(i: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  // Several events share a timestamp so paging must break ties on (source, key, id).
  const second = Math.floor(i / 4)
  const ts = new Date(Date.UTC(2026, 10, 24, 9, 0, 0) + second * 1000).toISOString().replace(/\.\d{3}Z$/, '.123456Z')
  return {
    source: SOURCES[i % 2],
    received_at: ts,
    clock_skew_ms: 1,
    id: `e${String(i).padStart(4, '0')}`,
    ts,
    action: i % 3 === 0 ? 'auth.login' : 'order.new',
    outcome: i % 5 === 0 ? 'failure' : 'success',
    api_key_id: KEYS[i % 3],
    account_id: `acct-${i % 4}`,
    client_ip: i % 2 ? '203.0.113.7' : '2001:db8::7',
    ...over,
  }
}

const TOTAL = 250

beforeAll(async () => {
  t = await openTestStore()
  h = await startTestApp(t)
  await insertEvents(
    t.store,
    Array.from({ length: TOTAL }, (_, i) => row(i)),
  )
})
afterAll(async () => {
  await h?.close()
  await t?.cleanup()
})

const key = (e: { ts: string; source: string; api_key_id?: unknown; id: string }) => [e.ts, e.source, String(e.api_key_id ?? ''), e.id]

function expectStrictlyDescending(items: Page['items']): void {
  for (let i = 1; i < items.length; i++) {
    const a = key(items[i - 1]!)
    const b = key(items[i]!)
    // Same-length RFC 3339 strings in one table compare like the times they name.
    expect(a.join('\u0000') > b.join('\u0000'), `${a} before ${b}`).toBe(true)
  }
}

describe('GET /v1/events paging', () => {
  it('defaults to 100 newest-first items with a cursor', async () => {
    const p = await page('/v1/events')
    expect(p.items).toHaveLength(100)
    expect(p.next).toEqual(expect.any(String))
    expect(p.next).toMatch(/^[A-Za-z0-9_-]+$/)
    expect(p.items[0]!.id).toBe(row(TOTAL - 1).id)
    expectStrictlyDescending(p.items)
  })

  it.each([7, 100, 1000])('pages through everything with limit %i: no duplicates, no gaps', async (limit) => {
    const items = await all('/v1/events', limit)
    expect(items).toHaveLength(TOTAL)
    expect(new Set(items.map((e) => e.id)).size).toBe(TOTAL)
    expectStrictlyDescending(items)
  })

  it('is stable while events arrive between pages', async () => {
    const fresh: string[] = []
    const items = await all('/v1/events', 40, async (n) => {
      // Newer than anything listed: must not appear in later pages nor shift them.
      const id = `late-${n}`
      fresh.push(id)
      await insertEvents(t.store, [row(TOTAL + 100 + n, { id, ts: '2027-01-01T00:00:00Z', received_at: '2027-01-01T00:00:00Z' })])
    })
    expect(items).toHaveLength(TOTAL)
    expect(items.some((e) => fresh.includes(e.id))).toBe(false)
    expect(new Set(items.map((e) => e.id)).size).toBe(TOTAL)
    await t.store.command("ALTER TABLE events DELETE WHERE id LIKE 'late-%' SETTINGS mutations_sync = 1")
  })

  it('lists a retried event that was stored twice once', async () => {
    await t.store.command('SYSTEM STOP MERGES events')
    const dup = row(9000, { id: 'retried', ts: '2026-11-23T00:00:00.5Z', received_at: '2026-11-23T00:00:01Z' })
    await insertEvents(t.store, [dup])
    await insertEvents(t.store, [{ ...dup, received_at: '2026-11-23T00:00:02Z' }])
    const stored = await t.store.query<{ n: string }>("SELECT count() AS n FROM events WHERE id = 'retried'")
    expect(Number(stored[0]!.n)).toBe(2)
    const p = await page(`/v1/events?api_key_id=${dup.api_key_id}&from=2026-11-23T00:00:00Z&to=2026-11-24T00:00:00Z`)
    expect(p.items.map((e) => e.id)).toEqual(['retried'])
    const items = await all('/v1/events', 100)
    expect(items.filter((e) => e.id === 'retried')).toHaveLength(1)
    await t.store.command('SYSTEM START MERGES events')
    await t.store.command("ALTER TABLE events DELETE WHERE id = 'retried' SETTINGS mutations_sync = 1")
  })
})

describe('GET /v1/events filters', () => {
  const expected = (pred: (i: number) => boolean) =>
    Array.from({ length: TOTAL }, (_, i) => i)
      .filter(pred)
      .map((i) => row(i).id as string)
      .sort()

  const ids = (items: Page['items']) => items.map((e) => e.id).sort()

  it.each([
    ['api_key_id=key-b', (i: number) => i % 3 === 1],
    ['account_id=acct-2', (i: number) => i % 4 === 2],
    ['action=auth.login', (i: number) => i % 3 === 0],
    ['outcome=failure', (i: number) => i % 5 === 0],
    ['client_ip=203.0.113.7', (i: number) => i % 2 === 1],
    ['client_ip=2001:db8::7', (i: number) => i % 2 === 0],
    ['client_ip=2001:0db8:0:0:0:0:0:7', (i: number) => i % 2 === 0],
    ['action=order.new&outcome=failure&api_key_id=key-c', (i: number) => i % 3 === 2 && i % 5 === 0],
  ])('%s', async (query, pred) => {
    expect(ids(await all(`/v1/events?${query}`, 1000))).toEqual(expected(pred))
  })

  it('bounds by time: from inclusive, to exclusive, offsets honoured', async () => {
    // Events are at 09:00:00.123456 + floor(i/4) s.
    const from = '2026-11-24T09:00:10.123456Z' // i = 40..
    const to = '2026-11-24T10:00:20.123456+01:00' // 09:00:20.123456Z: i < 80
    expect(ids(await all(`/v1/events?from=${from}&to=${encodeURIComponent(to)}`, 1000))).toEqual(expected((i) => i >= 40 && i < 80))
    const none = await page('/v1/events?from=2030-01-01T00:00:00Z')
    expect(none).toEqual({ items: [], next: null })
  })

  it('keeps user input out of the SQL text', async () => {
    const p = await page(`/v1/events?api_key_id=${encodeURIComponent("key-a' OR 1=1 --")}`)
    expect(p).toEqual({ items: [], next: null })
    const q = await page(`/v1/events?action=${encodeURIComponent('x}{limit_plus_one:UInt32}')}`)
    expect(q.items).toEqual([])
  })

  it.each([
    'limit=0',
    'limit=1001',
    'limit=abc',
    'limit=10.5',
    'outcome=maybe',
    'from=yesterday',
    'from=2026-02-30T00:00:00Z',
    'from=2026-11-24T25:00:00Z',
    'to=2026-11-24 09:00:00',
    'to=2026-11-24T09:00:00',
    'from=2026-11-25T00:00:00Z&to=2026-11-24T00:00:00Z',
    'client_ip=999.1.1.1',
    'client_ip=203.0.113.0/24',
    'api_key=key-a',
    'action=a&action=b',
    `api_key_id=${'k'.repeat(129)}`,
    'account_id=',
  ])('rejects %s as bad_request', async (query) => {
    const res = await get(`/v1/events?${query}`)
    expect(res.statusCode, res.body).toBe(400)
    expect(res.json()).toEqual({ error: { code: 'bad_request', message: expect.any(String) } })
  })
})

describe('GET /v1/events cursors', () => {
  it('rejects garbage, tampered and foreign cursors as bad_cursor', async () => {
    const p = await page('/v1/events?limit=5')
    const good = p.next as string
    const mid = Math.floor(good.length / 2)
    const tampered = good.slice(0, mid) + (good[mid] === 'A' ? 'B' : 'A') + good.slice(mid + 1)
    const forged = Buffer.concat([Buffer.alloc(16), Buffer.from(JSON.stringify(['2026-11-24 09:00:00.000000000', 'a', 'b', 'c']))]).toString('base64url')
    const { logger } = captureLogger()
    const otherKeyApp = await buildApp({
      logger,
      store: t.store,
      redis: h.redis,
      ingest: { routes: async () => {}, status: () => h.ingest.status() },
      metrics: createMetricsRegistry(),
      cursorKey: randomBytes(32),
    })
    try {
      for (const [cursor, app] of [
        ['not-a-cursor!', h.app],
        ['', h.app],
        ['AAAA', h.app],
        [tampered, h.app],
        [forged, h.app],
        [good, otherKeyApp],
        ['x'.repeat(5000), h.app],
      ] as const) {
        const res = await get(`/v1/events?limit=5&cursor=${cursor}`, app)
        expect(res.statusCode, cursor.slice(0, 40)).toBe(400)
        expect(res.json()).toEqual({ error: { code: 'bad_cursor', message: 'The cursor is not one this server issued' } })
      }
    } finally {
      await otherKeyApp.close()
    }
  })

  it('answers next: null on the last page', async () => {
    const p = await page(`/v1/events?limit=1000`)
    expect(p.items).toHaveLength(TOTAL)
    expect(p.next).toBeNull()
  })
})

describe('GET /v1/events item shape', () => {
  it('rebuilds nested objects, omits empties, shows IPv4 and RFC 3339 times', async () => {
    await insertEvents(t.store, [
      {
        source: 'shape',
        received_at: '2026-11-20T00:00:00.000000001Z',
        clock_skew_ms: 0.5,
        geo_country: 'GB',
        geo_city: 'London',
        geo_lat: 51.5,
        geo_lon: -0.125,
        id: 'full',
        ts: '2026-11-20T00:00:00.123456Z',
        action: 'order.new',
        outcome: 'denied',
        reason: 'risk_rejected',
        api_key_id: 'key-shape',
        account_id: 'acct-shape',
        client_ip: '81.2.69.142',
        user_agent: 'algo/1.0',
        scopes: ['trade', 'read'],
        http_method: 'POST',
        http_path: '/v1/orders',
        http_status: 403,
        http_latency_ms: 2.5,
        http_bytes_in: 512,
        order_symbol: 'AAPL',
        order_side: 'buy',
        order_qty: 10,
        attrs: { desk: 'eq' },
      },
      { source: 'shape', received_at: '2026-11-20T00:00:01Z', clock_skew_ms: 0, id: 'bare', ts: '2026-11-20T00:00:00Z', action: 'api.request', outcome: 'success' },
    ])
    const p = await page('/v1/events?from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z')
    expect(p.items).toEqual([
      {
        id: 'full',
        ts: '2026-11-20T00:00:00.123456Z',
        action: 'order.new',
        outcome: 'denied',
        reason: 'risk_rejected',
        api_key_id: 'key-shape',
        account_id: 'acct-shape',
        client_ip: '81.2.69.142',
        user_agent: 'algo/1.0',
        scopes: ['trade', 'read'],
        http: { method: 'POST', path: '/v1/orders', status: 403, latency_ms: 2.5, bytes_in: 512 },
        order: { symbol: 'AAPL', side: 'buy', qty: 10 },
        attrs: { desk: 'eq' },
        source: 'shape',
        received_at: '2026-11-20T00:00:00.000000001Z',
        clock_skew_ms: 0.5,
        geo: { country: 'GB', city: 'London', lat: 51.5, lon: -0.125 },
      },
      { id: 'bare', ts: '2026-11-20T00:00:00Z', action: 'api.request', outcome: 'success', source: 'shape', received_at: '2026-11-20T00:00:01Z', clock_skew_ms: 0 },
    ])
  })
})
