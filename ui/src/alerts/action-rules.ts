/** What the flyout's actions require, as plain functions (tested in action-rules.test.ts). */
import type { Alert, SettableStatus } from './types.js'

/** The note rule: a false positive needs one (why it is not an attack); other statuses may have one. */
export function noteError(status: SettableStatus, note: string): string | null {
  if (status === 'false_positive' && note.trim() === '') return 'Say why this is a false positive: the note is required.'
  if (note.length > 4000) return 'The note is longer than 4000 characters.'
  return null
}

/** The body of `POST /v1/alerts/:id/status`: the note only when there is one. */
export function statusBody(status: SettableStatus, note: string): { status: SettableStatus; note?: string } {
  const n = note.trim()
  return n ? { status, note: n } : { status }
}

/** The prefilled reason of a revocation from an alert. */
export const revokeReasonFor = (alert: Pick<Alert, 'id' | 'rule'>) => `alert ${alert.id}: ${alert.rule}`
