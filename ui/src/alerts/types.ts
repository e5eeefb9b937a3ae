/** The operator API's shapes the Alerts page reads (CONTRACT §4; detect/src/alerts*.ts, respond/src). */

export interface Alert {
  id: string
  rule: string
  severity: string
  score: number
  status: string
  entity: { type: string; id: string }
  api_key_id: string | null
  account_id: string | null
  client_ip: string | null
  first_seen: string
  last_seen: string
  count: number
  summary: string
  evidence: Record<string, unknown>
  incident_id: string | null
  detected_at?: string
  event_received_at?: string | null
}

/** One entry of an alert's history (`GET /v1/alerts/:id`). */
export interface AlertChange {
  version?: number
  change?: string
  status: string
  severity?: string
  count?: number
  last_seen?: string
  note?: string
  changed_by?: string
  changed_at?: string
  /** Older spellings of the same fields. */
  at?: string
  actor?: string
}

export interface AlertDetail extends Alert {
  history: AlertChange[]
}

export interface AlertsPage {
  items: Alert[]
  next: string | null
}

/** An event as `GET /v1/events` lists it (server/src/event-view.ts). */
export interface EventView {
  id: string
  ts: string
  action: string
  outcome: string
  reason?: string | null
  api_key_id?: string | null
  account_id?: string | null
  user_id?: string | null
  client_ip?: string | null
  source?: string
  geo?: { country?: string | null; city?: string | null } | null
  [field: string]: unknown
}

export interface KeyState {
  api_key_id: string
  status: 'active' | 'revoked' | string
  revoked_at: string | null
  reason: string | null
  incident_id: string | null
}

export interface IncidentSummary {
  id: string
  title: string
  severity: string
  status: string
  opened_at: string
  alert_ids?: string[]
}

export interface RuleSummary {
  id: string
  title?: string
  severity?: string
}

/** Alert statuses an analyst sets (`POST /v1/alerts/:id/status`). */
export const SETTABLE_STATUSES = ['acknowledged', 'resolved', 'false_positive'] as const
export type SettableStatus = (typeof SETTABLE_STATUSES)[number]
export const ALERT_STATUSES = ['open', 'acknowledged', 'resolved', 'false_positive'] as const
