/**
 * Key states (CONTRACT §4 `GET /v1/keys/:api_key_id`) over the control log: a key is revoked
 * when its latest key change is a revocation. Vigil never holds the keys themselves, only
 * what it told guards about them, so a key it never acted on is `active`.
 *
 * Relied on by: the revoke_key action (idempotent through `changed: false`), keys-routes.ts.
 * Each change is one control version and one audit entry; a revoke of a revoked key (or a
 * restore of an active one) is neither.
 */
import { VigilError, type Store } from '@vigil/core'
import type { AuditLog, ChangeBy, Changed, KeyState, KeyStateStore } from './seams.js'
import type { ControlLog } from './control-log.js'
import { chToIso } from './clickhouse-time.js'

/** 1-128 characters, none of them a control character. */
export const PRINTABLE_ID = /^[^\p{Cc}]{1,128}$/u

/** An api_key_id is 1-128 printable characters. */
export function checkApiKeyId(id: unknown): string {
  if (typeof id !== 'string' || !PRINTABLE_ID.test(id)) throw new VigilError('VIGIL_ERR_KEY_BAD_ID')
  return id
}

/** A reason is 1-1000 characters, not only whitespace. */
export function checkReason(reason: unknown): string {
  if (typeof reason !== 'string' || reason.trim().length === 0 || reason.length > 1000) throw new VigilError('VIGIL_ERR_REASON_REQUIRED')
  return reason
}

export function createKeyStateStore(deps: { store: Store; control: ControlLog; audit: AuditLog }): KeyStateStore {
  const { store, control, audit } = deps

  async function get(apiKeyId: string): Promise<KeyState> {
    checkApiKeyId(apiKeyId)
    const rows = await store.query<{ kind: string; at: string; reason: string; incident_id: string; alert_id: string }>(
      `SELECT kind, at, reason, incident_id, alert_id FROM control_log
       WHERE subject = {id:String} AND kind IN ('key_revoked', 'key_restored') ORDER BY version DESC LIMIT 1`,
      { id: apiKeyId },
    )
    const r = rows[0]
    if (!r || r.kind !== 'key_revoked') return { api_key_id: apiKeyId, status: 'active', revoked_at: null, reason: null, incident_id: null }
    let incidentId = r.incident_id || null
    if (!incidentId && r.alert_id) {
      // A containment step may revoke before its run's incident exists: the alert's incident then.
      const inc = await store.query<{ incident_id: string }>(`SELECT incident_id FROM incident_alerts WHERE alert_id = {a:String} ORDER BY attached_at LIMIT 1`, { a: r.alert_id })
      incidentId = inc[0]?.incident_id || null
    }
    return { api_key_id: apiKeyId, status: 'revoked', revoked_at: chToIso(r.at), reason: r.reason, incident_id: incidentId }
  }

  async function change(kind: 'key_revoked' | 'key_restored', apiKeyId: string, by: ChangeBy): Promise<Changed<KeyState> & { byAlert?: string | null }> {
    checkApiKeyId(apiKeyId)
    checkReason(by.reason)
    const outcome = await control.append({ kind, apiKeyId, by })
    if (!outcome.applied) {
      const r = outcome.revoked
      const value: KeyState = r
        ? { api_key_id: apiKeyId, status: 'revoked', revoked_at: r.revoked_at, reason: r.reason, incident_id: r.incident_id }
        : { api_key_id: apiKeyId, status: 'active', revoked_at: null, reason: null, incident_id: null }
      return { value, changed: false, version: null, byAlert: r?.alert_id ?? null }
    }
    const delta = outcome.delta
    await audit.append({
      actor: by.actor,
      action: kind === 'key_revoked' ? 'key.revoke' : 'key.restore',
      subject: apiKeyId,
      detail: { reason: by.reason, version: delta.version, incident_id: by.incidentId ?? null, alert_id: by.alertId ?? null },
    })
    const value: KeyState =
      delta.type === 'key_revoked'
        ? { api_key_id: apiKeyId, status: 'revoked', revoked_at: delta.revoked_at, reason: delta.reason, incident_id: by.incidentId ?? null }
        : { api_key_id: apiKeyId, status: 'active', revoked_at: null, reason: null, incident_id: null }
    return { value, changed: true, version: delta.version }
  }

  return {
    get,
    revoke: (apiKeyId, by) => change('key_revoked', apiKeyId, by),
    restore: (apiKeyId, by) => change('key_restored', apiKeyId, by),
  }
}
