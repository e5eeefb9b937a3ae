/**
 * What the rule fixtures (detectors.test.ts) do not cover for the behaviour detectors:
 * issue 3's acceptance test (a key with a week of ordinary, noisy history stays silent on a
 * normal day and fires on a 30× spike), late events, allowlists, history carried across
 * ticks, the same events seen twice, and how many queries a tick costs. Everything runs
 * through the real engine on embedded ClickHouse.
 */
import { describe, it, expect, beforeAll, afterAll, beforeEach, afterEach } from 'vitest'
import { pino } from 'pino'
import type { Store } from '@vigil/core'
import { DetectionEngine } from '../engine.js'
import type { Detector, EngineRule } from '../detector.js'
import { loadRules } from '../rules.js'
import type { Alert } from '../alerts.js'
import { startDetectHarness, storeEvents, type DetectHarness } from '../test-support.js'
import { BEHAVIOUR_DETECTORS } from './behaviour-detectors.js'
import { DETECTION_TABLES } from '../fixture-runner.js'

// The tables a detection test fills: one list, kept with the runner that empties them too.
const TABLES = DETECTION_TABLES

const RULES = loadRules()
const MIN = 60_000
const HOUR = 3_600_000
const DAY = 86_400_000

function ruleOf(id: string, patch: { params?: Record<string, unknown>; allowlist?: EngineRule['allowlist'] } = {}): EngineRule {
  const r = RULES.find((x) => x.id === id)
  if (!r) throw new Error(`no rule ${id}`)
  return { ...r, enabled: true, params: { ...r.params, ...patch.params }, ...(patch.allowlist ? { allowlist: patch.allowlist } : {}) }
}

function detectorOf(id: string): Detector {
  const d = BEHAVIOUR_DETECTORS.find((x) => x.ruleId === id)
  if (!d) throw new Error(`no detector ${id}`)
  return d
}

let h: DetectHarness
let logs: string[]
const logger = () => pino({ level: 'warn' }, { write: (s: string) => void logs.push(s) })

beforeAll(async () => {
  h = await startDetectHarness()
}, 60_000)
afterAll(async () => {
  await h?.close()
})
beforeEach(async () => {
  logs = []
  for (const t of TABLES) await h.store.command(`TRUNCATE TABLE IF EXISTS ${t}`)
})
afterEach(() => {
  // A detector that throws is logged and skipped by the engine: that must never be why a test passes.
  expect(logs).toEqual([])
})

function engineFor(rules: readonly EngineRule[], name = 'test', store: Store = h.store, memory = true): DetectionEngine {
  return new DetectionEngine({ store, logger: logger(), rules, detectors: rules.map((r) => detectorOf(r.id)), name, memory })
}

const alertsOf = async (engine: DetectionEngine, rule?: string): Promise<Alert[]> => engine.alerts.list({ limit: 1000, ...(rule ? { rule } : {}) })

let seq = 0
const iso = (ms: number) => new Date(ms).toISOString()
const ev = (tsMs: number, over: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: `bt-${++seq}`,
  ts: iso(tsMs),
  action: 'api.request',
  outcome: 'success',
  ...over,
})

// ---------------------------------------------------------------------------------------
// A week of a desk's orders: busy at the European open and the New York open, steady in
// between, quiet at night and at weekends, with day-to-day and minute-to-minute noise.

/** mulberry32: the same seed gives the same week, so the test never flakes. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function poisson(lambda: number, rand: () => number): number {
  // Knuth's method; lambdas here stay small (at most ~30 a bucket).
  const l = Math.exp(-lambda)
  let k = 0
  let p = 1
  do {
    k++
    p *= rand()
  } while (p > l)
  return k - 1
}

/** Orders a minute by UTC time of day, for a weekday. */
function ordersPerMinute(minuteOfDay: number): number {
  const h = minuteOfDay / 60
  if (h >= 7 && h < 8) return 2
  if (h >= 8 && h < 14.5) return 0.6
  if (h >= 14.5 && h < 15.5) return 2.5
  if (h >= 15.5 && h < 16.5) return 0.8
  if (h >= 16.5 && h < 20) return 0.2
  return 0.01
}

