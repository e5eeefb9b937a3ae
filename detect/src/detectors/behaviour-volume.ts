/**
 * volume.spike: a key's orders or notional in one `window` far above what the same key does
 * in the same slot of the week (or day).
 *
 * Buckets are the rule's window, epoch-aligned, in whole minutes (a window that is not a
 * whole number of minutes is rounded up to one): they are read from `rollup_key_orders_1m`
 * (migration 003), which counts every action so `order_actions` decides what an order is.
 * The value is the bucket holding the batch's order events (a late event is judged in its
 * own bucket); its baseline samples are the same bucket one period back, two back, … over
 * `history_days` (`seasonalHistory`: a past bucket with no orders counts as 0, one before
 * the key's first order is left out). A key younger than `min_history_days` at the event
 * (or with no sample yet) is judged by the cold-start limits instead.
 *
 * Queries per tick, only when the batch holds order events: one for the minute slots of
 * every key in the batch (the current buckets and their seasonal twins, merged into time
 * ranges shared by all keys), one for the keys' first orders.
 *
 * With engine memory (memory.ts): per key and bucket, the counted actions' rows and notional
 * the engine was handed (the warm-up sums what arrived in the `window + FUTURE_SKEW_SLACK_MS`
 * before its cursor from detect_stream, the stream adds the rest, each row once), and per key
 * and bucket the baseline samples and first order the last read gave. A bucket inside that
 * coverage whose samples are remembered is judged from memory alone, with the same code;
 * storage is read once per key and bucket (at the first order of each new window), or not at
 * all in a pass: `prepare` (called by the engine beside its passes) reads every known key's first
 * order and every key's minutes in the seasonal twins of the window in progress and, in the
 * last 30 % of it, of the next (two statements a window, none per key), and remembers the
 * baselines exactly as a pass's read would compute them; a key that orders for the first time
 * after that is read by the pass that meets it. Exact
 * but for rows memory cannot see: a history sample changed by an event arriving weeks late
 * after the read, and a row the engine never walked (visible more than its overlap behind
 * the cursor).
 */
import type { Store } from '@vigil/core'
import type { Detector, Finding, StreamEvent } from '../detector.js'
import { builtinParams } from '../rules.js'
import type { RuleParams } from '../rule-schema.js'
import { ewma, hourOfWeek, robustZ, seasonalHistory, WEEK_MS, type SeasonalPoint } from '../baseline.js'
import { chTimeToMs, DETECT_STREAM_RETENTION_MS, msToChNs } from '../engine.js'
import { MEMORY_SLOT_LIMIT, type DetectorMemory } from '../memory.js'
import { FUTURE_SKEW_SLACK_MS } from './auth-success-after-failures.js'
import {
  allowlistOf,
  bucketStart,
  DAY_MS,
  entry,
  EventGroup,
  fmtDuration,
  fmtNum,
  fmtTime,
  MINUTE_MS,
  pastThreshold,
  round,
} from './behaviour-common.js'

/** Retention of rollup_key_orders_1m (migration 003): samples older than this do not exist. */
const ROLLUP_RETENTION_DAYS = 120
/** More merged ranges than this and one query reads their hull instead (a backtest batch). */
const MAX_RANGES = 64
/** In the last this share of a window, `prepare` also reads ahead for the next one. */
const PREPARE_AHEAD_SHARE = 0.3
/** Keys `prepare` reads baselines for, at most (more keys: the rest are read by the passes that meet them). */
const PREPARE_KEY_LIMIT = 100_000
const WEEKDAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday']

type Metric = 'orders' | 'notional'

interface MetricVerdict {
  metric: Metric
  value: number
  fires: boolean
  reason: 'zscore' | 'cold_start'
  score: number
  threshold: number
  median?: number
  mad?: number
  z?: number
  ewma?: number
  baseline?: number
  ratio?: number
  samples: number
}

interface MinuteRow {
  k: string
  m: number
  o: string
  n: number
}

