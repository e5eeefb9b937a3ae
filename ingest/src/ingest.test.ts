import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { gzipSync } from 'node:zlib'
import { signPayload } from '@vigil/core'
import { startHarness, send, ndjson, event, countStored, type Harness } from './test-support.js'

let h: Harness

beforeAll(async () => {
  h = await startHarness({ VIGIL_INGEST_MAX_EVENTS: '10000', VIGIL_INGEST_MAX_BYTES: String(10 * 1024 * 1024) })
})
afterAll(async () => {
  await h?.close()
})

describe('POST /v1/events: accepted events', () => {
  it('stores an NDJSON batch and answers 202 with counts', async () => {
    const evs = [event(), event(), event()]
    const res = await send(h, ndjson(evs))
    expect(res.statusCode).toBe(202)
    expect(res.json()).toEqual({ accepted: 3, duplicates: 0, rejected: [] })
    const rows = await h.store.query<{ id: string; country: string; ip: string; skew: number }>(
      `SELECT id, geo_country AS country, toString(client_ip) AS ip, clock_skew_ms AS skew FROM events FINAL
       WHERE source = {s:String} AND id IN {ids:Array(String)} ORDER BY id`,
      { s: h.source, ids: evs.map((e) => e.id) },
    )
    expect(rows.map((r) => r.id)).toEqual(evs.map((e) => e.id as string).sort())
    expect(rows[0]!.country).toBe('GB')
    expect(rows[0]!.ip).toBe('::ffff:81.2.69.142')
    expect(Math.abs(rows[0]!.skew)).toBeLessThan(60_000)
  })

  it('accepts a single JSON object and a JSON array', async () => {
    const one = await send(h, JSON.stringify(event()), { contentType: 'application/json' })
    expect(one.statusCode).toBe(202)
    expect(one.json().accepted).toBe(1)
    const arr = await send(h, JSON.stringify([event(), event()]), { contentType: 'application/json; charset=utf-8' })
    expect(arr.statusCode).toBe(202)
    expect(arr.json().accepted).toBe(2)
  })

  it('accepts a gzip body signed over the compressed bytes', async () => {
    const evs = Array.from({ length: 50 }, () => event())
    const res = await send(h, ndjson(evs), { gzip: true })
    expect(res.statusCode).toBe(202)
    expect(res.json().accepted).toBe(50)
  })

  it('assigns a ULID when the event has no id, and keeps µs-or-finer time', async () => {
    const e = event({ ts: '2026-11-24T09:30:00.123456789Z', user_id: 'u-ulid-test' })
    delete e.id
    const res = await send(h, ndjson([e]))
    expect(res.json().accepted).toBe(1)
    const rows = await h.store.query<{ id: string; ts: string }>(
      "SELECT id, toString(ts) AS ts FROM events WHERE source = {s:String} AND user_id = 'u-ulid-test'",
      { s: h.source },
    )
    expect(rows).toHaveLength(1)
    expect(rows[0]!.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/)
    expect(rows[0]!.ts).toBe('2026-11-24 09:30:00.123456789')
  })

  it('keeps unknown scalar fields in attrs, drops unknown objects and server-set fields', async () => {
    const e = event({ venue_session: 'abc', latency_class: 3, nested_thing: { a: 1 }, source: 'forged', geo: { country: 'KP' }, clock_skew_ms: 0 })
    const res = await send(h, ndjson([e]))
    expect(res.json()).toEqual({ accepted: 1, duplicates: 0, rejected: [] })
    const rows = await h.store.query<{ attrs: Record<string, string>; source: string; country: string }>(
      'SELECT attrs, source, geo_country AS country FROM events FINAL WHERE id = {id:String}',
      { id: e.id },
    )
    expect(rows[0]).toEqual({ attrs: { venue_session: 'abc', latency_class: '3' }, source: h.source, country: 'GB' })
  })

  it('handles a 10,000-event batch', async () => {
    const evs = Array.from({ length: 10_000 }, (_, i) => event({ api_key_id: `bulk-${i % 50}` }))
    const before = await countStored(h.store, h.source)
    const res = await send(h, ndjson(evs), { gzip: true })
    expect(res.statusCode).toBe(202)
    expect(res.json().accepted).toBe(10_000)
    expect(await countStored(h.store, h.source)).toBe(before + 10_000)
  })
})