const DESK_KEY = 'ak_algo_DESK7'
const SYMBOLS = [
  ['SAP', 215.4],
  ['SIE', 181.2],
  ['ALV', 296.8],
  ['DTE', 28.7],
] as const

/** The desk's orders for one day starting at `dayMs` (00:00 UTC), by 10-minute bucket. */
function deskDay(dayMs: number, rand: () => number, opts: { untilMs?: number } = {}): Array<Record<string, unknown>> {
  const weekday = new Date(dayMs).getUTCDay()
  const weekend = weekday === 0 || weekday === 6
  const dayFactor = 0.8 + 0.4 * rand()
  const out: Array<Record<string, unknown>> = []
  for (let b = 0; b < 144; b++) {
    const start = dayMs + b * 10 * MIN
    if (opts.untilMs !== undefined && start >= opts.untilMs) break
    const lambda = weekend ? 0.05 : ordersPerMinute(b * 10) * 10 * dayFactor
    const n = poisson(lambda, rand)
    for (let i = 0; i < n; i++) out.push(deskOrder(start + Math.floor(rand() * 10 * MIN), rand))
  }
  return out
}

function deskOrder(tsMs: number, rand: () => number): Record<string, unknown> {
  const [symbol, price] = SYMBOLS[Math.floor(rand() * SYMBOLS.length)] as (typeof SYMBOLS)[number]
  const qty = Math.round(50 + 250 * rand())
  return ev(tsMs, {
    action: 'order.new',
    api_key_id: DESK_KEY,
    account_id: 'ACC-7700',
    client_ip: '192.0.2.77',
    http: { method: 'POST', path: '/v1/orders', status: 201 },
    order: { symbol, side: rand() < 0.5 ? 'buy' : 'sell', type: 'limit', qty, price, notional: Math.round(qty * price * 100) / 100, currency: 'EUR', venue: 'XETR' },
  })
}

// Monday 2026-11-16 00:00 UTC: seven days of history, then Monday the 23rd is "today".
const WEEK_START = Date.UTC(2026, 10, 16)
const TODAY = WEEK_START + 7 * DAY

async function storeDeskWeek(seed: number): Promise<Array<Record<string, unknown>>> {
  const rand = rng(seed)
  const week: Array<Record<string, unknown>> = []
  for (let d = 0; d < 7; d++) week.push(...deskDay(WEEK_START + d * DAY, rand))
  await storeEvents(h.store, week)
  return week
}

const countIn = (events: ReadonlyArray<Record<string, unknown>>, from: number, to: number) =>
  events.filter((e) => {
    const t = Date.parse(e.ts as string)
    return t >= from && t < to
  }).length

