/**
 * An alert as it leaves detection (CONTRACT §4): the shape stored by `detect`, served by
 * `GET /v1/alerts`, and carried as the data of each job on the BullMQ queue `alerts`.
 *
 * Relied on by: `detect` (writes it), `respond` (reads it from the queue and acts on it),
 * the operator API and the dashboard. Fields are public: add, never rename.
 */

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const
export type Severity = (typeof SEVERITIES)[number]

/** What an alert is about. */
export const ENTITY_TYPES = ['api_key', 'user', 'ip', 'net', 'account', 'source'] as const
export type EntityType = (typeof ENTITY_TYPES)[number]

/** Severity as a number for comparisons: low 0 … critical 3. */
export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s)
}

export const ALERT_STATUSES = ['open', 'acknowledged', 'resolved', 'false_positive'] as const
export type AlertStatus = (typeof ALERT_STATUSES)[number]

export interface Alert {
  id: string
  rule: string
  severity: Severity
  score: number
  status: AlertStatus
  entity: { type: EntityType; id: string }
  api_key_id: string | null
  account_id: string | null
  client_ip: string | null
  first_seen: string
  last_seen: string
  count: number
  summary: string
  evidence: Record<string, unknown>
  incident_id: string | null
  /** When Vigil stored the alert; with the event's arrival time this is the detection latency. */
  detected_at: string
  event_received_at: string | null
}
