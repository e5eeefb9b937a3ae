/**
 * `GET /v1/overview?from=&to=` (events:read): the dashboard's overview of a period — events
 * and alerts by severity over time, open incidents, tripped kill-switches, and each source's
 * health (last event, lag, events in the last 5 minutes, clock skew against its RTS 25 limit).
 *
 * Every read is a rollup or a small table, bounded by the period on its sort key:
 * - events and failures (outcome != 'success') per bucket: `overview_source_1s` (migration
 *   server/002), by event time;
 * - alerts per bucket by their current severity: `alert_changes`, by first_seen (the time
 *   `GET /v1/alerts?from&to` filters on), so a bucket's count is what the list shows for it;
 * - clock skew p50/p99 over the period: detect's `rollup_source_skew_1s` t-digests (signed
 *   ms: a clock ahead of ingest's shows negative); max: the largest absolute skew;
 * - a source's last event: `overview_source_last` (its newest received_at);
 * - open incidents (open or contained) from respond's `incident_changes`; tripped kill-switches
 *   from respond's store.
 *
 * Buckets are whole steps of 1 s … 1 day chosen so that at most 240 cover the period, aligned
 * to the epoch: the first starts at or before `from`, and each counts its whole span. A
 * source's `limit_ms` is clock.skew's limit for it (`source_max_skew_ms[source]`, else
 * `max_skew_ms`), null when no clock.skew rule is loaded. Its status, first that applies:
 * `silent` (no event received for an hour, or never), `stale` (none for 5 minutes),
 * `skew_breach` (the skew percentile clock.skew judges by, over the period, beyond the limit
 * in absolute value), else `ok`. Sources are the registered ones and any that sent events.
 */
import type { FastifyPluginAsync } from 'fastify'
import { VigilError, storeUnavailable, type Store } from '@vigil/core'
import { loadRules, type Rule } from '@vigil/detect'
import type { SourceRegistry } from '@vigil/ingest'
import type { KillSwitch, KillSwitchStore } from '@vigil/respond'
import { clickHouseToRfc3339, rfc3339ToClickHouse } from './time-format.js'

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
/** Bucket widths; the smallest that keeps the period within MAX_BUCKETS is used. */
export const OVERVIEW_STEPS_MS = [1, 2, 5, 10, 15, 30].map((s) => s * SECOND).concat([1, 2, 5, 10, 15, 30].map((m) => m * MINUTE), [1, 2, 3, 6, 12].map((h) => h * HOUR), [DAY])
export const MAX_BUCKETS = 240
/** 239 days always fits in 240 one-day buckets, however it is aligned. */
export const MAX_OVERVIEW_RANGE_MS = 239 * DAY
export const DEFAULT_OVERVIEW_RANGE_MS = HOUR
/** No event received for this long: stale; for SILENT_MS: silent. */
export const STALE_MS = 5 * MINUTE
export const SILENT_MS = HOUR
const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const

export type SourceStatus = 'ok' | 'stale' | 'skew_breach' | 'silent'

export interface SourceHealth {
  source: string
  last_event_at: string | null
  lag_ms: number | null
  events_5m: number
  clock_skew_ms: { p50: number; p99: number; max: number } | null
  limit_ms: number | null
  status: SourceStatus
}

export interface Overview {
  from: string
  to: string
  bucket_ms: number
  events: Array<{ t: string; count: number; failures: number }>
  alerts: Array<{ t: string; low: number; medium: number; high: number; critical: number }>
  open_incidents: number
  tripped_killswitches: KillSwitch[]
  sources: SourceHealth[]
}

export interface OverviewDeps {
  store: Store
  sources: Pick<SourceRegistry, 'list'>
  killswitches: Pick<KillSwitchStore, 'list'>
  /** Where clock.skew's limits come from. @defaultValue the rules of `rules/detections` */
  rules?: readonly Pick<Rule, 'id' | 'params'>[]
  now?: () => number
}

const badRange = (detail: string) => new VigilError('VIGIL_ERR_API_BAD_TIME_RANGE', detail)

function readQuery(raw: unknown): { from?: string; to?: string } {
  const out: Record<string, string> = {}
  if (raw === null || typeof raw !== 'object') return out
  for (const [k, v] of Object.entries(raw)) {
    if (k !== 'from' && k !== 'to') throw new VigilError('VIGIL_ERR_API_BAD_REQUEST', `unknown parameter "${k.slice(0, 32)}"`)
    if (typeof v !== 'string' || v.length > 64) throw badRange(`${k} must be one RFC 3339 time`)
    out[k] = v
  }
  return out
}