describe('volume.spike (issue 3 acceptance)', () => {
  it('stays silent on a normal day after a week of noisy history and fires on a 30× spike', async () => {
    const rule = ruleOf('volume.spike')
    const engine = engineFor([rule])
    const week = await storeDeskWeek(7)
    expect(week.length).toBeGreaterThan(2000)
    await engine.tick()
    expect(await alertsOf(engine)).toEqual([])

    // Today, Monday: the same desk, other noise.
    const monday = deskDay(TODAY, rng(1234))
    await storeEvents(h.store, monday)
    const r1 = await engine.tick()
    expect(r1.events).toBe(monday.length)
    expect(await alertsOf(engine)).toEqual([])

    // Tuesday 10:00-10:10: thirty times what the key did there last Tuesday.
    const slot = TODAY + DAY + 10 * HOUR
    const usual = Math.max(countIn(week, slot - 7 * DAY, slot - 7 * DAY + 10 * MIN), 4)
    const rand = rng(99)
    const spike = Array.from({ length: 30 * usual }, () => deskOrder(slot + Math.floor(rand() * 10 * MIN), rand))
    await storeEvents(h.store, spike)
    const r2 = await engine.tick()
    expect(r2.created).toBe(1)
    const [alert] = await alertsOf(engine)
    expect(alert).toMatchObject({ rule: 'volume.spike', entity: { type: 'api_key', id: DESK_KEY }, api_key_id: DESK_KEY, account_id: 'ACC-7700', count: spike.length })
    expect(Date.parse(alert?.first_seen as string)).toBeGreaterThanOrEqual(slot)
    expect(Date.parse(alert?.last_seen as string)).toBeLessThan(slot + 10 * MIN)
    expect(alert?.evidence).toMatchObject({ reason: 'zscore', samples: 1, value: spike.length })
    expect(alert?.evidence.z as number).toBeGreaterThanOrEqual(6)
    expect((alert?.evidence.metrics as { orders: { ratio: number } }).orders.ratio).toBeGreaterThanOrEqual(25)
    expect((alert?.evidence.sample_event_ids as string[]).length).toBe(10)
    expect(alert?.summary).toMatch(/^Key ak_algo_DESK7 sent \d+ orders in the 10 min from 2026-11-24 10:00 UTC/)
    expect(alert?.score).toBeGreaterThanOrEqual(50)
  }, 60_000)

  it('judges a late burst in the bucket it belongs to, not in the newest one', async () => {
    const rule = ruleOf('volume.spike')
    const engine = engineFor([rule])
    const week = await storeDeskWeek(11)
    await storeEvents(h.store, deskDay(TODAY, rng(5), { untilMs: TODAY + 13 * HOUR }))
    await engine.tick()
    expect(await alertsOf(engine)).toEqual([])

    // Arrives after 13:00's orders, but happened at 09:00.
    const slot = TODAY + 9 * HOUR
    const usual = Math.max(countIn(week, slot - 7 * DAY, slot - 7 * DAY + 10 * MIN), 4)
    const rand = rng(3)
    await storeEvents(h.store, Array.from({ length: 30 * usual }, () => deskOrder(slot + Math.floor(rand() * 10 * MIN), rand)))
    expect((await engine.tick()).created).toBe(1)
    const [alert] = await alertsOf(engine)
    expect(alert?.first_seen.startsWith('2026-11-23T09:0')).toBe(true)
    expect(alert?.summary).toContain('from 2026-11-23 09:00 UTC')
  }, 60_000)

  it('counts only the rule\'s order_actions', async () => {
    const t0 = Date.UTC(2026, 10, 24, 10)
    const burst = (action: string) =>
      Array.from({ length: 40 }, (_, i) => ev(t0 + i * 1000, { action, api_key_id: 'ak_new_REPL1', order: { symbol: 'SAP', qty: 1, price: 1, notional: 1 } }))
    await storeEvents(h.store, [...burst('order.replace'), ...burst('order.new')])
    const tight = { cold_start_max_orders: 50 }
    // 40 of each: only a rule that counts both sees 80 > 50.
    const onlyNew = engineFor([ruleOf('volume.spike', { params: tight })], 'a')
    await onlyNew.tick()
    expect(await alertsOf(onlyNew)).toEqual([])
    const both = engineFor([ruleOf('volume.spike', { params: { ...tight, order_actions: ['order.new', 'order.replace'] } })], 'b')
    await both.tick()
    expect((await alertsOf(both)).map((a) => a.evidence.value)).toEqual([80])
  })
})

// ---------------------------------------------------------------------------------------

const GB = { country: 'GB', region: 'ENG', city: 'London', lat: 51.5072, lon: -0.1276 }
const FR = { country: 'FR', region: 'IDF', city: 'Paris', lat: 48.8566, lon: 2.3522 }
const DE = { country: 'DE', region: 'BY', city: 'Munich', lat: 48.1351, lon: 11.582 }
const US_VA = { country: 'US', region: 'VA', city: 'Ashburn', lat: 39.0438, lon: -77.4874 }
const SG = { country: 'SG', city: 'Singapore', lat: 1.2864, lon: 103.8503 }
const NOW = Date.UTC(2026, 10, 24, 14, 30)

const use = (tsMs: number, key: string, ip: string, geo: Record<string, unknown>, over: Record<string, unknown> = {}) =>
  ev(tsMs, { api_key_id: key, account_id: 'ACC-3300', client_ip: ip, geo, http: { method: 'GET', path: '/v1/positions', status: 200 }, ...over })

/** `n` uses from London every `stepMs`, the last one `stepMs` before `untilMs`. */
const londonHistory = (key: string, n: number, stepMs: number, untilMs: number) =>
  Array.from({ length: n }, (_, i) => use(untilMs - (n - i) * stepMs, key, '81.2.69.142', GB))

