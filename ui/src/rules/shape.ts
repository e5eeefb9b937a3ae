/**
 * The Rules page's data, shaped for the table: GET /v1/rules items (detect/src/rules-routes.ts)
 * with the numbers a person sorts and filters by, the bars of the fires-per-day sparkline, and
 * the check a switch's reason must pass. Plain functions, tested in shape.test.ts.
 */

export interface RuleChange {
  rule: string
  enabled: boolean
  reason: string
  actor: string
  at: string
}

/** One rule as GET /v1/rules lists it. */
export interface RuleSummary {
  id: string
  title: string
  description: string
  area: string
  severity: string
  enabled: boolean
  /** The newest runtime switch; null when the rule's file decides. Absent from older servers. */
  last_change?: RuleChange | null
  triage: string
  false_positives: string[]
  modified: string
  /** The last 14 UTC days, oldest first, days without a fire as 0. */
  fires_per_day: Array<{ day: string; count: number }>
  fires_total: number
  last_fired: string | null
  false_positive_marks: number
  open_alerts: number
}

export interface RuleRow extends RuleSummary {
  /** Fires over the days of `fires_per_day`. */
  fires_recent: number
  /** The busiest of those days. */
  fires_peak: number
  /** `last_fired` as epoch ms, 0 when it never fired (sorts last, newest first). */
  last_fired_ms: number
  /** Share of its alerts marked false positive (0-1), null when it never fired. */
  false_positive_rate: number | null
}

export function toRuleRow(r: RuleSummary): RuleRow {
  const counts = (r.fires_per_day ?? []).map((d) => (Number.isFinite(d.count) && d.count > 0 ? d.count : 0))
  const last = r.last_fired ? Date.parse(r.last_fired) : NaN
  return {
    ...r,
    fires_recent: counts.reduce((a, b) => a + b, 0),
    fires_peak: counts.reduce((a, b) => Math.max(a, b), 0),
    last_fired_ms: Number.isNaN(last) ? 0 : last,
    false_positive_rate: r.fires_total > 0 ? Math.min(1, r.false_positive_marks / r.fires_total) : null,
  }
}

export type EnabledFilter = 'all' | 'enabled' | 'disabled'

export interface RuleFilter {
  /** Words that must all appear in the id, title or description (any case). */
  text: string
  /** '' for every area. */
  area: string
  enabled: EnabledFilter
}

export const NO_FILTER: RuleFilter = { text: '', area: '', enabled: 'all' }

export function filterRules(rows: readonly RuleRow[], f: RuleFilter): RuleRow[] {
  const words = f.text.toLowerCase().split(/\s+/).filter(Boolean)
  return rows.filter((r) => {
    if (f.area && r.area !== f.area) return false
    if (f.enabled === 'enabled' && !r.enabled) return false
    if (f.enabled === 'disabled' && r.enabled) return false
    if (words.length === 0) return true
    const hay = `${r.id} ${r.title} ${r.description}`.toLowerCase()
    return words.every((w) => hay.includes(w))
  })
}

/** Every area once, in alphabetical order. */
export function areasOf(rows: readonly Pick<RuleSummary, 'area'>[]): string[] {
  return [...new Set(rows.map((r) => r.area))].sort()
}

export interface SparkBar {
  day: string
  count: number
  x: number
  y: number
  width: number
  height: number
}

/**
 * The bars of a fires-per-day sparkline in a `width` × `height` box: one per day, left to right,
 * scaled to the busiest day; a day without a fire gets a 1-unit stub on the baseline so the
 * days stay readable. Never NaN, whatever the counts.
 */
export function sparkBars(days: ReadonlyArray<{ day: string; count: number }>, width: number, height: number, gap = 2): SparkBar[] {
  const n = days.length
  if (n === 0 || width <= 0 || height <= 0) return []
  const slot = width / n
  const barWidth = Math.max(1, slot - gap)
  const counts = days.map((d) => (Number.isFinite(d.count) && d.count > 0 ? d.count : 0))
  const peak = Math.max(0, ...counts)
  return days.map((d, i) => {
    const count = counts[i] as number
    const h = count === 0 || peak === 0 ? 1 : Math.max(2, (count / peak) * height)
    return { day: d.day, count, x: i * slot + (slot - barWidth) / 2, y: height - h, width: barWidth, height: h }
  })
}

export const RULE_REASON_MAX = 1000

/** What is wrong with the reason for switching a rule, or null (the route wants 1-1000 characters). */
export function reasonError(reason: string): string | null {
  if (reason.trim() === '') return 'Give a reason: it is kept in the audit chain.'
  if (reason.length > RULE_REASON_MAX) return `At most ${RULE_REASON_MAX} characters (${reason.length} now).`
  return null
}

/** The list with one rule replaced by the server's answer after a switch. */
export function replaceRule(items: readonly RuleSummary[], updated: RuleSummary): RuleSummary[] {
  return items.map((r) => (r.id === updated.id ? updated : r))
}

/** The query key of GET /v1/rules on this page. */
export const RULES_KEY = ['rules', 'summaries'] as const
