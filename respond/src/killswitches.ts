/**
 * Kill-switches (CONTRACT §3 scopes, §4 routes) over the control log, with a four-eyes reset.
 *
 * Relied on by: the kill_switch action (idempotent: tripping a scope already tripped answers
 * the switch already there with `changed: false`), killswitches-routes.ts, the
 * `kill-switch-log` report.
 * - A trip and a reset are each one control version and one audit entry; a scope has at most
 *   one tripped switch at a time (decided under the control log's lock).
 * - A reset needs two people: the first request is stored in `killswitch_reset_requests` and
 *   audited but changes nothing a guard enforces (no version); the same person asking again
 *   is refused; a different person's request resets the switch.
 */
import { randomBytes } from 'node:crypto'
import { VigilError, maskText, type Store } from '@vigil/core'
import { KILLSWITCH_SCOPE_TYPES, type AuditLog, type ChangeBy, type Changed, type KillSwitch, type KillSwitchScope, type KillSwitchScopeType, type KillSwitchStore } from './seams.js'
import type { ControlLog } from './control-log.js'
import { chToIso, dateToCh, windowConditions } from './clickhouse-time.js'
import { PRINTABLE_ID, checkReason } from './key-states.js'

/** A well-formed scope, or VIGIL_ERR_KILLSWITCH_BAD_SCOPE. `global`'s id is `*`. */
export function checkScope(scope: unknown): KillSwitchScope {
  const bad = (why: string) => new VigilError('VIGIL_ERR_KILLSWITCH_BAD_SCOPE', why)
  if (scope === null || typeof scope !== 'object' || Array.isArray(scope)) throw bad('scope must be an object')
  const { type, id } = scope as { type?: unknown; id?: unknown }
  if (typeof type !== 'string' || !(KILLSWITCH_SCOPE_TYPES as readonly string[]).includes(type)) throw bad('unknown scope type')
  if (type === 'global') {
    if (id !== '*') throw bad('the global scope\'s id is "*"')
  } else if (typeof id !== 'string' || !PRINTABLE_ID.test(id)) {
    throw bad('a scope id is 1-128 printable characters')
  }
  return { type: type as KillSwitchScopeType, id }
}

export function checkKillSwitchId(id: unknown): string {
  if (typeof id !== 'string' || !PRINTABLE_ID.test(id)) throw new VigilError('VIGIL_ERR_KILLSWITCH_NOT_FOUND')
  return id
}

interface SwitchRow {
  subject: string
  last_kind: string
  trip_at: string
  trip_by: string
  trip_reason: string
  trip_incident: string
  st: string
  sid: string
  reset_time: string
  reset_actor: string
  reset_why: string
}

// One row per switch, from its trip row and (if any) its reset row. Aliases differ from the
// column names so the aggregates inside still read the columns.
const SWITCHES = `
SELECT subject,
  argMax(kind, version) AS last_kind,
  minIf(at, kind = 'killswitch_tripped') AS trip_at,
  anyIf(actor, kind = 'killswitch_tripped') AS trip_by,
  anyIf(reason, kind = 'killswitch_tripped') AS trip_reason,
  anyIf(incident_id, kind = 'killswitch_tripped') AS trip_incident,
  any(scope_type) AS st, any(scope_id) AS sid,
  maxIf(at, kind = 'killswitch_reset') AS reset_time,
  anyIf(actor, kind = 'killswitch_reset') AS reset_actor,
  anyIf(reason, kind = 'killswitch_reset') AS reset_why
FROM control_log`