describe('POST /v1/events: per-event rejection', () => {
  it('rejects bad events by index and keeps the good ones in the same request', async () => {
    const good1 = event()
    const good2 = event()
    const body = [
      JSON.stringify(good1),
      '{not json',
      JSON.stringify(event({ outcome: 'maybe' })),
      JSON.stringify(event({ ts: '2026-11-24 09:30:00' })),
      JSON.stringify(event({ user_agent: 'x'.repeat(513) })),
      JSON.stringify(event({ client_ip: '999.1.1.1' })),
      JSON.stringify(event({ ts: '2026-02-30T00:00:00Z' })),
      '[1,2]',
      JSON.stringify({ ts: new Date().toISOString(), outcome: 'success' }),
      JSON.stringify(event({ attrs: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) })),
      JSON.stringify(good2),
    ].join('\n')
    const res = await send(h, body)
    expect(res.statusCode).toBe(202)
    const r = res.json()
    expect(r.accepted).toBe(2)
    expect(r.rejected.map((x: { index: number }) => x.index)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect(r.rejected[0].error).toMatch(/not valid JSON/)
    expect(r.rejected[1].error).toMatch(/outcome/)
    expect(r.rejected[2].error).toMatch(/ts/)
    expect(r.rejected[3].error).toMatch(/user_agent/)
    expect(r.rejected[4].error).toMatch(/client_ip/)
    expect(r.rejected[5].error).toMatch(/ts is not a valid/)
    expect(r.rejected[6].error).toMatch(/JSON object/)
    expect(r.rejected[7].error).toMatch(/action is required/)
    expect(r.rejected[8].error).toMatch(/attrs/)
    const stored = await h.store.query<{ id: string }>('SELECT id FROM events WHERE id IN {ids:Array(String)}', { ids: [good1.id, good2.id] })
    expect(stored).toHaveLength(2)
  })
})

describe('POST /v1/events: idempotency', () => {
  it('answers a retried id as a duplicate and stores it once', async () => {
    const evs = [event(), event()]
    const first = await send(h, ndjson(evs))
    expect(first.json()).toMatchObject({ accepted: 2, duplicates: 0 })
    // A retry is a new request: new timestamp, so a new signature.
    const retry = await send(h, ndjson([...evs, event()]), { timestamp: Math.floor(Date.now() / 1000) - 1 })
    expect(retry.statusCode).toBe(202)
    expect(retry.json()).toMatchObject({ accepted: 1, duplicates: 2 })
    const rows = await h.store.query<{ n: string }>('SELECT count() AS n FROM events WHERE id IN {ids:Array(String)}', {
      ids: evs.map((e) => e.id),
    })
    expect(Number(rows[0]!.n)).toBe(2)
  })

  it('collapses the same id twice in one request', async () => {
    const e = event()
    const res = await send(h, ndjson([e, e]))
    expect(res.json()).toMatchObject({ accepted: 1, duplicates: 1 })
  })

  it('never counts an id twice in storage even when the cache forgot it', async () => {
    const e = event()
    await send(h, ndjson([e]))
    await h.redis.del(...(await h.redis.keys(`vigil:idem:*${e.id as string}`)))
    const again = await send(h, ndjson([e]), { timestamp: Math.floor(Date.now() / 1000) - 2 })
    expect(again.json()).toMatchObject({ accepted: 1, duplicates: 0 })
    const rows = await h.store.query<{ n: string }>('SELECT count() AS n FROM events FINAL WHERE id = {id:String}', { id: e.id })
    expect(Number(rows[0]!.n)).toBe(1)
  })
})

