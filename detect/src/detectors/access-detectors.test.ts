/**
 * The account rules beyond their fixtures: late history, allowlists, idempotence, what a tick
 * costs in queries, and the parts that must agree with ClickHouse (network names, windows).
 * Through the real engine on embedded ClickHouse, as the conformance suite runs them.
 */
import { describe, it, expect, beforeAll, afterAll, beforeEach } from 'vitest'
import { pino } from 'pino'
import type { Store } from '@vigil/core'
import { DetectionEngine } from '../engine.js'
import { alertId } from '../alerts.js'
import type { Detector, EngineRule, StreamEvent } from '../detector.js'
import { loadRules, type Rule } from '../rules.js'
import { startDetectHarness, storeEvents, type DetectHarness } from '../test-support.js'
import { ACCOUNT_DETECTORS } from './access-detectors.js'
import { networkId, networkSql } from './access-network.js'
import { planWindows } from './access-windows.js'
import { scoreFromRatio } from './access-findings.js'

const logger = pino({ level: 'silent' })
const RULES = new Map(loadRules().map((r) => [r.id, r]))
const ruleOf = (id: string, over: Partial<Rule> = {}): EngineRule => ({ ...(RULES.get(id) as Rule), enabled: true, ...over })
const detectorOf = (id: string) => ACCOUNT_DETECTORS.find((d) => d.ruleId === id) as Detector

const T = Date.parse('2026-11-24T14:30:00Z')
// As alerts show times: RFC 3339 without a zero fraction.
const at = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z')
const KEY = 'ak_live_TEST01'

let n = 0
/** A bad_signature failure on KEY at `ms`. */
const failure = (ms: number, over: Record<string, unknown> = {}) => ({
  id: `ev-${++n}`,
  ts: at(ms),
  action: 'api.request',
  outcome: 'failure',
  reason: 'bad_signature',
  api_key_id: KEY,
  client_ip: '203.0.113.45',
  ...over,
})
const burst = (count: number, fromMs: number, everyMs: number, over: Record<string, unknown> = {}) =>
  Array.from({ length: count }, (_, i) => failure(fromMs + i * everyMs, over))

let h: DetectHarness
// A batch arrives half a second after its newest event, and after the batch before it: a
// live stream, where only an event sent from the past is late.
let arrival = 0
const store = (events: Array<Record<string, unknown>>) => {
  arrival = Math.max(arrival + 1000, ...events.map((e) => Date.parse(e.ts as string) + 500))
  return storeEvents(h.store, events, { receivedAt: new Date(arrival) })
}

const engineFor = (rule: EngineRule, name = 'default') => new DetectionEngine({ store: h.store, logger, rules: [rule], detectors: [detectorOf(rule.id)], name })

beforeAll(async () => {
  h = await startDetectHarness()
})
afterAll(async () => {
  await h?.close()
})
beforeEach(async () => {
  arrival = 0
  n = 0
  for (const table of ['events', 'detect_stream', 'rollup_entity_1s', 'rollup_denials_1s', 'alert_changes', 'detect_cursor']) await h.store.command(`TRUNCATE TABLE ${table}`)
})

