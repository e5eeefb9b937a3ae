/**
 * `alert-latency` (MiFID II RTS 6 Art. 16(5)): for each alert opened in the period, the time
 * of the event that completed its finding and the time the alert was raised; the share raised
 * within 5 s; percentiles; every alert past 5 s with its cause.
 *
 * From detect's `alert_changes`, the `open` row of each alert (one per alert id):
 * event time = `last_seen` (the newest event behind the finding), alert time = `detected_at`,
 * arrival at ingest = `event_received_at` (when recorded). The cause of a breach is the larger
 * part of the delay: the event reaching ingest late (source clock or transport), or the time
 * from arrival to the alert (detection).
 */
import type { ReportBody, ReportContext, ReportQuery } from './report.js'
import { chToIsoExact, diffUs, periodParams, sqlText, usToMs } from './sql-time.js'

export const ALERT_LATENCY_LIMIT_MS = 5000

export interface AlertLatencyRow {
  alert_id: string
  rule: string
  severity: string
  event_at: string
  received_at: string | null
  alert_at: string
  latency_ms: number
  within_limit: boolean
}

export interface AlertLatencyBreach extends AlertLatencyRow {
  cause: string
}

export interface AlertLatencyData {
  limit_ms: number
  alerts: number
  within_limit: number
  /** within_limit / alerts, 4 decimals; null with no alerts. */
  share_within_limit: number | null
  /** ClickHouse quantileExact over the latencies, ms; null with no alerts. */
  percentiles_ms: { p50: number | null; p90: number | null; p95: number | null; p99: number | null; max: number | null }
  rows: AlertLatencyRow[]
  breaches: AlertLatencyBreach[]
}

const OPENED = `
SELECT id, rule, severity, toString(last_seen) AS event_at, toString(detected_at) AS alert_at,
  toString(event_received_at) AS received_at, dateDiff('microsecond', last_seen, detected_at) AS latency_us
FROM alert_changes
WHERE change = 'open' AND detected_at >= toDateTime64({from:String}, 6, 'UTC') AND detected_at < toDateTime64({to:String}, 6, 'UTC')
ORDER BY detected_at, id
LIMIT 1 BY id`

const SUMMARY = `
SELECT count() AS alerts, countIf(latency_us <= {limit_us:Int64}) AS within_limit,
  quantilesExact(0.5, 0.9, 0.95, 0.99)(latency_us) AS q, max(latency_us) AS max_us
FROM (${OPENED})`

interface OpenedRow {
  id: string
  rule: string
  severity: string
  event_at: string
  alert_at: string
  received_at: string
  latency_us: string | number
}