describe('POST /v1/events: signatures (CONTRACT §2)', () => {
  it('401 unauthorized without a source or with an unknown one', async () => {
    const body = ndjson([event()])
    const none = await send(h, body, { headers: { 'vigil-source': '' } })
    expect(none.statusCode).toBe(401)
    expect(none.json().error.code).toBe('unauthorized')
    const unknown = await send(h, body, { source: 'nobody' })
    expect(unknown.statusCode).toBe(401)
    expect(unknown.json().error.code).toBe('unauthorized')
  })

  it('401 bad_signature for a wrong secret, a tampered body, a missing or malformed header', async () => {
    const body = ndjson([event()])
    expect((await send(h, body, { secret: 'vgs_wrong' })).json().error.code).toBe('bad_signature')
    const ts = Math.floor(Date.now() / 1000)
    const sig = signPayload(h.secret, ts, body)
    const tampered = await send(h, body.replace('order.new', 'order.cxl'), { timestamp: ts, signature: sig })
    expect(tampered.statusCode).toBe(401)
    expect(tampered.json().error.code).toBe('bad_signature')
    expect((await send(h, body, { signature: '' })).json().error.code).toBe('bad_signature')
    expect((await send(h, body, { signature: 'v1=zz' })).json().error.code).toBe('bad_signature')
    expect((await send(h, body, { signature: 'v0=' + 'a'.repeat(64) })).json().error.code).toBe('bad_signature')
  })

  it('401 stale_timestamp outside ±300 s, or not a number', async () => {
    const body = ndjson([event()])
    const now = Math.floor(Date.now() / 1000)
    expect((await send(h, body, { timestamp: now - 301 })).json().error.code).toBe('stale_timestamp')
    expect((await send(h, body, { timestamp: now + 301 })).json().error.code).toBe('stale_timestamp')
    expect((await send(h, body, { timestamp: 'yesterday' })).json().error.code).toBe('stale_timestamp')
    expect((await send(h, body, { timestamp: now - 299 })).statusCode).toBe(202)
  })

  it('accepts several v1= values when one matches (secret rotation)', async () => {
    const res = await send(h, ndjson([event()]), { secret: ['vgs_old_unknown', h.secret] })
    expect(res.statusCode).toBe(202)
  })

  it('keeps the previous secret valid after rotation, and the new one works', async () => {
    const src = `rot-${Date.now()}`
    const { secret: oldSecret } = await h.sources.add(src)
    const { secret: newSecret, previous_valid_until } = await h.sources.rotate(src)
    expect(Date.parse(previous_valid_until as string)).toBeGreaterThan(Date.now() + 23 * 3600 * 1000)
    expect((await send(h, ndjson([event()]), { source: src, secret: oldSecret })).statusCode).toBe(202)
    expect((await send(h, ndjson([event()]), { source: src, secret: newSecret })).statusCode).toBe(202)
    const listed = (await h.sources.list()).find((s) => s.id === src)
    expect(listed).toMatchObject({ id: src, status: 'active' })
    expect(JSON.stringify(await h.sources.list())).not.toContain(newSecret)
  })

  it('409 replayed for the same signature seen twice', async () => {
    const body = ndjson([event()])
    const ts = Math.floor(Date.now() / 1000)
    const sig = signPayload(h.secret, ts, body)
    const first = await send(h, body, { timestamp: ts, signature: sig })
    expect(first.statusCode).toBe(202)
    const again = await send(h, body, { timestamp: ts, signature: sig })
    expect(again.statusCode).toBe(409)
    expect(again.json()).toEqual({ error: { code: 'replayed', message: expect.any(String) } })
  })
})

describe('POST /v1/events: bodies', () => {
  it('415 for other media types and encodings', async () => {
    const text = await send(h, ndjson([event()]), { contentType: 'text/plain' })
    expect(text.statusCode).toBe(415)
    expect(text.json().error.code).toBe('unsupported_media_type')
    const br = await send(h, ndjson([event()]), { headers: { 'content-encoding': 'br' } })
    expect(br.statusCode).toBe(415)
  })

  it('400 malformed_body for broken JSON, a scalar, an empty body, corrupt gzip', async () => {
    const j = { contentType: 'application/json' }
    expect((await send(h, '{"a":', j)).json().error.code).toBe('malformed_body')
    expect((await send(h, '42', j)).json().error.code).toBe('malformed_body')
    expect((await send(h, '')).json().error.code).toBe('malformed_body')
    const corrupt = await send(h, Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5]), { headers: { 'content-encoding': 'gzip' } })
    expect(corrupt.statusCode).toBe(400)
    expect(corrupt.json().error.code).toBe('malformed_body')
  })

  it('413 for too many events, too many bytes, and a gzip bomb', async () => {
    const many = ndjson(Array.from({ length: 10_001 }, () => ({ a: 1 })))
    const r1 = await send(h, many)
    expect(r1.statusCode).toBe(413)
    expect(r1.json().error.code).toBe('payload_too_large')
    const big = Buffer.alloc(10 * 1024 * 1024 + 1, 0x20)
    const r2 = await send(h, big)
    expect(r2.statusCode).toBe(413)
    // 64 MiB of spaces compresses to ~64 KiB: under the wire limit, over the inflated one.
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20))
    const r3 = await send(h, bomb, { headers: { 'content-encoding': 'gzip' } })
    expect(r3.statusCode).toBe(413)
    expect(r3.json().error.code).toBe('payload_too_large')
  })

  it('never answers 500 to hostile bodies', async () => {
    const hostile = [
      '\u0000\u0001\u0002',
      '{"__proto__": {"polluted": true}, "ts": "2026-11-24T09:30:00Z", "action": "a", "outcome": "success"}',
      '{"constructor": {"prototype": {"x": 1}}, "ts": "2026-11-24T09:30:00Z", "action": "a", "outcome": "success"}',
      JSON.stringify(event({ http: 'GET /' })),
      JSON.stringify(event({ attrs: ['a'] })),
      JSON.stringify(event({ scopes: 'orders:write' })),
      JSON.stringify(event({ ts: '9999-12-31T23:59:59Z' })),
      JSON.stringify(event({ client_ip: 'fe80::1%eth0' })),
      '\uD800',
      '"' + 'a'.repeat(100_000) + '"',
    ].join('\n')
    const res = await send(h, hostile)
    expect(res.statusCode).toBe(202)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    const r = res.json()
    expect(r.accepted + r.rejected.length).toBe(10)
  })
})