/** `keys` undefined: every key's minutes in `ranges`. */
async function readMinutes(
  store: Store,
  keys: readonly string[] | undefined,
  actions: readonly string[],
  ranges: ReadonlyArray<readonly [number, number]>,
): Promise<Map<string, { orders: SeasonalPoint[]; notional: SeasonalPoint[] }>> {
  // Literal seconds, not parameters: ClickHouse prunes parts and granules only on ranges it
  // can see in the WHERE, and these are integers this code computed.
  const within = ranges.map(([a, b]) => `(minute >= toDateTime(${a / 1000}, 'UTC') AND minute < toDateTime(${b / 1000}, 'UTC'))`).join(' OR ')
  const rows = await store.query<MinuteRow>(
    `SELECT api_key_id AS k, toUnixTimestamp(minute) AS m, toString(sum(orders)) AS o, sum(notional) AS n
     FROM rollup_key_orders_1m
     WHERE (${within})${keys ? ' AND api_key_id IN {keys:Array(String)}' : ''} AND action IN {actions:Array(String)}
     GROUP BY k, minute`,
    keys ? { keys, actions } : { actions },
  )
  const out = new Map<string, { orders: SeasonalPoint[]; notional: SeasonalPoint[] }>()
  for (const r of rows) {
    const p = entry(out, r.k, () => ({ orders: [], notional: [] }))
    const tsMs = Number(r.m) * 1000
    p.orders.push({ tsMs, value: Number(r.o) })
    p.notional.push({ tsMs, value: r.n })
  }
  return out
}

/** Each key's first order: of `keys`, or (undefined) of every key, at most `limit` of them. */
async function readFirstOrders(store: Store, keys: readonly string[] | undefined, actions: readonly string[], limit = PREPARE_KEY_LIMIT): Promise<Map<string, number>> {
  const rows = await store.query<{ k: string; f: string }>(
    `SELECT api_key_id AS k, toString(min(first_seen)) AS f FROM key_action_first_seen
     WHERE ${keys ? 'api_key_id IN {keys:Array(String)}' : "api_key_id != ''"} AND action IN {actions:Array(String)} GROUP BY k LIMIT {limit:UInt32}`,
    keys ? { keys, actions, limit: Math.max(limit, keys.length) } : { actions, limit },
  )
  return new Map(rows.map((r) => [r.k, chTimeToMs(r.f)]))
}

/** Sorted, overlapping or touching ranges joined. */
function mergeRanges(ranges: Array<[number, number]>): Array<[number, number]> {
  ranges.sort((a, b) => a[0] - b[0])
  const out: Array<[number, number]> = []
  for (const r of ranges) {
    const last = out[out.length - 1]
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1])
    else out.push([r[0], r[1]])
  }
  return out
}

function sumIn(points: readonly SeasonalPoint[], from: number, to: number): number {
  let s = 0
  for (const p of points) if (p.tsMs >= from && p.tsMs < to) s += p.value
  return s
}

function slotName(startMs: number, periodMs: number): string {
  const hh = new Date(startMs).toISOString().slice(11, 16)
  if (periodMs !== WEEK_MS) return `${hh} UTC`
  return `${WEEKDAYS[Math.floor(hourOfWeek(startMs) / 24)] ?? ''} ${hh} UTC`
}

const MEMORY = 'volume.spike'

interface VolumeMemory {
  /** `key\0bucket start` → counted rows and their notional, as the rollup sums them. */
  counts: Map<string, { orders: number; notional: number }>
  /** `key\0bucket start` → the baseline samples of each metric and the first order they assumed. */
  baselines: Map<string, { firstMs: number; history: Record<Metric, number[]> }>
  /** Bucket starts `prepare` has read every known key's baselines for. */
  prepared: Set<number>
}

const volumeMemory = (memory: DetectorMemory) => memory.slot<VolumeMemory>(MEMORY, () => ({ counts: new Map(), baselines: new Map(), prepared: new Set() }))

