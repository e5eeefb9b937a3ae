/**
 * `clock-sync` (MiFID II RTS 25, PCI DSS 10.6): per source, how far its clock diverged from
 * ingest's UTC clock over the period, against its limit, the timestamp granularity it sent,
 * and its breaches.
 * - Divergence is `clock_skew_ms` = received_at − ts per event (ingest adds it, CONTRACT §1),
 *   which is clock divergence plus transit; transit only adds, so the low percentile (p5) of
 *   the signed skews is the best estimate of the divergence, as the clock.skew rule uses it.
 * - The limit of each source is the clock.skew rule's (its `source_max_skew_ms` entry, else
 *   `max_skew_ms`), passed in by the server from the rule file; the report names where.
 * - Granularity is the finest fractional digit any of the source's `ts` used (9 = ns, 6 = µs,
 *   3 = ms, 0 = s).
 * - Breaches are the clock.skew alerts raised for the source in the period (the rule judges
 *   5-minute windows); events whose own skew exceeded the limit are counted too.
 */
import type { ReportBody, ReportContext, ReportQuery } from './report.js'
import { chToIsoExact, periodParams, sqlText } from './sql-time.js'

export const DEFAULT_CLOCK_LIMIT_MS = 250

export interface ClockSourceRow {
  source: string
  limit_ms: number
  limit_from: 'source setting' | 'rule default'
  events: number
  p5_skew_ms: number
  median_skew_ms: number
  min_skew_ms: number
  max_skew_ms: number
  max_abs_skew_ms: number
  events_over_limit: number
  granularity: 'ns' | 'µs' | 'ms' | 's'
  breaches: number
  status: 'within limit' | 'breached'
}

export interface ClockBreach {
  alert_id: string
  source: string
  first_seen: string
  last_seen: string
  severity: string
  summary: string
}

export interface ClockSyncData {
  limits_origin: string
  default_limit_ms: number
  sources: ClockSourceRow[]
  breaches: ClockBreach[]
}

const PER_SOURCE = `
SELECT source, count() AS events,
  quantileExact(0.05)(clock_skew_ms) AS p5, quantileExact(0.5)(clock_skew_ms) AS p50,
  min(clock_skew_ms) AS min_skew, max(clock_skew_ms) AS max_skew, max(abs(clock_skew_ms)) AS max_abs,
  countIf(abs(clock_skew_ms) > transform(toString(source), {sources:Array(String)}, {limits:Array(Float64)}, {default_limit:Float64})) AS over_limit,
  max(multiIf(toUnixTimestamp64Nano(ts) % 1000 != 0, 9, toUnixTimestamp64Nano(ts) % 1000000 != 0, 6, toUnixTimestamp64Nano(ts) % 1000000000 != 0, 3, 0)) AS digits
FROM events FINAL
WHERE ts >= toDateTime64({from:String}, 9, 'UTC') AND ts < toDateTime64({to:String}, 9, 'UTC')
GROUP BY source
ORDER BY source`

const BREACHES = `
SELECT id, entity_id AS source, severity, toString(first_seen) AS first_seen, toString(last_seen) AS last_seen, summary
FROM alert_changes
WHERE change = 'open' AND rule = 'clock.skew' AND detected_at >= toDateTime64({from:String}, 6, 'UTC') AND detected_at < toDateTime64({to:String}, 6, 'UTC')
ORDER BY first_seen, id
LIMIT 1 BY id`

const GRANULARITY = { 9: 'ns', 6: 'µs', 3: 'ms', 0: 's' } as const

