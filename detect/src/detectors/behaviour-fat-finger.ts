/**
 * order.fat_finger: an order whose qty or notional is far outside the key's own history, or
 * above an absolute maximum.
 *
 * Each order event (`order_actions`) is judged against the key's orders strictly before it
 * in event time, within `history_days`: qty against the same symbol's (with
 * `qty_per_symbol`), notional against the key's orders in the same currency (migration 006:
 * notionals in JPY and USD are not comparable; an order without a currency is compared with
 * the key's other orders without one). History comes from `key_orders`
 * (migration 005): the events with an order size, sorted by (api_key_id, ts) in granules of
 * 256 rows, so a key costs about its own orders. The events table's sort key (source,
 * api_key_id, ts) in day partitions looked as good but was not: a granule there holds a few
 * rows of hundreds of keys, and a batch with orders on a few percent of the keys read every
 * granule (the whole table, twice, for step 1: ~6 s a call at 10 M stored). Orders of the
 * same batch are history for the later ones, never for themselves.
 *
 * Reading every key's raw history each tick was measured at ~2 s for 200 keys with ~1,700
 * orders each in 1 M stored events, nearly all of it moving rows, so a tick reads it in two
 * steps (step 1 measured at 0.2-0.35 s there, the scan itself):
 * 1. One aggregate per key (and symbol, for qty) over all its orders the batch's orders can
 *    have as history: how many, and a lower bound of the median any one of them sees. An
 *    order's history is a subset of those rows, missing at most the ones near the edges
 *    (`edge`), so its median is at least the ⌈(n − edge) / 2⌉-th smallest value. An order
 *    below `min_ratio_to_median` × that bound, or with fewer than `min_history_orders` rows
 *    behind it, cannot fire on its history, and most orders stop here.
 * 2. Only for keys with an order past that bound, the raw history (at most `HISTORY_CAP`
 *    most recent orders a key), and the exact per-order judgement.
 * Absolute limits (`max_qty`, `max_notional`) need no history.
 *
 * Queries per tick, only when the batch holds an order with a qty or notional: one, plus
 * one when some order is large for its key.
 *
 * With engine memory (memory.ts), step 1 is kept per key (and symbol) for `BOUND_VALID_MS`:
 * one read over [L − history, L + valid] for orders from L on gives the count of rows `n` and
 * the sorted values around the position ⌈c / 2⌉ of the `c` rows every such order has as
 * history (those in [L + valid − history, L)). An order's history is a subset of those rows
 * plus the `m` rows that arrived since (counted from the stream, plus `RACE_SLACK` for rows
 * stored but not yet handed to the engine), so its median is at least the (⌈c / 2⌉ − m)-th
 * smallest value read, and it has at most n + m rows. An order below `min_ratio_to_median`
 * times that, or with too few rows, and within the absolute limits, cannot fire: it is left
 * out before any query, and most ticks read nothing. Exact as long as fewer than
 * `RACE_SLACK` of the key's rows are stored and not yet walked by the engine at a time; a key
 * seen under more than one source is not remembered.
 */
import type { Store } from '@vigil/core'
import type { Detector, Finding, StreamEvent } from '../detector.js'
import { builtinParams } from '../rules.js'
import { robustZ } from '../baseline.js'
import { chTimeToMs } from '../engine.js'
import { allowlistOf, bucketStart, DAY_MS, entry, EventGroup, fmtNum, msToChTime, msToMicros, pastThreshold, round } from './behaviour-common.js'
import { MEMORY_SLOT_LIMIT, type DetectorMemory } from '../memory.js'

/** How long one remembered step 1 serves a key's orders (memory only). */
const BOUND_VALID_MS = 10 * 60_000
/** Order statistics remembered below the core's median position: arrivals a bound absorbs. */
const BOUND_SLICE = 64
/** Rows assumed stored but not yet handed to the engine, per key, when memory judges. */
const RACE_SLACK = 8