function count(mem: VolumeMemory, key: string, start: number, orders: number, notional: number): void {
  const k = `${key}\u0000${start}`
  const c = mem.counts.get(k)
  if (c) {
    c.orders += orders
    c.notional += notional
  } else mem.counts.set(k, { orders, notional })
}

/** Forgets buckets that start before `beforeMs`; coverage then starts there. */
function forget(memory: DetectorMemory, mem: VolumeMemory, beforeMs: number): void {
  for (const m of [mem.counts, mem.baselines] as Array<Map<string, unknown>>) {
    for (const k of m.keys()) if (Number(k.slice(k.lastIndexOf('\u0000') + 1)) < beforeMs) m.delete(k)
  }
  for (const start of mem.prepared) if (start < beforeMs) mem.prepared.delete(start)
  memory.narrow(MEMORY, beforeMs)
  if (mem.counts.size > MEMORY_SLOT_LIMIT || mem.baselines.size > MEMORY_SLOT_LIMIT) {
    mem.counts.clear()
    mem.baselines.clear()
    mem.prepared.clear()
    memory.narrow(MEMORY, Number.POSITIVE_INFINITY)
  }
}

const windowOf = (rule: { windowMs: number }) => Math.max(MINUTE_MS, Math.ceil(rule.windowMs / MINUTE_MS) * MINUTE_MS)

/** Both metrics' verdicts for one bucket, given its values and its baseline samples (none: cold start). */
function judgeBucket(
  p: RuleParams<'volume.spike'>,
  values: Record<Metric, number>,
  history: Record<Metric, number[]>,
): MetricVerdict[] {
  const verdicts: MetricVerdict[] = []
  for (const metric of p.metrics as readonly Metric[]) {
    const value = values[metric]
    const h = history[metric]
    if (h.length === 0) {
      const limit = metric === 'orders' ? p.cold_start_max_orders : p.cold_start_max_notional
      verdicts.push({ metric, value, fires: value > limit, reason: 'cold_start', score: pastThreshold(value, limit), threshold: limit, samples: 0 })
      continue
    }
    const r = robustZ(value, h)
    const avg = ewma(h, p.ewma_alpha)
    const baseline = Math.max(r.median, avg)
    const ratio = baseline > 0 ? value / baseline : Number.POSITIVE_INFINITY
    const fires = r.z >= p.z_threshold && ratio >= p.min_ratio_to_baseline
    // Both conditions must hold, so the nearer one says how far past the line it is.
    const score = pastThreshold(Math.min(r.z / p.z_threshold, ratio / p.min_ratio_to_baseline), 1)
    verdicts.push({ metric, value, fires, reason: 'zscore', score, threshold: p.z_threshold, median: r.median, mad: r.mad, z: r.z, ewma: avg, baseline, ratio, samples: h.length })
  }
  return verdicts
}

/** The rule's seasonal period and how many of them its history holds (bounded by the rollup's retention). */
function seasonsOf(p: RuleParams<'volume.spike'>): { periodMs: number; seasons: number } {
  const periodMs = p.seasonality === 'hour_of_week' ? WEEK_MS : DAY_MS
  return { periodMs, seasons: Math.floor((Math.min(p.history_days, ROLLUP_RETENTION_DAYS) * DAY_MS) / periodMs) }
}

/** A key's minutes with a zero point at its first order, which tells seasonalHistory where its history starts. */
function seriesOf(pts: { orders: SeasonalPoint[]; notional: SeasonalPoint[] }, firstMs: number): Record<Metric, SeasonalPoint[]> {
  const anchor: SeasonalPoint = { tsMs: firstMs, value: 0 }
  return { orders: [...pts.orders, anchor], notional: [...pts.notional, anchor] }
}

/** The seasonal baseline samples of bucket `start` for one key's series, as a read of its minutes gives them. */
function baselineOf(series: Record<Metric, SeasonalPoint[]>, start: number, opts: { bucketMs: number; weeks: number; periodMs: number }): Record<Metric, number[]> {
  return { orders: seasonalHistory(series.orders, start, opts), notional: seasonalHistory(series.notional, start, opts) }
}