function timeParam(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined
  if (rfc3339ToClickHouse(v) === undefined) throw badRange(`${name} must be an RFC 3339 time`)
  return Date.parse(v)
}

/** The period asked for: `to` defaults to now, `from` to an hour before `to`. */
export function overviewRange(q: { from?: string; to?: string }, nowMs: number): { fromMs: number; toMs: number } {
  const to = timeParam('to', q.to) ?? nowMs
  const from = timeParam('from', q.from) ?? to - DEFAULT_OVERVIEW_RANGE_MS
  if (from >= to) throw badRange('from must be before to')
  if (to - from > MAX_OVERVIEW_RANGE_MS) throw badRange('from and to are at most 239 days apart')
  return { fromMs: from, toMs: to }
}

/** The smallest step whose epoch-aligned buckets covering [from, to) number at most MAX_BUCKETS. */
export function overviewStep(fromMs: number, toMs: number): number {
  for (const step of OVERVIEW_STEPS_MS) {
    if (Math.ceil(toMs / step) - Math.floor(fromMs / step) <= MAX_BUCKETS) return step
  }
  throw badRange('from and to are at most 239 days apart')
}

/** clock.skew's limit per source and by default, from the loaded rule. */
function clockLimits(rules: readonly Pick<Rule, 'id' | 'params'>[]): { byDefault: number; bySource: Record<string, number>; level: number } | undefined {
  const rule = rules.find((r) => r.id === 'clock.skew')
  if (!rule) return undefined
  const p = rule.params as { max_skew_ms?: number; source_max_skew_ms?: Record<string, number>; percentile?: number }
  return { byDefault: p.max_skew_ms ?? 250, bySource: p.source_max_skew_ms ?? {}, level: Math.min(1, Math.max(0, (p.percentile ?? 5) / 100)) }
}

const round3 = (x: number) => Math.round(x * 1000) / 1000
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z')

export function overviewRoutes(deps: OverviewDeps): FastifyPluginAsync {
  const now = deps.now ?? Date.now
  let rules = deps.rules
  return async (app) => {
    app.get('/v1/overview', { config: { permission: 'events:read' } }, async (req) => {
      const { fromMs, toMs } = overviewRange(readQuery(req.query), now())
      rules ??= loadRules()
      return buildOverview(deps, rules, fromMs, toMs, now()).catch((err: unknown) => {
        throw storeUnavailable(err)
      })
    })
  }
}