/** Per `qty\0key\0symbol` and `notional\0key\0currency`: see the header. */
interface RememberedBound {
  source: string
  fromMs: number
  untilMs: number
  /** Rows of the span (n) and of its core (c). */
  n: number
  c: number
  /** Sorted values at positions lo … lo + slice.length − 1 (1-based) of the span. */
  lo: number
  slice: number[]
  /** Rows of the key (field > 0, any source) handed over since the read. */
  arrived: number
}

/** Most recent orders per key read as history: a bound on work, not a threshold. */
export const HISTORY_CAP = 10_000
/**
 * Smallest scale of a log10 score: 0.01 decade (a 2.3 % size difference). robustZ's default
 * floor of 1 is one share or one currency unit, which on a log scale would be a factor of 10
 * and hide everything; a key that always sends the same size has no spread at all, and
 * there `min_ratio_to_median` decides, as the rule says.
 */
const LOG_MIN_SCALE = 0.01

interface HistoryRow {
  k: string
  id: string
  tt: string
  sym: string
  cur: string
  qty: number | null
  notional: number | null
}

interface Order {
  tsMs: number
  id: string
  symbol: string
  currency: string
  qty: number
  notional: number
}

/** The values of a sliding history, kept sorted: O(log n) to find, O(n) to insert, O(1) median. */
class SortedValues {
  readonly values: number[] = []