describe('late events', () => {
  it('judge a burst from an hour ago in its own window, though the same batch brings fresh events of the key', async () => {
    const rule = ruleOf('auth.brute_force')
    const engine = engineFor(rule)
    await store([failure(T, { outcome: 'success', reason: '' }), failure(T + 1000, { outcome: 'success', reason: '' })])
    expect((await engine.tick()).created).toBe(0)

    const late = burst(12, T - 3600_000, 10_000)
    await store([...late, failure(T + 5000)])
    expect(await engine.tick()).toMatchObject({ created: 1 })
    const [alert] = await engine.alerts.list({ limit: 10 })
    expect(alert).toMatchObject({ entity: { type: 'api_key', id: KEY }, first_seen: at(T - 3600_000), last_seen: at(T - 3600_000 + 110_000) })
    expect(alert?.id).toBe(alertId('auth.brute_force', { type: 'api_key', id: KEY }, T - 3600_000))
    expect(alert?.evidence).toMatchObject({ value: 12, threshold: 10, distinct_ips: 1 })
    expect(alert?.evidence.sample_event_ids).toHaveLength(10)
  })

  it('count toward a window whose other events arrived before them', async () => {
    const engine = engineFor(ruleOf('auth.brute_force'))
    await store(burst(6, T, 10_000))
    expect((await engine.tick()).created).toBe(0)
    // The first half of the burst, sent late by a spooling client.
    await store(burst(6, T - 60_000, 10_000))
    expect((await engine.tick()).created).toBe(1)
    const [alert] = await engine.alerts.list({ limit: 10 })
    expect(alert?.evidence).toMatchObject({ value: 12 })
    expect(alert?.first_seen).toBe(at(T - 60_000))
    // Half the burst is not in this batch: the evidence reads the rest from the stream.
    expect(alert?.evidence.sample_event_ids).toHaveLength(10)
    expect(alert?.evidence.sample_event_ids).toContain('ev-1')
  })

  it('make a success already seen into one right after a burst', async () => {
    const engine = engineFor(ruleOf('auth.success_after_failures'))
    await store([{ id: 'ok', ts: at(T), action: 'auth.login', outcome: 'success', user_id: 'u_late', client_ip: '203.0.113.9' }])
    expect((await engine.tick()).created).toBe(0)
    await store(burst(6, T - 90_000, 10_000, { action: 'auth.login', reason: 'bad_password', api_key_id: '', user_id: 'u_late' }))
    expect((await engine.tick()).created).toBe(1)
    const [alert] = await engine.alerts.list({ limit: 10 })
    expect(alert).toMatchObject({ entity: { type: 'user', id: 'u_late' }, first_seen: at(T - 90_000), last_seen: at(T) })
    expect(alert?.evidence).toMatchObject({ value: 6, success_event_id: 'ok', gap_ms: 40_000 })
  })
})

describe('success after failures', () => {
  it('counts only the failures since the previous success: a fleet with one broken host is not a burst', async () => {
    const engine = engineFor(ruleOf('auth.success_after_failures'))
    const interleaved = Array.from({ length: 12 }, (_, i) =>
      i % 2 === 0 ? failure(T + i * 5000, { client_ip: '192.0.2.11' }) : failure(T + i * 5000, { outcome: 'success', reason: '', client_ip: '192.0.2.12' }),
    )
    await store(interleaved)
    expect((await engine.tick()).findings).toBe(0)
    // Then the broken host alone, five times, and a success: that is a burst.
    await store([...burst(5, T + 60_000, 5000, { client_ip: '192.0.2.11' }), failure(T + 90_000, { outcome: 'success', reason: '', client_ip: '192.0.2.11' })])
    expect((await engine.tick()).created).toBe(1)
    const [alert] = await engine.alerts.list({ limit: 10 })
    expect(alert?.evidence).toMatchObject({ value: 5, gap_ms: 10_000 })
    expect(alert?.summary).toMatch(/^Key ak_live_TEST01 authenticated 10 s after 5 bad_signature failures from 1 IP in 20 s; the success came from one of those addresses/)
  })
})