describe('geo.new_country', () => {
  it('judges a late event at its own time, and a later-arriving earlier one adds no alert', async () => {
    const engine = engineFor([ruleOf('geo.new_country')])
    await storeEvents(h.store, londonHistory('ak_live_GEO1', 80, 4 * HOUR, NOW))
    await storeEvents(h.store, [use(NOW, 'ak_live_GEO1', '81.2.69.142', GB)])
    await engine.tick()
    expect(await alertsOf(engine)).toEqual([])

    await storeEvents(h.store, [use(NOW - 2 * HOUR, 'ak_live_GEO1', '80.12.0.1', FR)])
    expect((await engine.tick()).created).toBe(1)
    const [alert] = await alertsOf(engine)
    expect(alert).toMatchObject({ first_seen: iso(NOW - 2 * HOUR).replace('.000', ''), client_ip: '80.12.0.1', evidence: { country: 'FR', known_countries: ['GB'] } })
    // The 80 London uses before it; key_geo cannot tell that the one at NOW came after it,
    // so for a late event the count is an upper bound (documented in behaviour-geo.ts).
    expect(alert?.evidence.history_events).toBe(81)

    await storeEvents(h.store, [use(NOW - 3 * HOUR, 'ak_live_GEO1', '80.12.0.2', FR)])
    const r = await engine.tick()
    expect(r).toMatchObject({ findings: 1, created: 0, repeated: 0 })
    expect(await alertsOf(engine)).toHaveLength(1)
  })

  it('skips allowlisted countries and addresses', async () => {
    await storeEvents(h.store, londonHistory('ak_live_GEO2', 80, 4 * HOUR, NOW))
    await storeEvents(h.store, [use(NOW, 'ak_live_GEO2', '80.12.0.1', FR), use(NOW + 10_000, 'ak_live_GEO2', '203.0.113.9', DE)])
    const byCountry = engineFor([ruleOf('geo.new_country', { allowlist: { countries: ['FR', 'DE'] } })], 'a')
    await byCountry.tick()
    expect(await alertsOf(byCountry)).toEqual([])
    const byCidr = engineFor([ruleOf('geo.new_country', { allowlist: { ips: ['80.12.0.0/16', '203.0.113.0/24'] } })], 'b')
    await byCidr.tick()
    expect(await alertsOf(byCidr)).toEqual([])
    const none = engineFor([ruleOf('geo.new_country')], 'c')
    await none.tick()
    expect((await alertsOf(none)).map((a) => a.evidence.countries)).toEqual([['FR', 'DE']])
  })

  it('knows a country used within history_days, however long ago it was first seen, and forgets one unused for longer', async () => {
    const key = 'ak_live_GEO3'
    // Germany 200 days ago, again 30 days ago; France 120 days ago only; London every 4 h.
    await storeEvents(h.store, [
      use(NOW - 200 * DAY, key, '88.217.0.1', DE),
      use(NOW - 30 * DAY, key, '88.217.0.1', DE),
      use(NOW - 120 * DAY, key, '80.12.0.1', FR),
      ...londonHistory(key, 80, 4 * HOUR, NOW),
    ])
    const engine = engineFor([ruleOf('geo.new_country')])
    await engine.tick()
    expect(await alertsOf(engine)).toEqual([])
    await storeEvents(h.store, [use(NOW, key, '88.217.0.1', DE), use(NOW + MIN, key, '80.12.0.1', FR)])
    await engine.tick()
    const alerts = await alertsOf(engine)
    expect(alerts.map((a) => a.evidence.countries)).toEqual([['FR']])
  })
})

