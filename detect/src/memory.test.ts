/**
 * Engine memory (memory.ts) may only make detection cheaper, never different: the same stream,
 * delivered tick by tick, through an engine with memory and one without, must give the same
 * findings at every tick; and in ordinary traffic the engine with memory must stop reading
 * storage for the detectors that remember. Real engine, real embedded ClickHouse.
 */
import { describe, it, expect, beforeAll, afterAll, beforeEach } from 'vitest'
import { pino } from 'pino'
import type { Store } from '@vigil/core'
import { DetectionEngine } from './engine.js'
import type { Detector, EngineRule, Finding } from './detector.js'
import { loadRules } from './rules.js'
import { BUILTIN_DETECTORS } from './detectors/index.js'
import { DETECTION_TABLES } from './fixture-runner.js'
import { startDetectHarness, storeEvents, type DetectHarness } from './test-support.js'
import { DetectorMemory } from './memory.js'

const RULES = loadRules()
const REMEMBERING = ['geo.new_country', 'geo.impossible_travel', 'auth.success_after_failures', 'volume.spike', 'order.fat_finger', 'clock.skew'] as const
const HOUR = 3_600_000
const DAY = 24 * HOUR

const GB = { country: 'GB', city: 'London', lat: 51.5142, lon: -0.0931 }
const US = { country: 'US', city: 'New York', lat: 40.7128, lon: -74.006 }
const BR = { country: 'BR', city: 'Sao Paulo', lat: -23.5475, lon: -46.6361 }
const JP = { country: 'JP', city: 'Tokyo', lat: 35.6895, lon: 139.6917 }

let h: DetectHarness
beforeAll(async () => {
  h = await startDetectHarness()
}, 60_000)
afterAll(async () => {
  await h?.close()
})
beforeEach(async () => {
  for (const t of DETECTION_TABLES) await h.store.command(`TRUNCATE TABLE IF EXISTS ${t}`)
})

function ruleOf(id: string): EngineRule {
  const r = RULES.find((x) => x.id === id)
  if (!r) throw new Error(`no rule ${id}`)
  return { ...r, enabled: true }
}

/** A store that counts the queries a detector makes (reads only; the engine's own are not wrapped). */
function counting(store: Store): { store: Store; count: () => number } {
  let n = 0
  const wrapped = Object.create(store) as Store
  wrapped.query = (async (sql: string, params?: Record<string, unknown>) => {
    n++
    return store.query(sql, params as never)
  }) as Store['query']
  return { store: wrapped, count: () => n }
}

/** Records what each call of the detector found, and counts its storage reads (in total and per rule). */
function recording(d: Detector, calls: Array<{ rule: string; findings: Finding[] }>, reads: { n: number; byRule?: Record<string, number> }): Detector {
  return {
    ruleId: d.ruleId,
    ...(d.warmUp ? { warmUp: (ctx: Parameters<NonNullable<Detector['warmUp']>>[0]) => (d.warmUp as NonNullable<Detector['warmUp']>)(ctx) } : {}),
    ...(d.prepare ? { prepare: (ctx: Parameters<NonNullable<Detector['prepare']>>[0]) => (d.prepare as NonNullable<Detector['prepare']>)(ctx) } : {}),
    async detect(events, ctx) {
      const c = counting(ctx.store)
      const findings = await d.detect(events, { ...ctx, store: c.store })
      reads.n += c.count()
      if (reads.byRule) reads.byRule[d.ruleId] = (reads.byRule[d.ruleId] ?? 0) + c.count()
      calls.push({ rule: d.ruleId, findings })
      return findings
    },
  }
}

let seq = 0
const use = (tsMs: number, key: string, geo: typeof GB, over: Record<string, unknown> = {}) => ({
  id: `mem-${++seq}`,
  ts: new Date(tsMs).toISOString(),
  action: 'api.request',
  outcome: 'success',
  api_key_id: key,
  account_id: `ACC-${key}`,
  client_ip: geo === GB ? '81.2.69.142' : geo === US ? '98.137.11.163' : geo === BR ? '200.147.67.142' : '210.140.92.183',
  geo,
  http: { method: 'GET', path: '/v1/positions', status: 200 },
  ...over,
})
const order = (tsMs: number, key: string, notional = 10_000) =>
  use(tsMs, key, GB, { action: 'order.new', order: { symbol: 'AAPL', side: 'buy', qty: 40, price: notional / 40, notional, currency: 'USD', venue: 'XNAS' } })
