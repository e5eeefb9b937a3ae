/**
 * An alert's evidence shaped for the flyout: the measured value against its baseline and
 * threshold (a bullet chart), the score, and every other field as a readable list. Rules
 * write different evidence (detect/src/detectors/*); what they share is `value`,
 * `threshold`, sometimes `baseline` (or `median`), and `sample_event_ids`. Tested in
 * evidence.test.ts.
 */
import type { Alert } from './types.js'

export interface EvidenceBar {
  kind: 'baseline' | 'value' | 'threshold'
  label: string
  value: number
  /** Position on the chart's axis, 0…1. */
  at: number
}

export interface EvidenceView {
  value: number | null
  baseline: number | null
  threshold: number | null
  /**
   * What the threshold is compared with: the value itself, or — for rules that judge by a
   * robust z-score against the baseline (volume.spike, order.fat_finger) — `z`.
   */
  thresholdOf: 'value' | 'z'
  z: number | null
  score: number
  /** What `value` measures, when the rule says (`metric`, `field`). */
  measure: string | null
  /** value ÷ baseline, when both are known and the baseline is positive. */
  ratio: number | null
  /** The chart's bars (only the numbers the rule gave); empty when there is nothing to draw. */
  bars: EvidenceBar[]
  scale: 'linear' | 'log'
  /** The axis' upper end, in the evidence's unit. */
  max: number
  /** Everything else the rule recorded, flattened to label and text. */
  details: { label: string; text: string }[]
  sampleEventIds: string[]
  /** The window the rule looked at, when it says. */
  window: { from: string; to: string } | null
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)

/** Fields shown by the chart or elsewhere in the flyout, not repeated in the details. */
const SHOWN = new Set(['value', 'baseline', 'threshold', 'z', 'sample_event_ids', 'window'])

function text(v: unknown): string {
  if (v === null || v === undefined) return '—'
  if (typeof v === 'string') return v
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number')) return v.join(', ')
  return JSON.stringify(v)
}

/** `success_within_ms` → "success within ms". */
export function labelOf(key: string): string {
  return key.replace(/_/g, ' ')
}

export function shapeEvidence(alert: Pick<Alert, 'evidence' | 'score'>): EvidenceView {
  const ev = alert.evidence ?? {}
  const value = num(ev.value)
  const baseline = num(ev.baseline) ?? num(ev.median)
  const threshold = num(ev.threshold)
  const measure = typeof ev.metric === 'string' ? ev.metric : typeof ev.field === 'string' ? ev.field : null
  const ratio = value !== null && baseline !== null && baseline > 0 ? value / baseline : null
  const z = num(ev.z)
  const thresholdOf: 'value' | 'z' = z !== null && (ev.reason === undefined || ev.reason === 'zscore') ? 'z' : 'value'

  const raw: Omit<EvidenceBar, 'at'>[] = []
  if (baseline !== null) raw.push({ kind: 'baseline', label: 'Baseline', value: baseline })
  if (value !== null) raw.push({ kind: 'value', label: 'Actual', value })
  // A z-score threshold is not on the value's axis: it is shown beside the chart instead.
  if (threshold !== null && thresholdOf === 'value') raw.push({ kind: 'threshold', label: 'Threshold', value: threshold })
  const positives = raw.map((b) => b.value).filter((v) => v > 0)
  const top = positives.length ? Math.max(...positives) : 0
  const bottom = positives.length ? Math.min(...positives) : 0
  // A fat-finger order of 50 000 against a usual 211 would leave the baseline invisible on a
  // linear axis; beyond two orders of magnitude the axis is logarithmic (and says so).
  const scale: 'linear' | 'log' = raw.every((b) => b.value > 0) && bottom > 0 && top / bottom > 100 ? 'log' : 'linear'
  const max = top > 0 ? top * 1.1 : 1
  const at = (v: number): number => {
    if (v <= 0) return 0
    if (scale === 'log') {
      const lo = Math.log10(bottom) - 0.5
      const hi = Math.log10(max)
      return Math.min(1, Math.max(0, (Math.log10(v) - lo) / (hi - lo)))
    }
    return Math.min(1, v / max)
  }
  const bars = raw.map((b) => ({ ...b, at: at(b.value) }))

  const details = Object.entries(ev)
    .filter(([k]) => !SHOWN.has(k) && !(k === 'median' && num(ev.baseline) === null))
    .map(([k, v]) => ({ label: labelOf(k), text: text(v) }))

  const ids = Array.isArray(ev.sample_event_ids) ? ev.sample_event_ids.filter((x): x is string => typeof x === 'string') : []
  const w = ev.window as { from?: unknown; to?: unknown } | undefined
  const window = w && typeof w.from === 'string' && typeof w.to === 'string' ? { from: w.from, to: w.to } : null

  return { value, baseline, threshold, thresholdOf, z, score: alert.score, measure, ratio, bars, scale, max, details, sampleEventIds: ids, window }
}

/** The `GET /v1/events` query for the events around an alert: its key (or account, or address) over its window, a minute either side. */
export function rawEventsQuery(alert: Alert, limit = 200): Record<string, string> {
  const ev = shapeEvidence(alert)
  const times = [Date.parse(alert.first_seen), Date.parse(alert.last_seen)]
  if (ev.window) times.push(Date.parse(ev.window.from), Date.parse(ev.window.to))
  const valid = times.filter((t) => !Number.isNaN(t))
  const q: Record<string, string> = {}
  if (alert.api_key_id) q.api_key_id = alert.api_key_id
  else if (alert.account_id) q.account_id = alert.account_id
  else if (alert.client_ip) q.client_ip = alert.client_ip
  else if (alert.entity.type === 'ip') q.client_ip = alert.entity.id
  if (valid.length) {
    q.from = new Date(Math.min(...valid) - 60_000).toISOString()
    q.to = new Date(Math.max(...valid) + 60_000).toISOString()
  }
  q.limit = String(limit)
  return q
}