export async function clockSync(ctx: ReportContext): Promise<ReportBody<ClockSyncData>> {
  const { store } = ctx.deps
  const limits = ctx.deps.clockLimits ?? { defaultMs: DEFAULT_CLOCK_LIMIT_MS, perSourceMs: {}, origin: 'built-in default (no clock.skew rule given)' }
  const perSource = Object.entries(limits.perSourceMs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  const params = { ...periodParams(ctx.period), sources: perSource.map(([s]) => s), limits: perSource.map(([, l]) => l), default_limit: limits.defaultMs }
  const rows = await store.query<{ source: string; events: string; p5: number; p50: number; min_skew: number; max_skew: number; max_abs: number; over_limit: string; digits: number }>(PER_SOURCE, params)
  const alerts = await store.query<{ id: string; source: string; severity: string; first_seen: string; last_seen: string; summary: string }>(BREACHES, periodParams(ctx.period))
  const breaches: ClockBreach[] = alerts.map((a) => ({ alert_id: a.id, source: a.source, first_seen: chToIsoExact(a.first_seen), last_seen: chToIsoExact(a.last_seen), severity: a.severity, summary: a.summary }))
  const round = (n: number) => Math.round(n * 1000) / 1000
  const sources: ClockSourceRow[] = rows.map((r) => {
    const own = limits.perSourceMs[r.source]
    const count = breaches.filter((b) => b.source === r.source).length
    return {
      source: r.source,
      limit_ms: own ?? limits.defaultMs,
      limit_from: own !== undefined ? 'source setting' : 'rule default',
      events: Number(r.events),
      p5_skew_ms: round(r.p5),
      median_skew_ms: round(r.p50),
      min_skew_ms: round(r.min_skew),
      max_skew_ms: round(r.max_skew),
      max_abs_skew_ms: round(r.max_abs),
      events_over_limit: Number(r.over_limit),
      granularity: GRANULARITY[Number(r.digits) as keyof typeof GRANULARITY] ?? 's',
      breaches: count,
      status: count > 0 ? 'breached' : 'within limit',
    }
  })
  const queries: ReportQuery[] = [
    { name: 'divergence, granularity and events over the limit per source', sql: sqlText(PER_SOURCE) },
    { name: 'clock.skew alerts raised in the period (breaches)', sql: sqlText(BREACHES) },
  ]
  return {
    title: 'Clock synchronisation',
    regulation: ['MiFID II RTS 25 (Commission Delegated Regulation (EU) 2017/574) Art. 1-4', 'PCI DSS 10.6 (time synchronisation)'],
    data: { limits_origin: limits.origin, default_limit_ms: limits.defaultMs, sources, breaches },
    sections: [
      {
        title: 'Method',
        text: [
          'Each event carries clock_skew_ms = received_at (ingest\'s UTC clock) - ts (the source\'s clock). That is divergence plus network transit; transit only adds, so the 5th percentile of the signed skews estimates the divergence (negative: the source clock is ahead).',
          `Limits come from ${limits.origin}: ${limits.defaultMs} ms unless a source has its own. RTS 25 asks 100 µs for high-frequency algorithmic trading, 1 ms for other algorithmic trading and 1 s for voice trading; a source held to one of those must have it as its own limit.`,
          'A breach is a clock.skew alert: the rule judges 5-minute windows of at least its minimum number of events.',
        ],
      },
      {
        title: 'Per source',
        table: {
          columns: ['source', 'limit ms', 'limit from', 'events', 'p5 skew ms', 'median ms', 'max |skew| ms', 'events over limit', 'granularity', 'breaches', 'status'],
          rows: sources.map((s) => [s.source, s.limit_ms, s.limit_from, s.events, s.p5_skew_ms, s.median_skew_ms, s.max_abs_skew_ms, s.events_over_limit, s.granularity, s.breaches, s.status]),
        },
      },
      {
        title: 'Breaches',
        ...(breaches.length === 0 ? { text: ['None in the period.'] } : {}),
        table: { columns: ['alert', 'source', 'severity', 'first seen (UTC)', 'last seen (UTC)', 'summary'], rows: breaches.map((b) => [b.alert_id, b.source, b.severity, b.first_seen, b.last_seen, b.summary]) },
      },
    ],
    queries,
    not_recorded: [
      { field: 'divergence of ingest\'s own clock from UTC', why: 'Vigil does not record the host\'s time-synchronisation status (chrony/PTP offset); the report measures sources against ingest\'s clock' },
    ],
  }
}