export function createKillSwitchStore(deps: { store: Store; control: ControlLog; audit: AuditLog }): KillSwitchStore {
  const { store, control, audit } = deps

  async function pendingRequests(ids: string[]): Promise<Map<string, { by: string; at: string; reason: string }>> {
    const out = new Map<string, { by: string; at: string; reason: string }>()
    if (ids.length === 0) return out
    const rows = await store.query<{ killswitch_id: string; rb: string; rr: string; ra: string }>(
      `SELECT killswitch_id, argMax(requested_by, at) AS rb, argMax(reason, at) AS rr, max(at) AS ra
       FROM killswitch_reset_requests WHERE killswitch_id IN {ids:Array(String)} GROUP BY killswitch_id`,
      { ids },
    )
    for (const r of rows) out.set(r.killswitch_id, { by: r.rb, at: chToIso(r.ra), reason: r.rr })
    return out
  }

  function toSwitch(r: SwitchRow, request: { by: string; at: string; reason: string } | undefined): KillSwitch {
    const tripped = r.last_kind === 'killswitch_tripped'
    return {
      id: r.subject,
      scope: { type: r.st as KillSwitchScopeType, id: r.sid },
      status: tripped ? 'tripped' : 'reset',
      tripped_at: chToIso(r.trip_at),
      tripped_by: r.trip_by,
      reason: r.trip_reason,
      incident_id: r.trip_incident || null,
      reset_request: tripped && request ? request : null,
      reset_at: tripped ? null : chToIso(r.reset_time),
      reset_by: tripped ? null : r.reset_actor,
      reset_reason: tripped ? null : r.reset_why,
    }
  }

  async function get(id: string): Promise<KillSwitch | undefined> {
    if (typeof id !== 'string' || !PRINTABLE_ID.test(id)) return undefined
    const rows = await store.query<SwitchRow>(
      `${SWITCHES} WHERE subject = {id:String} AND kind IN ('killswitch_tripped', 'killswitch_reset') GROUP BY subject`,
      { id },
    )
    const r = rows[0]
    if (!r) return undefined
    return toSwitch(r, (await pendingRequests([id])).get(id))
  }

  async function list(f: Parameters<KillSwitchStore['list']>[0]): Promise<KillSwitch[]> {
    const { conditions: having, params } = windowConditions(f, { time: 'trip_at', id: 'subject' }, (p) => `toDateTime64(${p}, 6, 'UTC')`)
    params.n = f.limit
    if (f.status) {
      having.push('last_kind = {kind:String}')
      params.kind = f.status === 'tripped' ? 'killswitch_tripped' : 'killswitch_reset'
    }
    const rows = await store.query<SwitchRow>(
      `${SWITCHES} WHERE kind IN ('killswitch_tripped', 'killswitch_reset') GROUP BY subject
       ${having.length ? `HAVING ${having.join(' AND ')}` : ''} ORDER BY trip_at DESC, subject DESC LIMIT {n:UInt32}`,
      params,
    )
    const requests = await pendingRequests(rows.filter((r) => r.last_kind === 'killswitch_tripped').map((r) => r.subject))
    return rows.map((r) => toSwitch(r, requests.get(r.subject)))
  }

  async function trip(scopeIn: KillSwitchScope, by: ChangeBy): Promise<Changed<KillSwitch>> {
    const scope = checkScope(scopeIn)
    checkReason(by.reason)
    const id = `ks_${randomBytes(12).toString('hex')}`
    const outcome = await control.append({ kind: 'killswitch_tripped', id, scope, by })
    if (!outcome.applied) {
      const existing = outcome.existingId ? await get(outcome.existingId) : undefined
      if (!existing) throw new VigilError('VIGIL_ERR_INTERNAL', 'tripped switch not readable')
      return { value: existing, changed: false, version: null }
    }
    const delta = outcome.delta
    await audit.append({
      actor: by.actor,
      action: 'killswitch.trip',
      subject: id,
      detail: { scope, reason: by.reason, version: delta.version, incident_id: by.incidentId ?? null, alert_id: by.alertId ?? null },
    })
    const tripped = delta.type === 'killswitch_tripped' ? delta.killswitch : undefined
    return {
      value: {
        id,
        scope,
        status: 'tripped',
        tripped_at: tripped?.tripped_at ?? outcome.at,
        tripped_by: by.actor,
        reason: tripped?.reason ?? by.reason,
        incident_id: by.incidentId ?? null,
        reset_request: null,
        reset_at: null,
        reset_by: null,
        reset_reason: null,
      },
      changed: true,
      version: delta.version,
    }
  }

  async function requestReset(id: string, by: { reason: string; actor: string }): Promise<{ killswitch: KillSwitch; outcome: 'requested' | 'reset' }> {
    checkReason(by.reason)
    const sw = await get(id)
    if (!sw) throw new VigilError('VIGIL_ERR_KILLSWITCH_NOT_FOUND')
    if (sw.status !== 'tripped') throw new VigilError('VIGIL_ERR_KILLSWITCH_NOT_TRIPPED')
    const pending = sw.reset_request
    if (!pending) {
      const at = new Date()
      const reason = maskText(by.reason)
      await store.insertNdjson(
        'killswitch_reset_requests',
        ['killswitch_id', 'requested_by', 'reason', 'at'],
        `${JSON.stringify({ killswitch_id: id, requested_by: by.actor, reason, at: dateToCh(at) })}\n`,
      )
      await audit.append({ actor: by.actor, action: 'killswitch.reset_request', subject: id, detail: { reason: by.reason, scope: sw.scope } })
      return { killswitch: { ...sw, reset_request: { by: by.actor, at: chToIso(dateToCh(at)), reason } }, outcome: 'requested' }
    }
    if (pending.by === by.actor) throw new VigilError('VIGIL_ERR_KILLSWITCH_FOUR_EYES')
    const outcome = await control.append({ kind: 'killswitch_reset', id, by: { reason: by.reason, actor: by.actor } })
    if (!outcome.applied) throw new VigilError('VIGIL_ERR_KILLSWITCH_NOT_TRIPPED')
    await audit.append({
      actor: by.actor,
      action: 'killswitch.reset',
      subject: id,
      detail: { reason: by.reason, scope: sw.scope, requested_by: pending.by, request_reason: pending.reason, version: outcome.delta.version },
    })
    return {
      killswitch: { ...sw, status: 'reset', reset_request: null, reset_at: outcome.at, reset_by: by.actor, reset_reason: maskText(by.reason) },
      outcome: 'reset',
    }
  }

  return { trip, requestReset, get, list }
}