/** The seasonal twins of the buckets starting at `starts` (and, with `self`, the buckets themselves), as merged ranges. */
function rangesFor(starts: Iterable<number>, windowMs: number, periodMs: number, seasons: number, self: boolean): Array<[number, number]> {
  const wanted: Array<[number, number]> = []
  for (const s of starts) for (let k = self ? 0 : 1; k <= seasons; k++) wanted.push([s - k * periodMs, s - k * periodMs + windowMs])
  const ranges = mergeRanges(wanted)
  return ranges.length > MAX_RANGES ? [[(ranges[0] as [number, number])[0], Math.max(...ranges.map((r) => r[1]))]] : ranges
}


const WARM_UP_SQL = `
SELECT api_key_id AS k, toString(intDiv(toUnixTimestamp64Milli(ts), {w:Int64}) * {w:Int64}) AS b, toString(count()) AS o, sum(ifNull(order_notional, 0)) AS n
FROM detect_stream
WHERE received_at >= fromUnixTimestamp64Milli({from:Int64}, 'UTC') AND received_at < toDateTime64({to:String}, 9, 'UTC')
  AND api_key_id != '' AND action IN {actions:Array(String)}
GROUP BY k, b`

export const volumeSpike: Detector = {
  ruleId: 'volume.spike',
  async warmUp({ store, rule, memory, resumeFromMs }) {
    const p = builtinParams(rule, 'volume.spike')
    const windowMs = windowOf(rule)
    // Rows that arrived from `fromMs` on are all counted once: here up to the engine's first
    // read, then by the stream (which starts at exactly `resumeFromMs`, re-reading its overlap).
    const fromMs = Math.max(resumeFromMs - windowMs - FUTURE_SKEW_SLACK_MS, Date.now() - DETECT_STREAM_RETENTION_MS + 60 * 60_000)
    const rows = await store.query<{ k: string; b: string; o: string; n: number }>(WARM_UP_SQL, {
      w: windowMs,
      from: Math.floor(fromMs),
      to: msToChNs(resumeFromMs),
      actions: p.order_actions,
    })
    const mem = volumeMemory(memory)
    for (const r of rows) count(mem, r.k, Number(r.b), Number(r.o), r.n)
    // A bucket is complete when no row of it can have arrived before `fromMs`.
    memory.cover(MEMORY, Math.ceil((fromMs + FUTURE_SKEW_SLACK_MS) / windowMs) * windowMs)
  },
  async prepare({ store, rule, memory, nowMs }) {
    // Only with counts (after the warm-up): a remembered baseline is used with them.
    const covered = memory.coveredFromMs(MEMORY)
    if (covered === undefined) return
    const p = builtinParams(rule, 'volume.spike')
    const windowMs = windowOf(rule)
    const { periodMs, seasons } = seasonsOf(p)
    const mem = volumeMemory(memory)
    const current = bucketStart(nowMs, windowMs)
    // The window in progress, and near its end the next one: every key that has ordered, so a
    // key's first order in the window is judged from memory. Once per window; a key that
    // orders for the first time after it is read by the pass that meets it.
    const targets = [current]
    if (nowMs >= current + windowMs * (1 - PREPARE_AHEAD_SHARE)) targets.push(current + windowMs)
    const actions = [...p.order_actions]
    let firstOrders: Map<string, number> | undefined
    for (const target of targets) {
      if (target < covered || mem.prepared.has(target)) continue
      firstOrders ??= await readFirstOrders(store, undefined, actions)
      // Every key's minutes in the window's seasonal twins (the window itself is in memory).
      const minutes = await readMinutes(store, undefined, actions, rangesFor([target], windowMs, periodMs, seasons, false))
      for (const [key, firstMs] of firstOrders) {
        const k = `${key}\u0000${target}`
        // A pass that read this key already remembered what it read.
        if (mem.baselines.has(k)) continue
        const pts = minutes.get(key) ?? { orders: [], notional: [] }
        mem.baselines.set(k, { firstMs, history: baselineOf(seriesOf(pts, firstMs), target, { bucketMs: windowMs, weeks: seasons, periodMs }) })
      }
      mem.prepared.add(target)
    }
  },
  async detect(events, { store, rule, memory }) {
    const p = builtinParams(rule, 'volume.spike')
    const orderActions = new Set<string>(p.order_actions)
    const allowed = allowlistOf(rule)
    const windowMs = windowOf(rule)
    const { periodMs, seasons } = seasonsOf(p)

    // Memory counts every counted row, allowlisted or not, as the rollup does.
    const covered = memory?.coveredFromMs(MEMORY)
    const mem = memory && covered !== undefined ? volumeMemory(memory) : undefined
    if (mem) for (const e of events) if (orderActions.has(e.action) && e.api_key_id !== '') count(mem, e.api_key_id, bucketStart(e.tsMs, windowMs), 1, e.order_notional ?? 0)
    // Forget by arrival (a source sets event time): buckets a late order could still reach are kept.
    const last = events[events.length - 1]
    if (memory && mem && last) {
      const horizon = bucketStart(Date.parse(last.receivedAt) - windowMs - rule.latenessMs - 60 * 60_000, windowMs)
      if (horizon > (covered as number) + windowMs) forget(memory, mem, horizon)
    }

    // key → bucket start → the batch's order events in it
    const byKey = new Map<string, Map<number, EventGroup>>()
    const earliest = new Map<string, number>()
    for (const e of events) {
      if (!orderActions.has(e.action) || e.api_key_id === '' || allowed(e)) continue
      entry(entry(byKey, e.api_key_id, () => new Map()), bucketStart(e.tsMs, windowMs), () => new EventGroup()).add(e)
      earliest.set(e.api_key_id, Math.min(earliest.get(e.api_key_id) ?? Number.POSITIVE_INFINITY, e.tsMs))
    }
    if (byKey.size === 0) return []

    const findings: Finding[] = []
    const verdictsFor = (key: string, start: number, group: EventGroup, values: Record<Metric, number>, firstMs: number, baseline: Record<Metric, number[]>) => {
      if (values.orders < p.min_count) return
      // "Now" is the newest event of the bucket the batch holds, never the clock.
      const ageMs = group.lastMs - firstMs
      const young = ageMs < p.min_history_days * DAY_MS
      const verdicts = judgeBucket(p, values, young ? { orders: [], notional: [] } : baseline)
      const fired = verdicts.filter((v) => v.fires).sort((a, b) => b.score - a.score)
      const top = fired[0]
      if (top) findings.push(toFinding(rule.severity, key, start, windowMs, periodMs, group, top, verdicts, ageMs, findFirstAccount(events, key)))
    }

    // From memory: buckets it covers, with counts and remembered samples, and no earlier first order in the batch.
    const toRead = new Map<string, Map<number, EventGroup>>()
    for (const [key, buckets] of byKey) {
      for (const [start, group] of buckets) {
        const k = `${key}\u0000${start}`
        const c = mem?.counts.get(k)
        const b = mem?.baselines.get(k)
        if (mem && c && b && start >= (covered as number) && (earliest.get(key) as number) >= b.firstMs) {
          verdictsFor(key, start, group, { orders: c.orders, notional: c.notional }, b.firstMs, b.history)
        } else entry(toRead, key, () => new Map()).set(start, group)
      }
    }
    if (toRead.size === 0) return findings

    const starts = new Set<number>()
    for (const buckets of toRead.values()) for (const s of buckets.keys()) starts.add(s)
    const ranges = rangesFor(starts, windowMs, periodMs, seasons, true)

    const keys = [...toRead.keys()]
    const actions = [...orderActions]
    const minutes = await readMinutes(store, keys, actions, ranges)
    const firstOrders = await readFirstOrders(store, keys, actions)

    for (const [key, buckets] of toRead) {
      const pts = minutes.get(key) ?? { orders: [], notional: [] }
      // The MV writes key_action_first_seen with the events; should it lag, the batch's own
      // earliest order is a later (so younger, so stricter) first order.
      const firstMs = Math.min(firstOrders.get(key) ?? Number.POSITIVE_INFINITY, earliest.get(key) as number)
      const series = seriesOf(pts, firstMs)
      for (const [start, group] of buckets) {
        const baseline = baselineOf(series, start, { bucketMs: windowMs, weeks: seasons, periodMs })
        if (mem) mem.baselines.set(`${key}\u0000${start}`, { firstMs, history: baseline })
        verdictsFor(key, start, group, { orders: sumIn(pts.orders, start, start + windowMs), notional: sumIn(pts.notional, start, start + windowMs) }, firstMs, baseline)
      }
    }
    return findings
  },
}