describe('geo.impossible_travel', () => {
  it('compares the first use of a batch with the key\'s previous one in storage, skipping allowlisted egress', async () => {
    const key = 'ak_live_TRV1'
    const engine = engineFor([ruleOf('geo.impossible_travel', { allowlist: { ips: ['192.0.2.0/26'] } })])
    await storeEvents(h.store, [use(NOW, key, '81.2.69.142', GB)])
    await engine.tick()
    await storeEvents(h.store, [use(NOW + 5 * MIN, key, '192.0.2.20', US_VA)])
    await engine.tick()
    // Paris 3 h after London is a train ride; 2 h 55 after the allowlisted VPN in Virginia it
    // would not be, but the VPN says nothing about where the client is.
    await storeEvents(h.store, [use(NOW + 3 * HOUR, key, '80.12.0.1', FR)])
    await engine.tick()
    expect(await alertsOf(engine)).toEqual([])

    await storeEvents(h.store, [use(NOW + 3.5 * HOUR, key, '118.189.0.1', SG)])
    expect((await engine.tick()).created).toBe(1)
    const [alert] = await alertsOf(engine)
    expect(alert?.evidence).toMatchObject({ from: { country: 'FR', client_ip: '80.12.0.1' }, to: { country: 'SG' }, elapsed_s: 1800 })
    expect(alert?.first_seen).toBe(iso(NOW + 3 * HOUR).replace('.000', ''))
  })

  it('does not compare uses further apart than the window', async () => {
    const key = 'ak_live_TRV2'
    const engine = engineFor([ruleOf('geo.impossible_travel')])
    await storeEvents(h.store, [use(NOW, key, '81.2.69.142', GB)])
    await engine.tick()
    // 13 h later from Singapore: possible anyway, and outside the 12 h window.
    await storeEvents(h.store, [use(NOW + 13 * HOUR, key, '118.189.0.1', SG)])
    await engine.tick()
    expect(await alertsOf(engine)).toEqual([])
  })
})

// ---------------------------------------------------------------------------------------

const order = (tsMs: number, key: string, symbol: string, qty: number, price: number, over: Record<string, unknown> = {}) =>
  ev(tsMs, {
    action: 'order.new',
    api_key_id: key,
    account_id: 'ACC-6600',
    client_ip: '192.0.2.60',
    order: { symbol, side: 'buy', type: 'limit', qty, price, notional: qty * price, currency: 'USD' },
    ...over,
  })

