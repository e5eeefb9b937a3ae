/**
 * The overview's data shaping, kept free of React so it is testable on its own: the answer of
 * `GET /v1/overview` becomes chart rows (events/s, alerts stacked by severity) and each source's
 * clock-skew health.
 */
import type { KillSwitch } from '../killswitches/types.js'

export const SEVERITY_ORDER = ['low', 'medium', 'high', 'critical'] as const
export type SeverityName = (typeof SEVERITY_ORDER)[number]

export interface SourceHealth {
  source: string
  last_event_at: string | null
  lag_ms: number | null
  events_5m: number
  clock_skew_ms: { p50: number; p99: number; max: number } | null
  limit_ms: number | null
  status: 'ok' | 'stale' | 'skew_breach' | 'silent'
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

export interface RatePoint {
  /** Bucket start, epoch ms. */
  x: number
  /** Events per second over the bucket. */
  events: number
  /** Failed events (outcome other than success) per second. */
  failures: number
}

/**
 * Count per bucket ÷ bucket seconds. A bucket still filling (it starts less than one bucket
 * before `now`) is divided by the seconds it has covered so far, so the newest point does not
 * dip just because the bucket is young.
 */
export function eventRates(events: Overview['events'], bucketMs: number, now: number = Date.now()): RatePoint[] {
  if (!(bucketMs > 0)) return []
  return events.map((b) => {
    const x = Date.parse(b.t)
    const covered = Math.min(bucketMs, Math.max(1000, now - x))
    const seconds = covered / 1000
    return { x, events: b.count / seconds, failures: b.failures / seconds }
  })
}

export interface SeverityRow {
  x: number
  severity: SeverityName
  count: number
}

/**
 * One row per bucket and severity, low first so it stacks at the bottom and critical on top.
 * Missing counts are 0 (a bar's height then still adds up to the bucket's total).
 */
export function severityRows(alerts: Overview['alerts']): SeverityRow[] {
  const rows: SeverityRow[] = []
  for (const b of alerts) {
    const x = Date.parse(b.t)
    for (const severity of SEVERITY_ORDER) rows.push({ x, severity, count: Number(b[severity]) || 0 })
  }
  return rows
}

/** Alerts created in the period (the sum over every bucket and severity). */
export function alertTotal(alerts: Overview['alerts']): number {
  let n = 0
  for (const b of alerts) for (const s of SEVERITY_ORDER) n += Number(b[s]) || 0
  return n
}

export type SkewHealth = 'success' | 'warning' | 'danger' | 'subdued'

/**
 * How a source's clock skew stands against its RTS 25 limit: danger when p99 is beyond it,
 * warning when the worst single reading is beyond it or p99 is within 80 % of it, success
 * otherwise; subdued when there is no skew data or no limit.
 */
export function skewHealth(s: Pick<SourceHealth, 'clock_skew_ms' | 'limit_ms'>): SkewHealth {
  const skew = s.clock_skew_ms
  if (!skew || s.limit_ms === null || !(s.limit_ms > 0)) return 'subdued'
  const p99 = Math.abs(skew.p99)
  if (p99 > s.limit_ms) return 'danger'
  if (Math.abs(skew.max) > s.limit_ms || p99 > 0.8 * s.limit_ms) return 'warning'
  return 'success'
}

export const SOURCE_STATUS_COLOR: Record<SourceHealth['status'], string> = {
  ok: 'success',
  stale: 'warning',
  skew_breach: 'danger',
  silent: 'default',
}

/** Signed milliseconds as "+12 ms" / "−3.4 s" (negative: the source's clock is ahead). */
export function formatSkew(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '—'
  const sign = ms < 0 ? '−' : ms > 0 ? '+' : ''
  const a = Math.abs(ms)
  if (a < 1000) return `${sign}${Math.round(a)} ms`
  if (a < 60_000) return `${sign}${(a / 1000).toFixed(1)} s`
  return `${sign}${Math.round(a / 60_000)} min`
}
