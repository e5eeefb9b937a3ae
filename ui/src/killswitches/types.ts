/** A kill-switch as `GET /v1/killswitches` answers it (respond/src/seams.ts KillSwitch). */
export const SCOPE_TYPES = ['global', 'source', 'account', 'api_key', 'symbol', 'venue'] as const
export type ScopeType = (typeof SCOPE_TYPES)[number]

export interface KillSwitch {
  id: string
  scope: { type: ScopeType | string; id: string }
  status: 'tripped' | 'reset'
  tripped_at: string
  tripped_by: string
  reason: string
  incident_id: string | null
  reset_request: { by: string; at: string; reason: string } | null
  reset_at: string | null
  reset_by: string | null
  reset_reason: string | null
}