describe('order.fat_finger', () => {
  it('compares qty within the symbol and keeps history across ticks', async () => {
    const key = 'ak_algo_FF1'
    const engine = engineFor([ruleOf('order.fat_finger')])
    const history = Array.from({ length: 40 }, (_, i) => [
      order(NOW - (40 - i) * HOUR, key, 'AAPL', [100, 150, 200, 120][i % 4] as number, 228.5),
      order(NOW - (40 - i) * HOUR + MIN, key, 'SIRI', [20_000, 25_000, 30_000, 22_000][i % 4] as number, 3.1),
    ]).flat()
    await storeEvents(h.store, history)
    await engine.tick()
    expect(await alertsOf(engine)).toEqual([])

    // 25,000 SIRI is ordinary for SIRI; 25,000 AAPL is not.
    await storeEvents(h.store, [order(NOW, key, 'SIRI', 25_000, 3.1)])
    await engine.tick()
    expect(await alertsOf(engine)).toEqual([])
    await storeEvents(h.store, [order(NOW + 5 * MIN, key, 'AAPL', 25_000, 228.5)])
    expect((await engine.tick()).created).toBe(1)
    const [alert] = await alertsOf(engine)
    expect(alert?.evidence).toMatchObject({ field: 'qty', reason: 'zscore', symbol: 'AAPL', samples: 40 })
    expect(alert?.summary).toMatch(/^Key ak_algo_FF1 sent an order in AAPL with qty 25,000, .*\(robust z/)
  })

  it('judges an order whose history is partly stored and partly in its own batch', async () => {
    const key = 'ak_algo_FF3'
    const engine = engineFor([ruleOf('order.fat_finger')])
    const hist = (from: number, n: number) => Array.from({ length: n }, (_, i) => order(NOW - (from - i) * HOUR, key, 'AAPL', [100, 150, 200, 120][i % 4] as number, 228.5))
    await storeEvents(h.store, hist(40, 20))
    await engine.tick()
    await storeEvents(h.store, [...hist(20, 20), order(NOW, key, 'AAPL', 50_000, 228.5)])
    expect((await engine.tick()).created).toBe(1)
    expect((await alertsOf(engine))[0]?.evidence).toMatchObject({ field: 'qty', reason: 'zscore', samples: 40 })
  })

  it('leaves allowlisted accounts out', async () => {
    await storeEvents(h.store, [order(NOW, 'ak_algo_FF2', 'SIRI', 2_500_000, 0.85)])
    const engine = engineFor([ruleOf('order.fat_finger', { allowlist: { accounts: ['ACC-6600'] } })])
    await engine.tick()
    expect(await alertsOf(engine)).toEqual([])
  })
})

describe('ids.injection', () => {
  const probe = (tsMs: number, ip: string, path: string) => ev(tsMs, { outcome: 'failure', reason: 'invalid_request', client_ip: ip, http: { method: 'GET', path, status: 400 } })

  it('skips an allowlisted scanner range', async () => {
    await storeEvents(h.store, [probe(NOW, '198.51.100.7', '/v1/orders?id=1%27%20OR%20%271%27%3D%271')])
    const engine = engineFor([ruleOf('ids.injection', { allowlist: { ips: ['198.51.100.0/24'] } })])
    await engine.tick()
    expect(await alertsOf(engine)).toEqual([])
  })

  it('with min_matches above 1, counts matches that arrived in earlier ticks', async () => {
    const engine = engineFor([ruleOf('ids.injection', { params: { min_matches: 2 } })])
    await storeEvents(h.store, [probe(NOW, '203.0.113.80', '/v1/reports/..%2f..%2fetc%2fpasswd')])
    await engine.tick()
    expect(await alertsOf(engine)).toEqual([])
    await storeEvents(h.store, [probe(NOW + 20_000, '203.0.113.80', '/v1/files/%252e%252e%252fetc%252fshadow'), probe(NOW + 20_000, '203.0.113.81', '/v1/x?a=%3Cscript%3Ealert(1)%3C/script%3E')])
    expect((await engine.tick()).created).toBe(1)
    const [alert] = await alertsOf(engine)
    expect(alert).toMatchObject({ entity: { type: 'ip', id: '203.0.113.80' }, count: 1, evidence: { value: 2, threshold: 2 } })
    // Outside the window: a third probe two minutes on starts over.
    await storeEvents(h.store, [probe(NOW + 3 * MIN, '203.0.113.81', '/v1/x?a=%3Cscript%3Ealert(1)%3C/script%3E')])
    expect((await engine.tick()).findings).toBe(0)
  })
})

describe('clock.skew', () => {
  const skewed = (tsMs: number, skew: number) => ({ ...ev(tsMs), received_at: iso(tsMs + skew) })
  const store = async (source: string, events: Array<Record<string, unknown>>) => {
    // storeEvents sets one received_at per call; clock_skew_ms is what ingest would have computed.
    await storeEvents(h.store, events.map((e) => ({ ...e, clock_skew_ms: Date.parse(e.received_at as string) - Date.parse(e.ts as string) })), { source })
  }

  it('judges the whole window, whichever tick brought its events, and honours per-source limits', async () => {
    const rule = ruleOf('clock.skew', { params: { max_skew_ms: 1, source_max_skew_ms: { 'voice-desk': 1000 } } })
    const engine = engineFor([rule])
    await store('gw-a', Array.from({ length: 12 }, (_, i) => skewed(NOW + i * 5000, 4)))
    await store('voice-desk', Array.from({ length: 30 }, (_, i) => skewed(NOW + i * 5000, 40)))
    await engine.tick()
    // gw-a has 12 < 20 events so far; voice-desk is within its own 1 s.
    expect(await alertsOf(engine)).toEqual([])
    // Arrives after voice-desk's last (the engine reads in arrival order), same window.
    await store('gw-a', Array.from({ length: 12 }, (_, i) => skewed(NOW + 150_000 + i * 5000, 4)))
    expect((await engine.tick()).created).toBe(1)
    const [alert] = await alertsOf(engine)
    expect(alert).toMatchObject({ entity: { type: 'source', id: 'gw-a' }, count: 12, evidence: { events: 24, threshold: 1, direction: 'behind' } })
  })
})

// ---------------------------------------------------------------------------------------

/** One batch on which every behaviour rule fires once. */
function everythingBatch(): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = []
  out.push(...londonHistory('ak_live_ALL1', 80, 4 * HOUR, NOW))
  out.push(use(NOW, 'ak_live_ALL1', '118.189.0.1', SG))
  out.push(...Array.from({ length: 320 }, (_, i) => order(NOW + i * 1000, 'ak_algo_ALL2', 'SAP', 10, 200)))
  out.push(order(NOW + 2000, 'ak_algo_ALL3', 'SIRI', 2_500_000, 0.85))
  out.push(ev(NOW, { client_ip: '203.0.113.99', http: { method: 'GET', path: '/v1/reports/..%2f..%2fetc%2fpasswd', status: 404 } }))
  out.push(...Array.from({ length: 30 }, (_, i) => ({ ...ev(NOW + i * 5000), source: 'gw-skew', received_at: iso(NOW + i * 5000 + 900), clock_skew_ms: 900 })))
  return out
}

