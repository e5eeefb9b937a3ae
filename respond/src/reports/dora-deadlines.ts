/**
 * DORA major-incident reporting deadlines (Regulation (EU) 2022/2554 Art. 19, Commission
 * Delegated Regulation (EU) 2025/301 Art. 5), computed in UTC:
 * - initial notification: within 4 h of classification as major, and at the latest 24 h
 *   after detection — the earlier of the two;
 * - intermediate report: within 72 h of the initial notification's submission (before it is
 *   submitted, counted from the initial deadline);
 * - final report: within 1 month of the last intermediate report (likewise, from the
 *   intermediate deadline before one is submitted).
 * "1 month" is the same day of the next calendar month at the same UTC time, or that
 * month's last day when it has no such day (31 January → 28/29 February, 31 March →
 * 30 April); a month end is handled by the calendar of the UTC date, never of a local zone.
 * Each deadline is `met` (submitted by it), `overdue` (submitted late, or not submitted and
 * the as-of time is past it) or `pending` (not submitted, not yet due).
 */

export type DeadlineStatus = 'met' | 'overdue' | 'pending'

export interface DoraDeadline {
  stage: 'initial' | 'intermediate' | 'final'
  due: string
  /** What the due time was counted from, in words. */
  basis: string
  submitted_at: string | null
  status: DeadlineStatus
}

export interface DoraDeadlineInput {
  /** RFC 3339, any offset. */
  detectedAt: string
  classifiedAt: string
  initialSubmittedAt?: string | null
  lastIntermediateSubmittedAt?: string | null
  finalSubmittedAt?: string | null
  /** The time the statuses are judged at. */
  asOf: string
}

const HOUR = 3_600_000

/** `ms` plus `months` calendar months in UTC, the day clamped to the target month's last day. */
export function addMonthsUtc(ms: number, months: number): number {
  const d = new Date(ms)
  const y = d.getUTCFullYear()
  const m = d.getUTCMonth() + months
  const lastDay = new Date(Date.UTC(y, m + 1, 0)).getUTCDate()
  return Date.UTC(y, m, Math.min(d.getUTCDate(), lastDay), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds())
}

function parse(name: string, iso: string): number {
  const ms = Date.parse(iso)
  if (Number.isNaN(ms)) throw new Error(`${name} is not a time: ${iso.slice(0, 40)}`)
  return ms
}

const utc = (ms: number) => new Date(ms).toISOString()

function judge(dueMs: number, submitted: string | null | undefined, asOfMs: number): { submitted_at: string | null; status: DeadlineStatus } {
  if (submitted) {
    const s = parse('submission', submitted)
    return { submitted_at: utc(s), status: s <= dueMs ? 'met' : 'overdue' }
  }
  return { submitted_at: null, status: asOfMs > dueMs ? 'overdue' : 'pending' }
}

export function doraDeadlines(input: DoraDeadlineInput): DoraDeadline[] {
  const detected = parse('detectedAt', input.detectedAt)
  const classified = parse('classifiedAt', input.classifiedAt)
  const asOf = parse('asOf', input.asOf)
  const byClassification = classified + 4 * HOUR
  const byDetection = detected + 24 * HOUR
  const initialDue = Math.min(byClassification, byDetection)
  const initial = judge(initialDue, input.initialSubmittedAt, asOf)
  const initialBase = initial.submitted_at ? Date.parse(initial.submitted_at) : initialDue
  const intermediateDue = initialBase + 72 * HOUR
  const intermediate = judge(intermediateDue, input.lastIntermediateSubmittedAt, asOf)
  const intermediateBase = intermediate.submitted_at ? Date.parse(intermediate.submitted_at) : intermediateDue
  const finalDue = addMonthsUtc(intermediateBase, 1)
  const final = judge(finalDue, input.finalSubmittedAt, asOf)
  return [
    {
      stage: 'initial',
      due: utc(initialDue),
      basis: byClassification <= byDetection ? '4 h after classification' : '24 h after detection (earlier than 4 h after classification)',
      ...initial,
    },
    { stage: 'intermediate', due: utc(intermediateDue), basis: initial.submitted_at ? '72 h after the initial notification' : '72 h after the initial deadline (initial not submitted)', ...intermediate },
    {
      stage: 'final',
      due: utc(finalDue),
      basis: intermediate.submitted_at ? '1 month after the last intermediate report' : '1 month after the intermediate deadline (intermediate not submitted)',
      ...final,
    },
  ]
}