const failure = (tsMs: number, key: string, user: string) =>
  use(tsMs, key, GB, { action: 'auth.login', outcome: 'failure', reason: 'bad_password', user_id: user })

describe('engine memory', () => {
  it('gives the same findings as reading storage every tick, and stops reading in ordinary traffic', async () => {
    // The 40 ticks stay inside one of volume.spike's ten-minute windows: a new window's first
    // order is read once per key by design, which the quiet ticks below would count.
    const now = Math.floor(Date.now() / 1000) * 1000
    const into = now % (10 * 60_000)
    const NOW = into > 10 * 60_000 - 60_000 ? now - into + 10 * 60_000 + 5_000 : now
    const keys = Array.from({ length: 12 }, (_, i) => `ak_mem_${i}`)
    // Ten days of history from London (one key trades from New York), arrived long ago.
    const history = keys.flatMap((k, i) => Array.from({ length: 80 }, (_, n) => use(NOW - 10 * DAY + n * 3 * HOUR, k, i === 11 ? US : GB)))
    // Orders: nine days ago (old enough for a baseline), and in the same minutes a week ago,
    // 30 for ak_mem_9 (which sends as many now) and 2 for ak_mem_10 (which sends 120 now).
    history.push(order(NOW - 9 * DAY, 'ak_mem_9'), order(NOW - 9 * DAY, 'ak_mem_10'))
    for (let n = 0; n < 40; n++) history.push(order(NOW - 7 * DAY + n * 1000, 'ak_mem_9'))
    history.push(order(NOW - 7 * DAY, 'ak_mem_10'), order(NOW - 7 * DAY + 20_000, 'ak_mem_10'))
    await storeEvents(h.store, history, { receivedAt: new Date(NOW - DAY) })
    // A failure burst before the engines start: only the warm-up can know it.
    await storeEvents(h.store, Array.from({ length: 6 }, (_, n) => failure(NOW - 60_000 + n * 1000, 'ak_mem_3', 'u3')), { receivedAt: new Date(NOW - 50_000) })

    const rules = REMEMBERING.map(ruleOf)
    const detectors = REMEMBERING.map((id) => BUILTIN_DETECTORS.find((d) => d.ruleId === id) as Detector)
    const withMemory: Array<{ rule: string; findings: Finding[] }> = []
    const without: Array<{ rule: string; findings: Finding[] }> = []
    const memReads: { n: number; byRule: Record<string, number> } = { n: 0, byRule: {} }
    const plainReads = { n: 0 }
    const logger = pino({ level: 'silent' })
    const mem = new DetectionEngine({ store: h.store, logger, rules, detectors: detectors.map((d) => recording(d, withMemory, memReads)), name: 'mem' })
    const plain = new DetectionEngine({ store: h.store, logger, rules, detectors: detectors.map((d) => recording(d, without, plainReads)), name: 'plain', memory: false })
    expect(mem.memory).toBeInstanceOf(DetectorMemory)
    expect(plain.memory).toBeUndefined()

    // 40 ticks of live traffic, one second apart: every key uses the API each tick; some
    // ticks carry something worth a finding, some a late or repeated event.
    const readsAt: Array<Record<string, number>> = []
    for (let t = 0; t < 40; t++) {
      const at = NOW + t * 1000
      // From tick 30 on, only keys without failures in the last 15 minutes: ordinary traffic.
      const active = t >= 30 ? keys.filter((k) => k !== 'ak_mem_3' && k !== 'ak_mem_4') : keys
      const batch: Array<Record<string, unknown>> = active.map((k) => use(at - 500 + keys.indexOf(k), k, k === 'ak_mem_11' ? US : GB))
      batch.push(order(at - 100, 'ak_mem_9'), ...[1, 2, 3].map((n) => order(at - 100 + n, 'ak_mem_10')))
      if (t === 3) batch.push(use(at, 'ak_mem_3', GB, { action: 'auth.login', user_id: 'u3' })) // success after the pre-start burst
      if (t >= 5 && t < 11) batch.push(failure(at - 200, 'ak_mem_4', 'u4')) // a live burst …
      if (t === 12) batch.push(use(at, 'ak_mem_4', GB, { action: 'auth.login', user_id: 'u4' })) // … then its success
      if (t === 14) batch.push(use(at, 'ak_mem_5', BR)) // new country and impossible travel
      if (t === 20) batch.push(use(at - 2 * HOUR, 'ak_mem_6', JP)) // late: a new country two hours ago
      if (t === 22) batch.push(use(at - 30 * 60_000, 'ak_mem_7', JP)) // late: between two London uses
      if (t === 25) batch.push(use(at, 'ak_mem_8', GB, { user_id: 'u9', action: 'auth.login' })) // a success, no failures
      if (t === 24) batch.push(order(at, 'ak_mem_9', 1_000_000)) // 100× its usual order
      if (t === 27) batch.push({ ...(history[5] as Record<string, unknown>) }) // a stored event sent again
      await storeEvents(h.store, batch, { receivedAt: new Date(at) })
      // A co-located gateway (1 ms limit) whose clock runs 3 ms behind: 15 events on each of two ticks.
      if (t === 16 || t === 17) await storeEvents(h.store, Array.from({ length: 15 }, (_, n) => use(at - 3 - n, 'ak_mem_2', GB, { clock_skew_ms: 3 })), { source: 'fix-gw-ldn-1', receivedAt: new Date(at) })
      const before = { ...memReads.byRule }
      await mem.tick()
      await plain.tick()
      readsAt.push(Object.fromEntries(REMEMBERING.map((r) => [r, (memReads.byRule[r] ?? 0) - (before[r] ?? 0)])))
    }

    const norm = (calls: Array<{ rule: string; findings: Finding[] }>) =>
      calls.map((c) => ({ rule: c.rule, findings: c.findings.map((f) => JSON.stringify(f)).sort() }))
    expect(norm(withMemory)).toEqual(norm(without))
    const fired = new Set(withMemory.flatMap((c) => c.findings.map((f) => `${f.rule} ${f.entity.id}`)))
    // Not a vacuous comparison: each remembering rule fired, including on what only the warm-up knew.
    expect(fired).toEqual(
      new Set([
        // the key's first ordinary use after the pre-start burst, and the user's login
        'auth.success_after_failures ak_mem_3',
        'auth.success_after_failures u3',
        // the live burst: by user only, as the key's own ordinary successes split it
        'auth.success_after_failures u4',
        'geo.new_country ak_mem_5',
        'geo.impossible_travel ak_mem_5',
        // the late uses from Tokyo: new, and between London uses hours apart
        'geo.new_country ak_mem_6',
        'geo.impossible_travel ak_mem_6',
        'geo.new_country ak_mem_7',
        'geo.impossible_travel ak_mem_7',
        // 3 orders a second against 2 in the same ten minutes a week ago; not ak_mem_9's usual 40
        'volume.spike ak_mem_10',
        'order.fat_finger ak_mem_9',
        // once the gateway's window holds min_events; every other source's skews are 0, which memory clears
        'clock.skew fix-gw-ldn-1',
      ]),
    )
    // Ordinary ticks cost the remembering detectors no read at all, but for order.fat_finger
    // reading a key's bounds again once enough orders arrived (far fewer than one a tick); the
    // engine without memory reads on every tick.
    const quiet = [30, 31, 32, 33, 34, 35, 36, 37, 38, 39]
    const sum = (rule: string) => quiet.reduce((n, t) => n + ((readsAt[t] as Record<string, number>)[rule] ?? 0), 0)
    for (const rule of REMEMBERING.filter((r) => r !== 'order.fat_finger')) expect({ rule, reads: sum(rule) }).toEqual({ rule, reads: 0 })
    expect(sum('order.fat_finger')).toBeLessThanOrEqual(quiet.length / 2)
    expect(plainReads.n).toBeGreaterThanOrEqual(40 * REMEMBERING.length)
  }, 300_000)

  it('volume.spike reads the next window\'s baselines ahead, and the pass that meets them reads nothing and finds what a read finds', async () => {
    const WINDOW = 10 * 60_000
    const WEEK = 7 * DAY
    // The boundary of the window the test sends into, one to eleven minutes ahead.
    const B = Math.ceil((Date.now() + 60_000) / WINDOW) * WINDOW
    const history: Array<Record<string, unknown>> = [order(B - 9 * DAY, 'ak_pre_1'), order(B - 9 * DAY, 'ak_pre_2'), order(B - 9 * DAY, 'ak_pre_3')]
    // The same ten minutes a week ago: 2 orders for ak_pre_1, 30 for ak_pre_2.
    for (let n = 0; n < 2; n++) history.push(order(B - WEEK + n * 1000, 'ak_pre_1'))
    for (let n = 0; n < 30; n++) history.push(order(B - WEEK + n * 1000, 'ak_pre_2'))
    await storeEvents(h.store, history, { receivedAt: new Date(B - DAY) })

    const rule = ruleOf('volume.spike')
    const volume = BUILTIN_DETECTORS.find((d) => d.ruleId === 'volume.spike') as Detector
    const withMemory: Array<{ rule: string; findings: Finding[] }> = []
    const without: Array<{ rule: string; findings: Finding[] }> = []
    const passReads = { n: 0 }
    const plainReads = { n: 0 }
    const ahead = counting(h.store)
    const logger = pino({ level: 'silent' })
    const mem = new DetectionEngine({ store: h.store, backgroundStore: ahead.store, logger, rules: [rule], detectors: [recording(volume, withMemory, passReads)], name: 'pre-mem' })
    const plain = new DetectionEngine({ store: h.store, logger, rules: [rule], detectors: [recording(volume, without, plainReads)], name: 'pre-plain', memory: false })

    // Two minutes before the boundary (the last 30 % of the window): one order each, read cold.
    await storeEvents(h.store, ['ak_pre_1', 'ak_pre_2', 'ak_pre_3'].map((k) => order(B - 120_000, k)), { receivedAt: new Date(B - 120_000) })
    await mem.tick()
    await plain.tick()
    // Read ahead: every key's first order, then every key's minutes in the seasonal twins of
    // the window in progress (whose baselines that pass has just read for these keys) and, as
    // it ends within two minutes, of the next one.
    await mem.prepare()
    expect(ahead.count()).toBe(3)
    const readsBefore = passReads.n

    // In the new window: 25 orders for ak_pre_1 (2 a week ago), 30 for ak_pre_2 (as usual), 1 for ak_pre_3.
    const next: Array<Record<string, unknown>> = []
    for (let n = 0; n < 25; n++) next.push(order(B + 5_000 + n, 'ak_pre_1'))
    for (let n = 0; n < 30; n++) next.push(order(B + 5_000 + n, 'ak_pre_2'))
    next.push(order(B + 5_000, 'ak_pre_3'))
    await storeEvents(h.store, next, { receivedAt: new Date(B + 5_000) })
    await mem.tick()
    await plain.tick()
    expect(passReads.n - readsBefore).toBe(0)
    expect(plainReads.n).toBeGreaterThan(0)
    const norm = (calls: Array<{ rule: string; findings: Finding[] }>) => calls.map((c) => c.findings.map((f) => JSON.stringify(f)).sort())
    expect(norm(withMemory)).toEqual(norm(without))
    expect(withMemory.flatMap((c) => c.findings.map((f) => f.entity.id))).toEqual(['ak_pre_1'])
    // Asked again: both windows are read already.
    await mem.prepare()
    expect(ahead.count()).toBe(3)
    await mem.stop()
    await plain.stop()
  }, 120_000)

  it('forgets nothing it was not told: a cold memory reads storage, and clear() makes it cold again', () => {
    const m = new DetectorMemory()
    expect(m.coveredFromMs('x')).toBeUndefined()
    m.cover('x', 100)
    m.narrow('x', 50)
    expect(m.coveredFromMs('x')).toBe(100)
    m.narrow('x', 150)
    expect(m.coveredFromMs('x')).toBe(150)
    const slot = m.slot('r', () => new Map<string, number>())
    slot.set('a', 1)
    expect(m.slot('r', () => new Map<string, number>()).get('a')).toBe(1)
    m.clear()
    expect(m.coveredFromMs('x')).toBeUndefined()
    expect(m.slot('r', () => new Map<string, number>()).size).toBe(0)
  })
})
