import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { pino } from 'pino'
import { columnDefault, EVENT_COLUMNS } from '@vigil/core'
import { DetectionEngine } from './engine.js'
import type { Detector, EngineRule, StreamEvent } from './detector.js'
import { float32OrNull, ipText, streamEventsOf } from './stream-rows.js'
import { startDetectHarness, type DetectHarness } from './test-support.js'

/** Records every event it is handed, judging nothing. */
function recorder(): Detector & { seen: StreamEvent[] } {
  const seen: StreamEvent[] = []
  return { ruleId: 'test.record', seen, detect: async (events) => (seen.push(...events), []) }
}
const rule: EngineRule = { id: 'test.record', severity: 'low', entity: 'api_key', enabled: true, windowMs: 60_000, latenessMs: 5_000, suppressionMs: 60_000, params: {} }
const logger = pino({ level: 'silent' })

const columns = EVENT_COLUMNS.map((c) => c.name)
/** One row of `events` positional in EVENT_COLUMNS, as ingest's batch writer holds it. */
const row = (fields: Record<string, unknown>) => EVENT_COLUMNS.map((c) => (c.name in fields ? fields[c.name] : columnDefault(c.type)))

let h: DetectHarness
beforeEach(async () => {
  h = await startDetectHarness()
})
afterEach(async () => {
  await h.close()
})

describe('rows handed over by ingest → stream events', () => {
  it('gives exactly what the engine reads back from detect_stream for the same rows', async () => {
    const base = { source: 'gw-1', received_at: '2026-11-27 09:30:00.123456789', action: 'order.new', outcome: 'success', api_key_id: 'k1' }
    const rows = [
      // Times with 0, 3 and 9 fractional digits; IPv4; a Paris location; an order.
      row({ ...base, id: 'e1', ts: '2026-11-27 09:29:59', client_ip: '81.2.69.142', geo_country: 'GB', geo_city: 'London', geo_lat: 51.5142, geo_lon: -0.0931, order_qty: 100, order_notional: 22800.5, order_symbol: 'AAPL', order_currency: 'USD', clock_skew_ms: 1123.456 }),
      row({ ...base, id: 'e2', ts: '2026-11-27 09:29:59.870', client_ip: '2001:DB8:0:0:0:0:0:1', geo_lat: 35.6895, geo_lon: 139.69171, http_path: '/v1/orders?symbol=AAPL', attrs: { b: '2', a: '1' } }),
      row({ ...base, id: 'e3', ts: '2026-11-27 09:29:59.000000001', client_ip: '::ffff:10.1.2.3', reason: 'bad_signature', outcome: 'failure', action: 'auth.login', account_id: 'acc-1', user_id: 'u-1' }),
      row({ ...base, id: 'e4', ts: '2026-11-27 09:29:58.5', client_ip: 'fe80::1:2:3', geo_lat: -33.8591, geo_lon: 151.2002, clock_skew_ms: -2.5 }),
      row({ ...base, id: 'e5', ts: '2026-11-27 09:29:57.25' }), // no address, no location
    ]
    await h.store.insertRaw('events', columns, Buffer.from(rows.map((r) => JSON.stringify(r) + '\n').join('')), { format: 'JSONCompactEachRow' })

    const fromStream = recorder()
    const reader = new DetectionEngine({ store: h.store, logger, rules: [rule], detectors: [fromStream], memory: false, name: 'stream-reader' })
    await reader.tick()
    const handed = streamEventsOf({ columns, rows })

    expect(fromStream.seen).toHaveLength(rows.length)
    const byId = (list: StreamEvent[]) => [...list].sort((a, b) => a.id.localeCompare(b.id))
    expect(byId(handed)).toEqual(byId(fromStream.seen))
    // And what that means, spelt out for the fields that needed care.
    const e = Object.fromEntries(handed.map((x) => [x.id, x]))
    expect(e.e1!.client_ip).toBe('81.2.69.142')
    expect(e.e2!.client_ip).toBe('2001:db8::1')
    expect(e.e3!.client_ip).toBe('10.1.2.3')
    expect(e.e5!.client_ip).toBe('')
    expect(e.e1!.geo_lat).toBe(51.5142)
    expect(e.e5!.geo_lat).toBeNull()
    expect(e.e1!.ts).toBe('2026-11-27T09:29:59Z')
    expect(e.e2!.ts).toBe('2026-11-27T09:29:59.870000000Z')
    expect(e.e3!.ts).toBe('2026-11-27T09:29:59.000000001Z')
  })

  it('leaves out rows without an id or a time, and takes absent columns as their defaults', () => {
    const cols = ['id', 'ts', 'received_at', 'action']
    const out = streamEventsOf({ columns: cols, rows: [['a', '2026-11-27 09:00:00.5', '2026-11-27 09:00:01', 'api.request'], ['', '2026-11-27 09:00:00', '2026-11-27 09:00:01', 'x'], ['b', null, '2026-11-27 09:00:01', 'x']] })
    expect(out).toHaveLength(1)
    expect(out[0]).toMatchObject({ id: 'a', action: 'api.request', source: '', client_ip: '', attrs: {}, order_qty: null, geo_lat: null, clock_skew_ms: 0, tsMs: Date.UTC(2026, 10, 27, 9, 0, 0, 500) })
  })

  it('prints addresses and Float32 coordinates as ClickHouse does', () => {
    expect(ipText('::')).toBe('')
    expect(ipText(undefined)).toBe('')
    expect(ipText('::FFFF:192.168.0.1')).toBe('192.168.0.1')
    expect(ipText('2001:0db8:0000:0000:0001:0000:0000:0001')).toBe('2001:db8::1:0:0:1')
    expect(float32OrNull(0.1)).toBe(0.1)
    expect(float32OrNull(139.69171)).toBe(139.69171)
    expect(float32OrNull(Number.NaN)).toBeNull()
    expect(float32OrNull('1')).toBeNull()
  })
})
