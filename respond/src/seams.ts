/**
 * The seams inside respond: what the playbook engine and the actions rely on from the state
 * stores (keys, kill-switches, incidents, the audit chain), and the shapes the operator API
 * and the control channel answer with (CONTRACT §3, §4).
 *
 * Relied on by: actions/*, engine, routes, and server's wiring. Every change to state is
 * append-only in ClickHouse (the current view is derived), and every change is also one
 * entry in the hash-chained audit log. `actor` strings name who acted:
 * `operator:<token id>`, `playbook:<playbook id>`, `slack:<slack user id>`, `system`.
 */
import type { Alert, Severity } from '@vigil/core'

/** Kill-switch scope types (CONTRACT §3). */
export const KILLSWITCH_SCOPE_TYPES = ['global', 'source', 'account', 'api_key', 'symbol', 'venue'] as const
export type KillSwitchScopeType = (typeof KILLSWITCH_SCOPE_TYPES)[number]
export interface KillSwitchScope {
  type: KillSwitchScopeType
  /** For `global` the id is `*`. */
  id: string
}

/** `GET /v1/keys/:api_key_id` (CONTRACT §4). A key Vigil has never acted on is `active`. */
export interface KeyState {
  api_key_id: string
  status: 'active' | 'revoked'
  revoked_at: string | null
  reason: string | null
  incident_id: string | null
}

export interface ChangeBy {
  reason: string
  actor: string
  incidentId?: string | null
  alertId?: string | null
}

/** A change that was made, or found already made (`changed: false`) — how actions stay idempotent. */
export interface Changed<T> {
  value: T
  changed: boolean
  /** The control-channel version of the change; null when nothing changed. */
  version: number | null
}

export interface KeyStateStore {
  get(apiKeyId: string): Promise<KeyState>
  /**
   * Revoking a revoked key changes nothing and answers `changed: false`, with `byAlert`: the
   * alert the revocation in force was made for (null when a person made it).
   */
  revoke(apiKeyId: string, by: ChangeBy): Promise<Changed<KeyState> & { byAlert?: string | null }>
  /** Restoring an active key changes nothing and answers `changed: false`. */
  restore(apiKeyId: string, by: ChangeBy): Promise<Changed<KeyState>>
}

export interface KillSwitch {
  id: string
  scope: KillSwitchScope
  status: 'tripped' | 'reset'
  tripped_at: string
  tripped_by: string
  reason: string
  incident_id: string | null
  /** A reset asked for by one person, waiting for a second (four-eyes). */
  reset_request: { by: string; at: string; reason: string } | null
  reset_at: string | null
  reset_by: string | null
  reset_reason: string | null
}

export interface KillSwitchStore {
  /** Tripping a scope that already has a tripped switch returns that one with `changed: false`. */
  trip(scope: KillSwitchScope, by: ChangeBy): Promise<Changed<KillSwitch>>
  /**
   * Four-eyes reset: the first call records a request (`outcome: 'requested'`), a call by a
   * different actor resets (`outcome: 'reset'`); the requester again throws four_eyes_required.
   */
  requestReset(id: string, by: { reason: string; actor: string }): Promise<{ killswitch: KillSwitch; outcome: 'requested' | 'reset' }>
  get(id: string): Promise<KillSwitch | undefined>
  list(filter: { status?: 'tripped' | 'reset'; fromMs?: number; toMs?: number; before?: { at: string; id: string }; limit: number }): Promise<KillSwitch[]>
}

/** One change a guard must apply, as sent on the control stream (CONTRACT §3). */
export type ControlDelta =
  | { version: number; type: 'key_revoked'; api_key_id: string; revoked_at: string; reason: string }
  | { version: number; type: 'key_restored'; api_key_id: string; restored_at: string; reason: string }
  | { version: number; type: 'killswitch_tripped'; killswitch: { id: string; scope: KillSwitchScope; tripped_at: string; reason: string } }
  | { version: number; type: 'killswitch_reset'; killswitch_id: string; reset_at: string; reason: string }

