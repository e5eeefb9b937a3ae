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
 * Queries per tick, whenever the batch holds an event of a source not allowlisted: one.
 */
import type { Detector, Finding } from '../detector.js'
import { builtinParams } from '../rules.js'
import { allowlistOf, bucketStart, entry, EventGroup, fmtDuration, fmtNum, fmtTime, pastThreshold, round } from './behaviour-common.js'

interface SkewRow {
  source: string
  b: string
  n: string
  p: number
}

export const clockSkew: Detector = {
  ruleId: 'clock.skew',
  async detect(events, { store, rule }) {
    const p = builtinParams(rule, 'clock.skew')
    const allowed = allowlistOf(rule)
    const windowMs = Math.max(1000, Math.ceil(rule.windowMs / 1000) * 1000)

    const bySource = new Map<string, Map<number, EventGroup>>()
    let lo = Number.POSITIVE_INFINITY
    let hi = Number.NEGATIVE_INFINITY
    for (const e of events) {
      if (allowed(e)) continue
      const start = bucketStart(e.tsMs, windowMs)
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