describe('all six', () => {
  const ids = ['volume.spike', 'order.fat_finger', 'geo.new_country', 'geo.impossible_travel', 'ids.injection', 'clock.skew']

  it('raise one alert each, and the same events seen again (a second process, a restart) raise none', async () => {
    const rules = ids.map((id) => ruleOf(id))
    await storeEvents(h.store, everythingBatch())
    const first = engineFor(rules, 'one')
    const r1 = await first.tick()
    expect(r1.created).toBe(6)
    const before = await alertsOf(first)
    expect(before.map((a) => a.rule).sort()).toEqual([...ids].sort())
    for (const a of before) {
      expect(a.summary).toMatch(/\.$/)
      expect(a.score).toBeGreaterThanOrEqual(50)
      expect(a.score).toBeLessThanOrEqual(100)
      expect((a.evidence.sample_event_ids as string[]).length).toBeGreaterThan(0)
      expect((a.evidence.sample_event_ids as string[]).length).toBeLessThanOrEqual(10)
    }

    const second = engineFor(rules, 'two')
    expect(await second.tick()).toMatchObject({ created: 0, repeated: 0 })
    // A restart re-reads its overlap: the same findings again, nothing new.
    const restarted = engineFor(rules, 'one')
    expect(await restarted.tick()).toMatchObject({ created: 0, repeated: 0 })
    expect(await alertsOf(first)).toEqual(before)
  }, 60_000)

  it('query storage a bounded number of times a tick, and not at all when the batch holds nothing for them', async () => {
    let queries = 0
    const counting = new Proxy(h.store, {
      get(target, prop, receiver) {
        if (prop === 'query') {
          return (sql: string, params?: Record<string, unknown>) => {
            if (!/FROM detect_stream|FROM detect_cursor|FROM \(?\s*SELECT id,|FROM alert_changes/.test(sql)) queries++
            return target.query(sql, params)
          }
        }
        return Reflect.get(target, prop, receiver) as unknown
      },
    })
    const perRule = async (events: Array<Record<string, unknown>>) => {
      const out: Record<string, number> = {}
      for (const id of ids) {
        for (const t of TABLES) await h.store.command(`TRUNCATE TABLE IF EXISTS ${t}`)
        await storeEvents(h.store, events)
        queries = 0
        // Storage's own cost per tick: without memory (memory.test.ts counts what memory saves).
        await engineFor([ruleOf(id)], 'count', counting, false).tick()
        out[id] = queries
      }
      return out
    }
    // Reads with no key, no order, no location, nothing odd in the path.
    const quiet = Array.from({ length: 50 }, (_, i) => ev(NOW + i * 1000, { client_ip: '192.0.2.1', http: { method: 'GET', path: '/v1/status', status: 200 } }))
    expect(await perRule(quiet)).toEqual({ 'volume.spike': 0, 'order.fat_finger': 0, 'geo.new_country': 0, 'geo.impossible_travel': 0, 'ids.injection': 0, 'clock.skew': 1 })
    const busy = await perRule(everythingBatch())
    expect(busy['volume.spike']).toBe(2)
    expect(busy['order.fat_finger']).toBe(1)
    expect(busy['geo.new_country']).toBeLessThanOrEqual(2)
    expect(busy['geo.impossible_travel']).toBe(1)
    expect(busy['ids.injection']).toBe(0)
    expect(busy['clock.skew']).toBe(1)
  }, 60_000)
})