describe('allowlist', () => {
  const allowlisted = (id: string) => ruleOf(id, { allowlist: { ips: ['203.0.113.0/28', '2001:db8:aa::/48'] } })

  it('leaves out the listed addresses: their failures neither fire nor count', async () => {
    const engine = engineFor(allowlisted('auth.brute_force'))
    await store(burst(12, T, 5000, { client_ip: '203.0.113.5' }))
    await store(burst(12, T, 5000, { client_ip: '2001:db8:aa:1::7', api_key_id: 'ak_live_TEST02' }))
    expect((await engine.tick()).findings).toBe(0)

    // Nine from outside the range, with the twelve from inside still in the window: not ten.
    await store(burst(9, T + 60_000, 5000, { client_ip: '203.0.113.16' }))
    expect((await engine.tick()).findings).toBe(0)
    await store([failure(T + 110_000, { client_ip: '203.0.113.16' })])
    expect((await engine.tick()).created).toBe(1)
    const [alert] = await engine.alerts.list({ limit: 10 })
    expect(alert?.evidence).toMatchObject({ value: 10, distinct_ips: 1, ips: ['203.0.113.16'] })
    expect(alert?.client_ip).toBe('203.0.113.16')
  })

  it('skips a listed key', async () => {
    const engine = engineFor(ruleOf('auth.brute_force', { allowlist: { api_keys: [KEY] } }))
    await store(burst(12, T, 5000))
    expect((await engine.tick()).findings).toBe(0)
  })

  it('leaves a listed address out of its network', async () => {
    const rule = allowlisted('auth.credential_stuffing')
    const engine = engineFor(rule)
    // Three addresses of one /24 across twelve keys; one of them is the listed office NAT.
    const ips = ['203.0.113.5', '203.0.113.77', '203.0.113.78']
    await store(Array.from({ length: 24 }, (_, i) => failure(T + i * 2000, { client_ip: ips[i % 3], api_key_id: `ak_k${i % 12}`, reason: 'unknown_key' })))
    expect((await engine.tick()).findings).toBe(0)
    // Without the allowlist the same traffic is a /24 stuffing.
    const open = engineFor(ruleOf('auth.credential_stuffing'), 'open')
    await open.tick()
    expect((await open.alerts.list({ limit: 10 })).map((a) => a.entity.id)).toEqual(['203.0.113.0/24'])
  })
})

describe('ticks', () => {
  it('a second tick with nothing new finds nothing; the same batch twice makes no second alert', async () => {
    const rule = ruleOf('auth.brute_force')
    const engine = engineFor(rule)
    await store(burst(12, T, 10_000))
    expect(await engine.tick()).toMatchObject({ events: 12, findings: 1, created: 1 })
    expect(await engine.tick()).toMatchObject({ events: 0, findings: 0, created: 0 })

    // Another engine (a second process, or this one restarted without its cursor) sees the same batch.
    const again = engineFor(rule, 'another')
    expect(await again.tick()).toMatchObject({ events: 12, findings: 1, created: 0, repeated: 0 })
    expect(await engine.alerts.list({ limit: 10 })).toHaveLength(1)
  })

  it('the same events give the same findings', async () => {
    await store(burst(12, T, 10_000))
    const events = await streamEvents(h.store)
    for (const id of ['auth.brute_force', 'auth.success_after_failures', 'rate.abuse']) {
      const ctx = { store: h.store, rule: ruleOf(id) }
      expect(await detectorOf(id).detect(events, ctx)).toEqual(await detectorOf(id).detect(events, ctx))
    }
  })

  it('asks nothing of storage for a batch without a relevant event, and once for every entity a batch touches', async () => {
    const counted = countingStore(h.store)
    const quiet = [streamEvent({ reason: 'internal_error', outcome: 'error' })]
    for (const d of ACCOUNT_DETECTORS) {
      await d.detect(quiet, { store: counted.store, rule: ruleOf(d.ruleId) })
      await d.detect([], { store: counted.store, rule: ruleOf(d.ruleId) })
    }
    expect(counted.queries).toBe(0)

    const many = Array.from({ length: 50 }, (_, i) =>
      streamEvent({ api_key_id: `ak_${i}`, user_id: `u_${i}`, client_ip: `198.51.100.${i}`, reason: ['bad_signature', 'rate_limited', 'scope_denied', 'ip_not_allowed'][i % 4] as string }),
    )
    for (const d of ACCOUNT_DETECTORS) {
      const before = counted.queries
      await d.detect(many, { store: counted.store, rule: ruleOf(d.ruleId) })
      expect({ rule: d.ruleId, queries: counted.queries - before }).toEqual({ rule: d.ruleId, queries: 1 })
    }
  })
})