export async function alertLatency(ctx: ReportContext): Promise<ReportBody<AlertLatencyData>> {
  const { store } = ctx.deps
  const params = { ...periodParams(ctx.period), limit_us: ALERT_LATENCY_LIMIT_MS * 1000 }
  const opened = await store.query<OpenedRow>(OPENED, params)
  const [summary] = await store.query<{ alerts: string; within_limit: string; q: Array<string | number>; max_us: string | number }>(SUMMARY, params)
  const alerts = Number(summary?.alerts ?? 0)
  const within = Number(summary?.within_limit ?? 0)
  const q = (summary?.q ?? []).map(Number)
  const pct = (i: number) => (alerts > 0 && q[i] !== undefined ? usToMs(q[i]) : null)

  const rows: AlertLatencyRow[] = opened.map((r) => {
    const received = r.received_at && !r.received_at.startsWith('1970-01-01') ? r.received_at : null
    const latencyMs = usToMs(Number(r.latency_us))
    return {
      alert_id: r.id,
      rule: r.rule,
      severity: r.severity,
      event_at: chToIsoExact(r.event_at),
      received_at: received ? chToIsoExact(received) : null,
      alert_at: chToIsoExact(r.alert_at),
      latency_ms: latencyMs,
      within_limit: latencyMs <= ALERT_LATENCY_LIMIT_MS,
    }
  })
  const breaches: AlertLatencyBreach[] = opened
    .map((r, i) => ({ r, row: rows[i] as AlertLatencyRow }))
    .filter(({ row }) => !row.within_limit)
    .map(({ r, row }) => ({ ...row, cause: breachCause(r) }))

  const data: AlertLatencyData = {
    limit_ms: ALERT_LATENCY_LIMIT_MS,
    alerts,
    within_limit: within,
    share_within_limit: alerts > 0 ? Math.round((within / alerts) * 10_000) / 10_000 : null,
    percentiles_ms: { p50: pct(0), p90: pct(1), p95: pct(2), p99: pct(3), max: alerts > 0 ? usToMs(Number(summary?.max_us ?? 0)) : null },
    rows,
    breaches,
  }
  const queries: ReportQuery[] = [
    { name: 'alerts opened in the period, with event and alert times', sql: sqlText(OPENED) },
    { name: 'share within the limit and percentiles', sql: sqlText(SUMMARY) },
  ]
  const share = data.share_within_limit === null ? 'no alerts' : `${(data.share_within_limit * 100).toFixed(2)} %`
  return {
    title: 'Alert latency',
    regulation: ['MiFID II RTS 6 Art. 16(5) (real-time alerts, within 5 seconds)'],
    data,
    sections: [
      {
        title: 'Summary',
        text: [
          'Latency is the time from the event that completed an alert\'s finding (its last_seen, event time at the trading API) to the moment Vigil raised the alert (detected_at), for every alert first raised in the period.',
          'Percentiles are ClickHouse quantileExact over those latencies.',
        ],
        facts: [
          ['Alerts raised', alerts],
          [`Within ${ALERT_LATENCY_LIMIT_MS / 1000} s`, within],
          ['Share within the limit', share],
          ['p50 (ms)', data.percentiles_ms.p50],
          ['p90 (ms)', data.percentiles_ms.p90],
          ['p95 (ms)', data.percentiles_ms.p95],
          ['p99 (ms)', data.percentiles_ms.p99],
          ['max (ms)', data.percentiles_ms.max],
          ['Breaches', breaches.length],
        ],
      },
      {
        title: 'Breaches (over 5 s) and their cause',
        ...(breaches.length === 0 ? { text: ['None in the period.'] } : {}),
        table: {
          columns: ['alert', 'rule', 'event time (UTC)', 'alert time (UTC)', 'latency ms', 'cause'],
          rows: breaches.map((b) => [b.alert_id, b.rule, b.event_at, b.alert_at, b.latency_ms, b.cause]),
        },
      },
      {
        title: 'Every alert',
        table: {
          columns: ['alert', 'rule', 'severity', 'event time (UTC)', 'arrived at ingest (UTC)', 'alert time (UTC)', 'latency ms'],
          rows: rows.map((r) => [r.alert_id, r.rule, r.severity, r.event_at, r.received_at, r.alert_at, r.latency_ms]),
        },
      },
    ],
    queries,
    not_recorded: rows.some((r) => r.received_at === null)
      ? [{ field: 'arrival at ingest of the event behind some alerts', why: 'alerts raised before detect recorded event_received_at carry none; their breach cause cannot be split between transport and detection' }]
      : [],
  }
}

function breachCause(r: OpenedRow): string {
  const received = r.received_at && !r.received_at.startsWith('1970-01-01') ? r.received_at : null
  if (!received) return 'not recorded: the arrival time of the event was not recorded with the alert'
  const transitUs = diffUs(r.event_at, received)
  const detectUs = diffUs(received, r.alert_at)
  return transitUs >= detectUs
    ? `event reached ingest ${usToMs(transitUs)} ms after its time (source clock or transport); detection took ${usToMs(detectUs)} ms`
    : `detection took ${usToMs(detectUs)} ms from the event's arrival at ingest; the event arrived ${usToMs(transitUs)} ms after its time`
}
