/**
 * clock.skew: a source whose clock drifts from ingest's beyond its limit (RTS 25).
 *
 * Per source, per epoch-aligned window (the rule's, in whole seconds) holding the batch's
 * events: the `percentile` of the signed clock_skew_ms of all the source's events in that
 * window, from the t-digests of `rollup_source_skew_1s` (migration 003), compared in
 * absolute value with `source_max_skew_ms[source]` or `max_skew_ms`, once the window holds
 * `min_events`. Aligned windows are what the RTS 25 clock-sync report counts in, and a late
 * event is judged in its own. The allowlist's `sources` exempt a source; its other entries
 * only stop an event from triggering a look (the rollup cannot leave events out).
 *
 * Queries per tick, whenever the batch holds an event of a source not allowlisted: one, for
 * the sources and windows memory cannot clear.
 *
 * With engine memory (memory.ts), per source and window the number of events and the lowest
 * and highest signed skew the engine was handed (every event of the source, as the rollup
 * holds them; the warm-up reads the arrivals of the `window + FUTURE_SKEW_SLACK_MS` before its
 * cursor from detect_stream). A window inside that coverage whose skews all lie well within the
 * limit (|skew| < limit × (1 − 1e-6)) cannot fire and costs no query: a t-digest quantile lies
 * between its inputs' lowest and highest (its centroids are means of inputs, kept in Float32,
 * hence the margin). Only the bounds decide, never the count: a row stored twice counts twice in
 * the rollup and once here, and changes no bound. Exact but for a row the engine never walked
 * (visible more than its overlap behind the cursor). In steady traffic from well-synchronised
 * sources the detector reads nothing.
 */
import type { Detector, Finding } from '../detector.js'
import { builtinParams } from '../rules.js'
import { DETECT_STREAM_RETENTION_MS, msToChNs } from '../engine.js'
import { MEMORY_SLOT_LIMIT, type DetectorMemory } from '../memory.js'
import { FUTURE_SKEW_SLACK_MS } from './auth-success-after-failures.js'
import { allowlistOf, bucketStart, entry, EventGroup, fmtDuration, fmtNum, fmtTime, pastThreshold, round } from './behaviour-common.js'

const MEMORY = 'clock.skew'
/** How much inside the limit every skew of a window must be for memory to clear it (Float32 centroids). */
const MARGIN = 1e-6

/** `source\0window start` → events handed and their lowest and highest signed skew. */
type SkewMemory = Map<string, { n: number; min: number; max: number }>

const skewMemory = (memory: DetectorMemory) => memory.slot<SkewMemory>(MEMORY, () => new Map())

function remember(mem: SkewMemory, source: string, start: number, n: number, min: number, max: number): void {
  const k = `${source}\u0000${start}`
  const m = mem.get(k)
  if (!m) mem.set(k, { n, min, max })
  else {
    m.n += n
    if (min < m.min) m.min = min
    if (max > m.max) m.max = max
  }
}

const windowOf = (rule: { windowMs: number }) => Math.max(1000, Math.ceil(rule.windowMs / 1000) * 1000)

const WARM_UP_SQL = `
SELECT source, toString(intDiv(toUnixTimestamp64Milli(ts), {w:Int64}) * {w:Int64}) AS b, toString(count()) AS n, min(clock_skew_ms) AS lo, max(clock_skew_ms) AS hi
FROM detect_stream
WHERE received_at >= fromUnixTimestamp64Milli({from:Int64}, 'UTC') AND received_at < toDateTime64({to:String}, 9, 'UTC')
GROUP BY source, b`

interface SkewRow {
  source: string
  b: string
  n: string
  p: number
}