/** `GET /v1/control/state` (CONTRACT §3). */
export interface ControlState {
  version: number
  revoked_keys: Array<{ api_key_id: string; revoked_at: string; reason: string }>
  killswitches: Array<{ id: string; scope: KillSwitchScope; tripped_at: string; reason: string }>
}

export const INCIDENT_STATUSES = ['open', 'contained', 'resolved', 'closed'] as const
export type IncidentStatus = (typeof INCIDENT_STATUSES)[number]

/** One line of an incident's timeline: every step attempt and outcome, every human action. */
export interface TimelineEntry {
  at: string
  /** e.g. `opened`, `alert_attached`, `step_attempt`, `step_done`, `step_failed`, `step_dead_lettered`, `approval_requested`, `approval_decided`, `status`, `note` */
  kind: string
  actor: string
  alert_id: string | null
  playbook: string | null
  step: string | null
  attempt: number | null
  outcome: string | null
  /** Masked before it is stored: never a secret. */
  detail: Record<string, unknown>
}

export interface Incident {
  id: string
  title: string
  severity: Severity
  status: IncidentStatus
  entity: { type: string; id: string }
  api_key_id: string | null
  account_id: string | null
  opened_at: string
  updated_at: string
  alert_ids: string[]
  timeline: TimelineEntry[]
}

/** An incident without its timeline: what a playbook step is given (no action reads the timeline). */
export type IncidentSummary = Omit<Incident, 'timeline'>

export interface IncidentStore {
  /**
   * The open incident this alert belongs to: an incident already open for the same entity
   * (opened within `groupWindowMs`) gets the alert attached; otherwise a new one is opened
   * with an id derived from the alert, so a retried step opens nothing twice.
   */
  openForAlert(
    alert: Alert,
    opts: { actor: string; playbook: string | null; title?: string; groupWindowMs?: number },
  ): Promise<{
    incident: Incident
    created: boolean
    /** True when this call attached the alert to an incident already open; false when it was already in one. */
    attached?: boolean
  }>
  attachAlert(incidentId: string, alert: Alert, actor: string): Promise<{ incident: Incident; attached: boolean }>
  /**
   * `knownToExist`: the caller took the id from the store itself (incidents are never deleted), so
   * the existence read is skipped; the playbook engine's entries, a handful per step. Otherwise an
   * unknown id answers `incident_not_found`.
   */
  addTimeline(incidentId: string, entry: Omit<TimelineEntry, 'at'> & { at?: string }, opts?: { knownToExist?: boolean }): Promise<void>
  /** `extra.resolution` (resolving or closing) is kept, masked, in the status entry of the timeline and the audit chain. */
  setStatus(incidentId: string, status: IncidentStatus, note: string, actor: string, extra?: { resolution?: string }): Promise<Incident>
  get(id: string): Promise<Incident | undefined>
  /** The incident without its timeline (two reads instead of three, and none of them grows with the timeline). */
  summary(id: string): Promise<IncidentSummary | undefined>
  list(filter: { status?: IncidentStatus; severity?: Severity; api_key_id?: string; fromMs?: number; toMs?: number; before?: { at: string; id: string }; limit: number }): Promise<Omit<Incident, 'timeline'>[]>
}

export interface AuditEntry {
  actor: string
  /** e.g. `key.revoke`, `killswitch.trip`, `killswitch.reset_request`, `incident.status`, `approval.decide`, `token.create` */
  action: string
  subject: string
  detail: Record<string, unknown>
}

export interface AuditProblem {
  seq: number
  problem: 'edited' | 'missing' | 'reordered' | 'truncated'
  detail: string
}

export interface AuditVerification {
  ok: boolean
  rows: number
  head: { seq: number; hash: string } | null
  problems: AuditProblem[]
}

export interface AuditLog {
  /** Appends one entry to the chain: serialised, each row carrying the previous row's hash. */
  append(entry: AuditEntry): Promise<{ seq: number; hash: string }>
  verify(): Promise<AuditVerification>
}