function findFirstAccount(events: readonly StreamEvent[], key: string): string | undefined {
  for (const e of events) if (e.api_key_id === key && e.account_id !== '') return e.account_id
  return undefined
}

function metricEvidence(v: MetricVerdict): Record<string, unknown> {
  return {
    value: round(v.value, 2),
    reason: v.reason,
    fires: v.fires,
    samples: v.samples,
    ...(v.reason === 'cold_start'
      ? { threshold: v.threshold }
      : {
          baseline: round(v.baseline ?? 0, 2),
          median: round(v.median ?? 0, 2),
          mad: round(v.mad ?? 0, 2),
          ewma: round(v.ewma ?? 0, 2),
          z: round(v.z ?? 0, 2),
          ratio: Number.isFinite(v.ratio) ? round(v.ratio ?? 0, 2) : null,
        }),
  }
}

function toFinding(
  severity: Finding['severity'],
  key: string,
  start: number,
  windowMs: number,
  periodMs: number,
  group: EventGroup,
  top: MetricVerdict,
  verdicts: readonly MetricVerdict[],
  ageMs: number,
  account: string | undefined,
): Finding {
  const what = top.metric === 'orders' ? `${fmtNum(top.value, 0)} orders` : `${fmtNum(top.value)} notional`
  const span = `in the ${fmtDuration(windowMs)} from ${fmtTime(start)}`
  const summary =
    top.reason === 'cold_start'
      ? `Key ${key}, ${fmtNum(ageMs / DAY_MS, 1)} day${ageMs / DAY_MS >= 1.05 ? 's' : ''} old, sent ${what} ${span}, over its cold-start limit of ${fmtNum(top.threshold)}.`
      : `Key ${key} sent ${what} ${span}, ${top.ratio !== undefined && Number.isFinite(top.ratio) ? `${fmtNum(top.ratio, 1)}×` : 'far above'} its usual ${fmtNum(top.baseline ?? 0, 1)} for ${slotName(start, periodMs)} (robust z ${fmtNum(top.z ?? 0, 1)}).`
  return {
    rule: 'volume.spike',
    severity,
    score: top.score,
    entity: { type: 'api_key', id: key },
    api_key_id: key,
    ...(account ? { account_id: account } : {}),
    firstSeenMs: group.firstMs,
    lastSeenMs: group.lastMs,
    windowStartMs: start,
    count: group.count,
    summary,
    evidence: {
      metric: top.metric,
      value: round(top.value, 2),
      ...(top.reason === 'zscore'
        ? { baseline: round(top.baseline ?? 0, 2), median: round(top.median ?? 0, 2), mad: round(top.mad ?? 0, 2), z: round(top.z ?? 0, 2) }
        : {}),
      threshold: top.threshold,
      samples: top.samples,
      reason: top.reason,
      window_ms: windowMs,
      key_age_days: round(ageMs / DAY_MS, 2),
      metrics: Object.fromEntries(verdicts.map((v) => [v.metric, metricEvidence(v)])),
      sample_event_ids: group.ids,
    },
    ...(group.receivedAt ? { eventReceivedAt: group.receivedAt } : {}),
  }
}