export const clockSkew: Detector = {
  ruleId: 'clock.skew',
  async warmUp({ store, rule, memory, resumeFromMs }) {
    const windowMs = windowOf(rule)
    // Rows that arrived from `fromMs` on are all counted once: here up to the engine's first
    // read, then by the stream (which starts at exactly `resumeFromMs`).
    const fromMs = Math.max(resumeFromMs - windowMs - FUTURE_SKEW_SLACK_MS, Date.now() - DETECT_STREAM_RETENTION_MS + 60 * 60_000)
    const rows = await store.query<{ source: string; b: string; n: string; lo: number; hi: number }>(WARM_UP_SQL, { w: windowMs, from: Math.floor(fromMs), to: msToChNs(resumeFromMs) })
    const mem = skewMemory(memory)
    for (const r of rows) remember(mem, r.source, Number(r.b), Number(r.n), r.lo, r.hi)
    // A window is complete when none of its rows can have arrived before `fromMs`.
    memory.cover(MEMORY, Math.ceil((fromMs + FUTURE_SKEW_SLACK_MS) / windowMs) * windowMs)
  },
  async detect(events, { store, rule, memory }) {
    const p = builtinParams(rule, 'clock.skew')
    const allowed = allowlistOf(rule)
    const windowMs = windowOf(rule)

    // Memory counts every event of a source, allowlisted or not, as the rollup does.
    const covered = memory?.coveredFromMs(MEMORY)
    const mem = memory && covered !== undefined ? skewMemory(memory) : undefined
    if (mem && memory) {
      for (const e of events) remember(mem, e.source, bucketStart(e.tsMs, windowMs), 1, e.clock_skew_ms, e.clock_skew_ms)
      // Forget by arrival (a source sets event time): windows a late event could still reach are kept.
      const last = events[events.length - 1]
      const horizon = last ? bucketStart(Date.parse(last.receivedAt) - windowMs - rule.latenessMs - 60 * 60_000, windowMs) : Number.NEGATIVE_INFINITY
      if (horizon > (covered as number) + windowMs || mem.size > MEMORY_SLOT_LIMIT) {
        for (const k of mem.keys()) if (Number(k.slice(k.lastIndexOf('\u0000') + 1)) < horizon) mem.delete(k)
        memory.narrow(MEMORY, horizon)
        if (mem.size > MEMORY_SLOT_LIMIT) {
          mem.clear()
          memory.narrow(MEMORY, Number.POSITIVE_INFINITY)
        }
      }
    }
    const coveredNow = memory?.coveredFromMs(MEMORY)

    const bySource = new Map<string, Map<number, EventGroup>>()
    let lo = Number.POSITIVE_INFINITY
    let hi = Number.NEGATIVE_INFINITY
    for (const e of events) {
      if (allowed(e)) continue
      const start = bucketStart(e.tsMs, windowMs)
      if (mem && coveredNow !== undefined && start >= coveredNow) {
        // Cleared by memory: every skew of the window is well within the source's limit.
        const m = mem.get(`${e.source}\u0000${start}`)
        const limit = p.source_max_skew_ms[e.source] ?? p.max_skew_ms
        if (m && Math.max(Math.abs(m.min), Math.abs(m.max)) < limit * (1 - MARGIN)) continue
      }
      entry(entry(bySource, e.source, () => new Map()), start, () => new EventGroup()).add(e)
      lo = Math.min(lo, start)
      hi = Math.max(hi, start + windowMs)
    }
    if (bySource.size === 0) return []

    // Not a query parameter: ClickHouse wants an aggregate's level as a literal. The schema
    // holds it to 0-100, and it is printed from a number.
    const level = Math.min(1, Math.max(0, p.percentile / 100))
    const rows = await store.query<SkewRow>(
      `SELECT source, toString(intDiv(toUnixTimestamp(second), {w:UInt32})) AS b, toString(sum(events)) AS n,
         quantileTDigestMerge(${level.toString()})(skew) AS p
       FROM rollup_source_skew_1s
       WHERE source IN {sources:Array(String)} AND second >= toDateTime({lo:Int64}, 'UTC') AND second < toDateTime({hi:Int64}, 'UTC')
       GROUP BY source, b`,
      { w: windowMs / 1000, sources: [...bySource.keys()], lo: Math.floor(lo / 1000), hi: Math.ceil(hi / 1000) },
    )

    const findings: Finding[] = []
    for (const r of rows) {
      const start = Number(r.b) * windowMs
      const group = bySource.get(r.source)?.get(start)
      if (!group) continue
      const n = Number(r.n)
      if (n < p.min_events || !Number.isFinite(r.p)) continue
      const limit = p.source_max_skew_ms[r.source] ?? p.max_skew_ms
      const skew = Math.abs(r.p)
      if (!(skew > limit)) continue
      const direction = r.p > 0 ? 'behind' : 'ahead of'
      findings.push({
        rule: 'clock.skew',
        severity: rule.severity,
        score: pastThreshold(skew, limit),
        entity: { type: 'source', id: r.source },
        firstSeenMs: group.firstMs,
        lastSeenMs: group.lastMs,
        windowStartMs: start,
        count: group.count,
        summary: `Source ${r.source}'s clock ran ${fmtNum(skew, 3)} ms ${direction} ingest's (p${fmtNum(p.percentile, 1)} of ${fmtNum(n, 0)} events in the ${fmtDuration(windowMs)} from ${fmtTime(start)}), over its ${fmtNum(limit, 3)} ms limit.`,
        evidence: {
          value: round(r.p, 4),
          threshold: limit,
          percentile: p.percentile,
          skew_ms: round(r.p, 4),
          direction: r.p > 0 ? 'behind' : 'ahead',
          events: n,
          window_ms: windowMs,
          sample_event_ids: group.ids,
        },
        ...(group.receivedAt ? { eventReceivedAt: group.receivedAt } : {}),
      })
    }
    return findings
  },
}