export async function buildOverview(deps: OverviewDeps, rules: readonly Pick<Rule, 'id' | 'params'>[], fromMs: number, toMs: number, nowMs: number): Promise<Overview> {
  const { store } = deps
  const step = overviewStep(fromMs, toMs)
  const first = Math.floor(fromMs / step) * step
  const end = Math.ceil(toMs / step) * step
  const stepSec = step / 1000
  const range = { lo: Math.floor(first / 1000), hi: Math.floor(end / 1000), step: stepSec }
  const limits = clockLimits(rules)
  // ClickHouse takes a quantile's level only as a literal; it is printed from a number here.
  const level = (limits?.level ?? 0.05).toString()

  const [events, alerts, incidents, killswitches, registered, last, recent, skew] = await Promise.all([
    store.query<{ b: string; n: string; f: string }>(
      `SELECT toString(intDiv(toUnixTimestamp(second), {step:UInt32})) AS b, toString(sum(events)) AS n, toString(sum(failures)) AS f
       FROM overview_source_1s
       WHERE second >= toDateTime({lo:Int64}, 'UTC') AND second < toDateTime({hi:Int64}, 'UTC')
       GROUP BY b`,
      range,
    ),
    store.query<{ b: string; sev: string; n: string }>(
      `SELECT toString(intDiv(toUnixTimestamp(fs), {step:UInt32})) AS b, sev, toString(count()) AS n
       FROM (SELECT id, argMax(severity, version) AS sev, min(first_seen) AS fs FROM alert_changes
             WHERE first_seen >= toDateTime64({lo:Int64}, 6, 'UTC') AND first_seen < toDateTime64({hi:Int64}, 6, 'UTC') GROUP BY id)
       GROUP BY b, sev`,
      range,
    ),
    store.query<{ n: string }>(
      `SELECT toString(count()) AS n FROM (SELECT id, argMax(status, version) AS st FROM incident_changes GROUP BY id) WHERE st IN ('open', 'contained')`,
    ),
    deps.killswitches.list({ status: 'tripped', limit: 1000 }),
    deps.sources.list(),
    store.query<{ source: string; at: string }>(`SELECT source, toString(max(last_received)) AS at FROM overview_source_last GROUP BY source`),
    store.query<{ source: string; n: string }>(
      `SELECT source, toString(sum(events)) AS n FROM overview_source_1s WHERE second >= toDateTime({since:Int64}, 'UTC') GROUP BY source`,
      { since: Math.floor((nowMs - STALE_MS) / 1000) },
    ),
    store.query<{ source: string; p50: number; p99: number; judged: number; mx: number | null }>(
      `SELECT s.source AS source, s.p50 AS p50, s.p99 AS p99, s.judged AS judged, m.mx AS mx FROM
         (SELECT source, quantileTDigestMerge(0.5)(skew) AS p50, quantileTDigestMerge(0.99)(skew) AS p99, quantileTDigestMerge(${level})(skew) AS judged
          FROM rollup_source_skew_1s WHERE second >= toDateTime({lo:Int64}, 'UTC') AND second < toDateTime({hi:Int64}, 'UTC') GROUP BY source) AS s
       LEFT JOIN
         (SELECT source, max(skew_max_abs) AS mx FROM overview_source_1s
          WHERE second >= toDateTime({lo:Int64}, 'UTC') AND second < toDateTime({hi:Int64}, 'UTC') GROUP BY source) AS m
       ON s.source = m.source`,
      range,
    ),
  ])

  const eventsBy = new Map(events.map((r) => [Number(r.b), r]))
  const alertsBy = new Map<number, Record<(typeof SEVERITIES)[number], number>>()
  for (const r of alerts) {
    const b = Number(r.b)
    const row = alertsBy.get(b) ?? { low: 0, medium: 0, high: 0, critical: 0 }
    if ((SEVERITIES as readonly string[]).includes(r.sev)) row[r.sev as (typeof SEVERITIES)[number]] += Number(r.n)
    alertsBy.set(b, row)
  }
  const eventBuckets: Overview['events'] = []
  const alertBuckets: Overview['alerts'] = []
  for (let t = first; t < end; t += step) {
    const b = t / step
    const e = eventsBy.get(b)
    eventBuckets.push({ t: iso(t), count: Number(e?.n ?? 0), failures: Number(e?.f ?? 0) })
    alertBuckets.push({ t: iso(t), ...(alertsBy.get(b) ?? { low: 0, medium: 0, high: 0, critical: 0 }) })
  }

  const lastBy = new Map(last.map((r) => [r.source, r.at]))
  const recentBy = new Map(recent.map((r) => [r.source, Number(r.n)]))
  const skewBy = new Map(skew.map((r) => [r.source, r]))
  const names = new Set<string>([...registered.filter((s) => s.status === 'active').map((s) => s.id), ...lastBy.keys()])
  const sources: SourceHealth[] = [...names].sort().map((source) => {
    const at = lastBy.get(source)
    const lastIso = at ? clickHouseToRfc3339(at) : null
    const lag = lastIso ? Math.max(0, nowMs - Date.parse(lastIso)) : null
    const s = skewBy.get(source)
    const limit = limits ? (limits.bySource[source] ?? limits.byDefault) : null
    let status: SourceStatus = 'ok'
    if (lag === null || lag >= SILENT_MS) status = 'silent'
    else if (lag >= STALE_MS) status = 'stale'
    else if (s && limit !== null && Math.abs(s.judged) > limit) status = 'skew_breach'
    return {
      source,
      last_event_at: lastIso,
      lag_ms: lag,
      events_5m: recentBy.get(source) ?? 0,
      clock_skew_ms: s ? { p50: round3(s.p50), p99: round3(s.p99), max: round3(s.mx ?? Math.max(Math.abs(s.p50), Math.abs(s.p99))) } : null,
      limit_ms: limit,
      status,
    }
  })

  return {
    from: iso(fromMs),
    to: iso(toMs),
    bucket_ms: step,
    events: eventBuckets,
    alerts: alertBuckets,
    open_incidents: Number(incidents[0]?.n ?? 0),
    tripped_killswitches: killswitches,
    sources,
  }
}