describe('networks', () => {
  it('are named as ClickHouse names them, at any prefix', async () => {
    const cases: Array<[string, number, number]> = [
      ['203.0.113.77', 24, 48],
      ['203.0.113.77', 20, 48],
      ['10.1.2.3', 32, 48],
      ['2001:db8:4a2c:1::10', 24, 48],
      ['2001:db8:0:1::5', 24, 64],
      ['2001:0:0:1:0:0:0:1', 24, 80],
      ['1:0:2:0:0:3:0:0', 24, 128],
      ['fe80::1:0:0:1', 24, 56],
      ['64:ff9b::192.0.2.1', 24, 112],
    ]
    for (const [ip, v4, v6] of cases) {
      const [row] = await h.store.query<{ net: string }>(`SELECT ${networkSql('{ip:String}')} AS net`, { ip, v4_prefix: v4, v6_prefix: v6 })
      expect({ ip, v4, v6, net: networkId(ip, v4, v6) }).toEqual({ ip, v4, v6, net: row?.net })
    }
    expect(networkId('not an address', 24, 48)).toBeUndefined()
  })
})

describe('windows', () => {
  const e = (ms: number, id = `w${ms}`) => streamEvent({ id, tsMs: ms })
  it('end at the newest event of a live batch, one per entity', () => {
    const ws = planWindows([e(T), e(T + 200), e(T + 700)], ['api_key'], 300_000, (x) => x.api_key_id)
    expect(ws).toHaveLength(1)
    expect(ws[0]).toMatchObject({ endSec: (T + 700 - ((T + 700) % 1000)) / 1000, startSec: (T - (T % 1000)) / 1000 - 300 })
    expect(ws[0]?.events).toHaveLength(3)
  })
  it('split a batch spanning history into windows a quarter window apart at most', () => {
    const ws = planWindows([e(T - 3600_000), e(T - 3590_000), e(T)], ['api_key'], 300_000, (x) => x.api_key_id)
    expect(ws.map((w) => w.endSec * 1000)).toEqual([T - 3590_000, T])
  })
})

describe('score', () => {
  it('is 50 at the threshold, 75 at twice it, 100 from four times it', () => {
    expect([scoreFromRatio(1), scoreFromRatio(2), scoreFromRatio(4), scoreFromRatio(40), scoreFromRatio(0)]).toEqual([50, 75, 100, 100, 0])
  })
})

function streamEvent(over: Partial<StreamEvent>): StreamEvent {
  const tsMs = over.tsMs ?? T
  return {
    receivedAt: at(tsMs),
    tsMs,
    ts: at(tsMs),
    source: 'test',
    id: `s-${++n}`,
    action: 'api.request',
    outcome: 'failure',
    reason: 'bad_signature',
    api_key_id: KEY,
    account_id: '',
    user_id: '',
    client_ip: '203.0.113.45',
    http_path: '/v1/orders',
    attrs: {},
    order_qty: null,
    order_notional: null,
    order_symbol: '',
    order_currency: '',
    geo_country: '',
    geo_city: '',
    geo_lat: null,
    geo_lon: null,
    clock_skew_ms: 0,
    ...over,
  }
}

/** The stored stream as the engine hands it to detectors. */
async function streamEvents(s: Store): Promise<StreamEvent[]> {
  const rows = await s.query<{ id: string; ts: string; receivedAt: string; reason: string; outcome: string; action: string; api_key_id: string; ip: string }>(
    `SELECT id, toString(ts) AS ts, toString(received_at) AS receivedAt, reason, outcome, action, api_key_id,
      replaceRegexpOne(IPv6NumToString(client_ip), '^::ffff:', '') AS ip FROM detect_stream ORDER BY received_at, id`,
  )
  return rows.map((r) => {
    const tsMs = Date.parse(`${r.ts.replace(' ', 'T')}Z`)
    return streamEvent({ id: r.id, tsMs, ts: at(tsMs), receivedAt: at(Date.parse(`${r.receivedAt.replace(' ', 'T')}Z`)), reason: r.reason, outcome: r.outcome, action: r.action, api_key_id: r.api_key_id, client_ip: r.ip })
  })
}

function countingStore(inner: Store): { store: Store; readonly queries: number } {
  const out = {
    queries: 0,
    store: {
      ...inner,
      query: <T,>(sql: string, params?: Record<string, unknown>) => {
        out.queries++
        return inner.query<T>(sql, params)
      },
    } as Store,
  }
  return out
}
