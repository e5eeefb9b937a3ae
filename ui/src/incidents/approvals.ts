/**
 * Which approval requests belong to an incident, and whether a person can still decide one.
 * Plain functions, tested in approvals.test.ts; ApprovalsPanel.tsx renders them.
 *
 * `GET /v1/approvals` lists every pending request (not one incident's), so the page filters
 * it by `incident_id`. The incident's timeline also names each request (`approval_requested`,
 * `detail.approval_id`) and each decision (`approval_decided`): a request the timeline shows as
 * undecided but that the list did not carry (a long list, paged) is read on its own.
 */
import type { Approval, IncidentSummary, TimelineEntry } from './types.js'

/** Each request of this incident, in the order they were asked, one per id. */
export function approvalsOfIncident(approvals: readonly Approval[], incident: Pick<IncidentSummary, 'id' | 'alert_ids'>): Approval[] {
  const alerts = new Set(incident.alert_ids)
  const byId = new Map<string, Approval>()
  for (const a of approvals) {
    const mine = a.incident_id === incident.id || (a.incident_id === null && alerts.has(a.alert_id))
    if (!mine) continue
    const known = byId.get(a.id)
    // Two answers for one id (the list and a single read): the decided one is the newer.
    if (!known || (known.status === 'pending' && a.status !== 'pending')) byId.set(a.id, a)
  }
  return [...byId.values()].sort((x, y) => Date.parse(x.requested_at) - Date.parse(y.requested_at) || x.id.localeCompare(y.id))
}

/** The approval ids the timeline shows as asked and not yet decided. */
export function undecidedInTimeline(entries: readonly TimelineEntry[]): string[] {
  const asked: string[] = []
  const decided = new Set<string>()
  for (const e of entries) {
    const id = typeof e.detail?.approval_id === 'string' ? e.detail.approval_id : null
    if (!id) continue
    if (e.kind === 'approval_requested' && !asked.includes(id)) asked.push(id)
    if (e.kind === 'approval_decided') decided.add(id)
  }
  return asked.filter((id) => !decided.has(id))
}

/** Undecided requests of the timeline that `listed` does not hold: to be read one by one. */
export function missingApprovalIds(entries: readonly TimelineEntry[], listed: readonly Approval[]): string[] {
  const have = new Set(listed.map((a) => a.id))
  return undecidedInTimeline(entries).filter((id) => !have.has(id))
}

export type ApprovalState = 'decidable' | 'lapsed' | 'approved' | 'rejected' | 'expired'

export interface ApprovalView {
  state: ApprovalState
  /** Short words for a badge. */
  label: string
  color: 'warning' | 'success' | 'danger' | 'hollow' | 'default'
  /** Milliseconds until it expires while it can be decided, else null. */
  expiresInMs: number | null
}

/**
 * Where a request stands at `nowMs`. A pending request past its expiry is `lapsed`: the server
 * refuses a decision (approval_decided) and its timeout job is about to apply `on_timeout`.
 */
export function approvalView(a: Pick<Approval, 'status' | 'expires_at'>, nowMs: number): ApprovalView {
  switch (a.status) {
    case 'approved':
      return { state: 'approved', label: 'approved', color: 'success', expiresInMs: null }
    case 'rejected':
      return { state: 'rejected', label: 'rejected', color: 'danger', expiresInMs: null }
    case 'expired':
      return { state: 'expired', label: 'expired', color: 'hollow', expiresInMs: null }
    default: {
      const left = Date.parse(a.expires_at) - nowMs
      if (!(left > 0)) return { state: 'lapsed', label: 'timed out', color: 'hollow', expiresInMs: null }
      return { state: 'decidable', label: 'waiting for a decision', color: 'warning', expiresInMs: left }
    }
  }
}

/** Whether to show Approve / Reject: the person may decide and the request is still open. */
export function canDecide(a: Pick<Approval, 'status' | 'expires_at'>, nowMs: number, mayApprove: boolean): boolean {
  return mayApprove && approvalView(a, nowMs).state === 'decidable'
}

/** A decision's note: optional, at most 1000 characters (the route's limit). */
export const APPROVAL_NOTE_MAX = 1000

export function approvalNoteError(note: string): string | null {
  return note.length > APPROVAL_NOTE_MAX ? `A note is at most ${APPROVAL_NOTE_MAX} characters (${note.length} now).` : null
}