  #at(v: number): number {
    let lo = 0
    let hi = this.values.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((this.values[mid] as number) < v) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  add(v: number): void {
    this.values.splice(this.#at(v), 0, v)
  }

  remove(v: number): void {
    const i = this.#at(v)
    if (this.values[i] === v) this.values.splice(i, 1)
  }

  get size(): number {
    return this.values.length
  }

  median(): number {
    const n = this.values.length
    const mid = n >> 1
    return n % 2 === 1 ? (this.values[mid] as number) : ((this.values[mid - 1] as number) + (this.values[mid] as number)) / 2
  }
}

type Field = 'qty' | 'notional'

interface Breach {
  field: Field
  value: number
  reason: 'zscore' | 'max'
  threshold: number
  score: number
  median?: number
  mad?: number
  z?: number
  ratio?: number
  samples?: number
  /** `mad` is of log10 values. */
  logScale?: boolean
}

interface Judged {
  event: StreamEvent
  breaches: Breach[]
}

interface BoundRow {
  f: 'qty' | 'notional'
  k: string
  s: string
  n: string
  lower: number
}

/**
 * Per key (and symbol for qty): rows of possible history, and a lower bound of any of its
 * orders' median; see the header. One span for the whole batch, [first − history, last], with
 * no per-key arithmetic on each row (per-key spans tripled the query's time, measured): a
 * wider span only adds edge rows, which loosens the bound, never breaks it.
 */
async function readMedianBounds(
  store: Store,
  keys: readonly string[],
  sources: readonly string[],
  actions: readonly string[],
  firstMs: number,
  lastMs: number,
  historyMs: number,
  perSymbol: boolean,
  batchOrders: ReadonlyMap<string, number>,
): Promise<Map<string, { n: number; lower: number }>> {
  // Rows before last − history, or from first on, may be outside one order's history.
  const edge = `(toUnixTimestamp64Micro(ts) < {edge:Int64} OR toUnixTimestamp64Micro(ts) >= {first:Int64})`
  // The batch's own orders may not be readable here yet (views fill their tables one after
  // another during an insert): each counts as a row of unknown value, one position lower.
  const unseen = `toInt64(transform(api_key_id, {bk:Array(String)}, {bc:Array(Int64)}, toInt64(0)))`
  const bound = (v: string) =>
    `arrayElement(arraySort(groupArrayIf(${v}, ${v} > 0)), toUInt64(greatest(1, intDiv(toInt64(countIf(${v} > 0)) - toInt64(countIf(${v} > 0 AND ${edge})) + 1, 2) - ${unseen})))`
  const where = `source IN {sources:Array(String)} AND api_key_id IN {keys:Array(String)}
       AND ts >= {from:DateTime64(9, 'UTC')} AND ts <= {to:DateTime64(9, 'UTC')} AND action IN {actions:Array(String)}`
  const rows = await store.query<BoundRow>(
    `SELECT 'qty' AS f, api_key_id AS k, ${perSymbol ? 'order_symbol' : "''"} AS s, toString(countIf(order_qty > 0)) AS n, ${bound('order_qty')} AS lower
     FROM key_orders WHERE ${where} GROUP BY k, s
     UNION ALL
     SELECT 'notional' AS f, api_key_id AS k, order_currency AS s, toString(countIf(order_notional > 0)) AS n, ${bound('order_notional')} AS lower
     FROM key_orders WHERE ${where} GROUP BY k, s`,
    {
      sources,
      actions,
      keys,
      edge: msToMicros(lastMs - historyMs),
      first: msToMicros(firstMs),
      from: msToChTime(firstMs - historyMs),
      to: msToChTime(lastMs),
      bk: [...batchOrders.keys()],
      bc: [...batchOrders.values()],
    },
  )
  return new Map(rows.map((r) => [`${r.f}\u0000${r.k}\u0000${r.s}`, { n: Number(r.n), lower: r.lower }]))
}

interface SliceRow {
  f: 'qty' | 'notional'
  k: string
  s: string
  srcs: string
  src: string
  n: string
  c: string
  lo: string
  slice: number[]
}

/** Step 1 for memory (see the header): per key and symbol, n, c and the values around ⌈c / 2⌉. */
async function readRememberedBounds(
  store: Store,
  keys: readonly string[],
  actions: readonly string[],
  fromMs: number,
  historyMs: number,
  perSymbol: boolean,
): Promise<{ bounds: Map<string, RememberedBound>; sources: Map<string, string | null> }> {
  const untilMs = fromMs + BOUND_VALID_MS
  const core = `toUnixTimestamp64Micro(ts) >= {core_from:Int64} AND toUnixTimestamp64Micro(ts) < {core_to:Int64}`
  const part = (f: 'qty' | 'notional', v: string, sym: string) => `
    SELECT '${f}' AS f, api_key_id AS k, ${sym} AS s, toString(uniqExact(source)) AS srcs, any(source) AS src,
      toString(countIf(${v} > 0)) AS n, toString(countIf(${v} > 0 AND ${core})) AS c,
      toString(greatest(1, toInt64(ceil(countIf(${v} > 0 AND ${core}) / 2)) - ${BOUND_SLICE})) AS lo,
      arraySlice(arraySort(groupArrayIf(${v}, ${v} > 0)), greatest(1, toInt64(ceil(countIf(${v} > 0 AND ${core}) / 2)) - ${BOUND_SLICE}), ${BOUND_SLICE + 1}) AS slice
    FROM key_orders
    WHERE api_key_id IN {keys:Array(String)} AND ts >= {from:DateTime64(9, 'UTC')} AND ts <= {to:DateTime64(9, 'UTC')} AND action IN {actions:Array(String)}
    GROUP BY k, s`
  const rows = await store.query<SliceRow>(`${part('qty', 'order_qty', perSymbol ? 'order_symbol' : "''")}\nUNION ALL${part('notional', 'order_notional', 'order_currency')}`, {
    keys,
    actions,
    from: msToChTime(fromMs - historyMs),
    to: msToChTime(untilMs),
    core_from: msToMicros(untilMs - historyMs),
    core_to: msToMicros(fromMs),
  })
  // A key's one source, or null when it has rows under several (not remembered).
  const sources = new Map<string, string | null>()
  for (const r of rows) {
    const seen = sources.get(r.k)
    sources.set(r.k, Number(r.srcs) !== 1 || (seen !== undefined && seen !== r.src) ? null : r.src)
  }
  const bounds = new Map<string, RememberedBound>()
  for (const r of rows) {
    if (sources.get(r.k) === null) continue
    bounds.set(`${r.f}\u0000${r.k}\u0000${r.s}`, { source: r.src, fromMs, untilMs, n: Number(r.n), c: Number(r.c), lo: Number(r.lo), slice: r.slice, arrived: 0 })
  }
  return { bounds, sources }
}

/**
 * Whether memory proves `value` cannot fire on its history for an order at `tsMs` from
 * `source`; `undefined` when memory cannot tell (no entry for that time or source).
 */
function cannotFire(b: RememberedBound | undefined, tsMs: number, source: string, value: number, p: { min_history_orders: number; min_ratio_to_median: number }): boolean | undefined {
  if (!b || tsMs < b.fromMs || tsMs > b.untilMs || b.source !== source) return undefined
  // Past the cap, the history read keeps only the newest rows: not all of the core.
  if (b.n + b.arrived >= HISTORY_CAP) return undefined
  const m = b.arrived + RACE_SLACK
  if (b.n + m < p.min_history_orders) return true
  const at = Math.ceil(b.c / 2) - m
  const lower = at >= b.lo ? b.slice[at - b.lo] : undefined
  if (lower === undefined) return undefined
  return value < p.min_ratio_to_median * lower
}

async function readHistory(store: Store, keys: readonly string[], sources: readonly string[], actions: readonly string[], fromMs: number, toMs: number): Promise<HistoryRow[]> {
  return store.query<HistoryRow>(
    `SELECT api_key_id AS k, id, toString(ts) AS tt, order_symbol AS sym, order_currency AS cur, order_qty AS qty, order_notional AS notional
     FROM key_orders
     WHERE source IN {sources:Array(String)} AND api_key_id IN {keys:Array(String)}
       AND ts >= {from:DateTime64(9, 'UTC')} AND ts <= {to:DateTime64(9, 'UTC')}
       AND action IN {actions:Array(String)} AND (order_qty > 0 OR order_notional > 0)
     ORDER BY k, ts DESC
     LIMIT {cap:UInt32} BY k`,
    { sources, keys, actions, from: msToChTime(fromMs), to: msToChTime(toMs), cap: HISTORY_CAP },
  )
}

export const orderFatFinger: Detector = {
  ruleId: 'order.fat_finger',
  async detect(events, { store, rule, memory }) {
    const p = builtinParams(rule, 'order.fat_finger')
    const actions = new Set<string>(p.order_actions)
    const allowed = allowlistOf(rule)
    const historyMs = p.history_days * DAY_MS

    const judgedByKey = new Map<string, StreamEvent[]>()
    const sources = new Set<string>()
    let minTs = Number.POSITIVE_INFINITY
    let maxTs = Number.NEGATIVE_INFINITY
    for (const e of events) {
      if (!actions.has(e.action) || e.api_key_id === '' || allowed(e)) continue
      if (!((e.order_qty ?? 0) > 0) && !((e.order_notional ?? 0) > 0)) continue
      entry(judgedByKey, e.api_key_id, () => []).push(e)
      sources.add(e.source)
      minTs = Math.min(minTs, e.tsMs)
      maxTs = Math.max(maxTs, e.tsMs)
    }
    if (memory) await leaveOutWhatCannotFire(memory, events, judgedByKey, store, rule.id, p, actions, historyMs)
    if (judgedByKey.size === 0) return []
    sources.clear()
    minTs = Number.POSITIVE_INFINITY
    maxTs = Number.NEGATIVE_INFINITY
    for (const list of judgedByKey.values()) {
      for (const e of list) {
        sources.add(e.source)
        minTs = Math.min(minTs, e.tsMs)
        maxTs = Math.max(maxTs, e.tsMs)
      }
    }

    // Every order of the batch with a size (allowlisted ones too): history for the later ones,
    // whether or not key_orders shows it yet.
    const batchOrders = new Map<string, Order[]>()
    for (const e of events) {
      if (!actions.has(e.action) || e.api_key_id === '' || !sources.has(e.source)) continue
      if (!((e.order_qty ?? 0) > 0) && !((e.order_notional ?? 0) > 0)) continue
      entry(batchOrders, e.api_key_id, () => []).push({ tsMs: e.tsMs, id: e.id, symbol: e.order_symbol, currency: e.order_currency, qty: e.order_qty ?? 0, notional: e.order_notional ?? 0 })
    }
    const batchCount = new Map([...batchOrders].map(([k, list]) => [k, list.length]))
    const bounds = await readMedianBounds(store, [...judgedByKey.keys()], [...sources], [...actions], minTs, maxTs, historyMs, p.qty_per_symbol, batchCount)
    const mightFire = (field: 'qty' | 'notional', key: string, symbol: string, value: number) => {
      const b = bounds.get(`${field}\u0000${key}\u0000${symbol}`)
      const unseen = batchCount.get(key) ?? 0
      // No row readable at all: only the batch's own orders can be its history.
      if (b === undefined) return unseen >= p.min_history_orders
      return b.n + unseen >= p.min_history_orders && !(value < p.min_ratio_to_median * b.lower)
    }
    const exact = [...judgedByKey].filter(([k, list]) =>
      list.some((e) => ((e.order_qty ?? 0) > 0 && mightFire('qty', k, p.qty_per_symbol ? e.order_symbol : '', e.order_qty ?? 0)) || ((e.order_notional ?? 0) > 0 && mightFire('notional', k, e.order_currency, e.order_notional ?? 0))),
    )
    const rows =
      exact.length === 0
        ? []
        : await readHistory(store, exact.map(([k]) => k), [...sources], [...actions], minTs - historyMs, maxTs)
    const historyByKey = new Map<string, Order[]>()
    const seen = new Set<string>()
    for (const r of rows) {
      // The events table collapses a re-sent id only when parts merge; count it once.
      if (seen.has(`${r.k}\u0000${r.id}`)) continue
      seen.add(`${r.k}\u0000${r.id}`)
      entry(historyByKey, r.k, () => []).push({ tsMs: chTimeToMs(r.tt), id: r.id, symbol: r.sym, currency: r.cur, qty: r.qty ?? 0, notional: r.notional ?? 0 })
    }
    for (const [key] of exact) {
      for (const o of batchOrders.get(key) ?? []) {
        if (seen.has(`${key}\u0000${o.id}`)) continue
        seen.add(`${key}\u0000${o.id}`)
        entry(historyByKey, key, () => []).push(o)
      }
    }

    const findings: Finding[] = []
    for (const [key, judged] of judgedByKey) {
      const history = (historyByKey.get(key) ?? []).sort((a, b) => a.tsMs - b.tsMs)
      judged.sort((a, b) => a.tsMs - b.tsMs)
      const notional = new Map<string, SortedValues>()
      const notionalOf = (currency: string) => entry(notional, currency, () => new SortedValues())
      const qty = new Map<string, SortedValues>()
      const qtyOf = (symbol: string) => entry(qty, p.qty_per_symbol ? symbol : '', () => new SortedValues())
      let added = 0
      let dropped = 0
      const fired: Judged[] = []
      for (const e of judged) {
        // Slide the history to [ts − history_days, ts): strictly before the order judged.
        // Every row goes in once and out once, in time order, so equal values never mix up.
        while (added < history.length && (history[added] as Order).tsMs < e.tsMs) {
          const h = history[added++] as Order
          if (h.notional > 0) notionalOf(h.currency).add(h.notional)
          if (h.qty > 0) qtyOf(h.symbol).add(h.qty)
        }
        while (dropped < added && (history[dropped] as Order).tsMs < e.tsMs - historyMs) {
          const h = history[dropped++] as Order
          if (h.notional > 0) notionalOf(h.currency).remove(h.notional)
          if (h.qty > 0) qtyOf(h.symbol).remove(h.qty)
        }
        const breaches: Breach[] = []
        const q = e.order_qty ?? 0
        const n = e.order_notional ?? 0
        if (q > 0) breaches.push(...judge('qty', q, qtyOf(e.order_symbol), p.max_qty, p))
        if (n > 0) breaches.push(...judge('notional', n, notionalOf(e.order_currency), p.max_notional, p))
        if (breaches.length > 0) fired.push({ event: e, breaches })
      }
      // One finding per key per window bucket: the alert id is (rule, key, bucket).
      const byBucket = new Map<number, Judged[]>()
      for (const j of fired) entry(byBucket, bucketStart(j.event.tsMs, rule.windowMs), () => []).push(j)
      for (const [start, list] of byBucket) findings.push(toFinding(rule.severity, key, start, list))
    }
    return findings
  },
}

type FatFingerParams = ReturnType<typeof builtinParams<'order.fat_finger'>>

/**
 * Memory's step 1 (see the header): counts the batch's rows into the remembered bounds, reads
 * bounds for keys without a usable one, and removes from `judgedByKey` every order that
 * provably cannot fire.
 */
async function leaveOutWhatCannotFire(
  memory: DetectorMemory,
  events: readonly StreamEvent[],
  judgedByKey: Map<string, StreamEvent[]>,
  store: Store,
  ruleId: string,
  p: FatFingerParams,
  actions: ReadonlySet<string>,
  historyMs: number,
): Promise<void> {
  const mem = memory.slot<Map<string, RememberedBound>>(ruleId, () => new Map())
  const sym = (e: StreamEvent) => (p.qty_per_symbol ? e.order_symbol : '')
  // Every stored row the engine is handed counts as arrived, allowlisted or not.
  const batchRows = new Map<string, number>()
  const arrive = (k: string) => {
    batchRows.set(k, (batchRows.get(k) ?? 0) + 1)
    const b = mem.get(k)
    if (b) b.arrived++
  }
  for (const e of events) {
    if (!actions.has(e.action) || e.api_key_id === '') continue
    if ((e.order_qty ?? 0) > 0) arrive(`qty\u0000${e.api_key_id}\u0000${sym(e)}`)
    if ((e.order_notional ?? 0) > 0) arrive(`notional\u0000${e.api_key_id}\u0000${e.order_currency}`)
  }
  const verdict = (e: StreamEvent): boolean | undefined => {
    const q = e.order_qty ?? 0
    const n = e.order_notional ?? 0
    if (q > p.max_qty || n > p.max_notional) return false
    const byQty = q > 0 ? cannotFire(mem.get(`qty\u0000${e.api_key_id}\u0000${sym(e)}`), e.tsMs, e.source, q, p) : true
    const byNotional = n > 0 ? cannotFire(mem.get(`notional\u0000${e.api_key_id}\u0000${e.order_currency}`), e.tsMs, e.source, n, p) : true
    if (byQty === false || byNotional === false) return false
    return byQty === undefined || byNotional === undefined ? undefined : true
  }
  // Keys memory cannot judge: one read for all of them, from their earliest order on.
  const unknown = new Set<string>()
  let fromMs = Number.POSITIVE_INFINITY
  for (const [key, list] of judgedByKey) {
    for (const e of list) {
      if (verdict(e) === undefined) {
        unknown.add(key)
        fromMs = Math.min(fromMs, e.tsMs)
      }
    }
  }
  if (unknown.size > 0) {
    if (mem.size >= MEMORY_SLOT_LIMIT) mem.clear()
    const read = await readRememberedBounds(store, [...unknown], [...actions], fromMs, historyMs, p.qty_per_symbol)
    for (const key of unknown) {
      const source = read.sources.get(key)
      if (source === null) continue
      for (const e of judgedByKey.get(key) ?? []) {
        for (const k of [`qty\u0000${key}\u0000${sym(e)}`, `notional\u0000${key}\u0000${e.order_currency}`]) {
          // No row for the key (and symbol) in the span: remembered as n = c = 0.
          const b = read.bounds.get(k) ?? { source: source ?? e.source, fromMs, untilMs: fromMs + BOUND_VALID_MS, n: 0, c: 0, lo: 1, slice: [], arrived: 0 }
          // The batch's rows may not have been readable yet (views fill one after another).
          b.arrived = batchRows.get(k) ?? 0
          mem.set(k, b)
        }
      }
    }
  }
  for (const [key, list] of judgedByKey) {
    const left = list.filter((e) => verdict(e) !== true)
    if (left.length === 0) judgedByKey.delete(key)
    else judgedByKey.set(key, left)
  }
}

function judge(field: Field, value: number, hist: SortedValues, max: number, p: ReturnType<typeof builtinParams<'order.fat_finger'>>): Breach[] {
  const out: Breach[] = []
  if (value > max) out.push({ field, value, reason: 'max', threshold: max, score: pastThreshold(value, max) })
  if (hist.size < p.min_history_orders) return out
  const median = hist.median()
  const ratio = median > 0 ? value / median : Number.POSITIVE_INFINITY
  // The ratio is the cheap test and both must hold: most orders stop here, before a sort.
  if (ratio < p.min_ratio_to_median) return out
  const r = p.log_scale
    ? robustZ(Math.log10(value), hist.values.map(Math.log10), { minScale: LOG_MIN_SCALE })
    : robustZ(value, hist.values)
  if (r.z < p.z_threshold) return out
  out.push({
    field,
    value,
    reason: 'zscore',
    threshold: p.z_threshold,
    score: pastThreshold(Math.min(r.z / p.z_threshold, ratio / p.min_ratio_to_median), 1),
    median,
    mad: r.mad,
    logScale: p.log_scale,
    z: r.z,
    ratio,
    samples: hist.size,
  })
  return out
}

function toFinding(severity: Finding['severity'], key: string, start: number, list: readonly Judged[]): Finding {
  const group = new EventGroup()
  let worst: { j: Judged; b: Breach } | undefined
  for (const j of list) {
    group.add(j.event)
    for (const b of j.breaches) if (!worst || b.score > worst.b.score) worst = { j, b }
  }
  const { j, b } = worst as { j: Judged; b: Breach }
  const e = j.event
  const sym = e.order_symbol ? ` in ${e.order_symbol}` : ''
  const what = `${b.field} ${fmtNum(b.value)}${b.field === 'notional' && e.order_currency ? ` ${e.order_currency}` : ''}`
  const why =
    b.reason === 'max'
      ? `over the maximum ${b.field} of ${fmtNum(b.threshold)}`
      : `${fmtNum(b.ratio ?? 0, 1)}× its median of ${fmtNum(b.median ?? 0)} over its ${b.samples} earlier orders${b.field === 'qty' && sym ? sym : ''}${b.field === 'notional' && e.order_currency ? ` in ${e.order_currency}` : ''} (robust z ${fmtNum(b.z ?? 0, 1)})`
  return {
    rule: 'order.fat_finger',
    severity,
    score: Math.max(...list.flatMap((x) => x.breaches.map((y) => y.score))),
    entity: { type: 'api_key', id: key },
    api_key_id: key,
    ...(e.account_id ? { account_id: e.account_id } : {}),
    ...(e.client_ip ? { client_ip: e.client_ip } : {}),
    firstSeenMs: group.firstMs,
    lastSeenMs: group.lastMs,
    windowStartMs: start,
    count: group.count,
    summary: `Key ${key} sent an order${sym} with ${what}, ${why}.`,
    evidence: {
      order_event_id: e.id,
      symbol: e.order_symbol,
      qty: e.order_qty,
      notional: e.order_notional,
      currency: e.order_currency,
      field: b.field,
      reason: b.reason,
      value: b.value,
      threshold: b.threshold,
      ...(b.reason === 'zscore'
        ? { baseline: round(b.median ?? 0, 4), median: round(b.median ?? 0, 4), mad: round(b.mad ?? 0, 4), mad_scale: b.logScale ? 'log10' : 'linear', z: round(b.z ?? 0, 2), ratio: Number.isFinite(b.ratio) ? round(b.ratio ?? 0, 2) : null, samples: b.samples }
        : {}),
      breaches: list.flatMap((x) => x.breaches.map((y) => ({ event_id: x.event.id, field: y.field, reason: y.reason, value: y.value }))).slice(0, 10),
      sample_event_ids: group.ids,
    },
    ...(group.receivedAt ? { eventReceivedAt: group.receivedAt } : {}),
  }
}
