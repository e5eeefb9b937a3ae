/** What the incident and approval routes answer (respond/src/seams.ts, respond/src/approvals.ts). */

export const INCIDENT_STATUSES = ['open', 'contained', 'resolved', 'closed'] as const
export type IncidentStatus = (typeof INCIDENT_STATUSES)[number]

/** One line of an incident's timeline, oldest first as the server answers it. */
export interface TimelineEntry {
  at: string
  /** `opened`, `alert_attached`, `step_attempt`, `step_done`, `step_failed`, `step_dead_lettered`, `step_retried`, `run_stopped`, `approval_requested`, `approval_decided`, `status`, `note`, … */
  kind: string
  actor: string
  alert_id: string | null
  playbook: string | null
  step: string | null
  attempt: number | null
  outcome: string | null
  detail: Record<string, unknown>
}

/** An alert as the incident carries it (the same shape as GET /v1/alerts/:id without history). */
export interface IncidentAlert {
  id: string
  rule: string
  severity: string
  score?: number
  status: string
  entity: { type: string; id: string }
  api_key_id: string | null
  account_id: string | null
  client_ip?: string | null
  first_seen: string
  last_seen: string
  count?: number
  summary: string
  incident_id?: string | null
}

export interface IncidentSummary {
  id: string
  title: string
  severity: string
  status: IncidentStatus
  entity: { type: string; id: string }
  api_key_id: string | null
  account_id: string | null
  opened_at: string
  updated_at: string
  alert_ids: string[]
}

export interface Incident extends IncidentSummary {
  timeline: TimelineEntry[]
  /** Present when the server can read alerts (it always can in `vigil up`). */
  alerts?: IncidentAlert[]
}

export interface Page<T> {
  items: T[]
  next: string | null
}

export const APPROVAL_STATUSES = ['pending', 'approved', 'rejected', 'expired'] as const
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number]

export interface Approval {
  id: string
  status: ApprovalStatus
  idempotency_key?: string
  run_id: string
  playbook: string
  /** The step's index in its playbook. */
  step: number
  /** The step's action, e.g. `revoke_key`. */
  action: string
  alert_id: string
  incident_id: string | null
  on_timeout: string
  requested_at: string
  expires_at: string
  permission: string
  decided_by: string | null
  decided_at: string | null
  note: string | null
}
