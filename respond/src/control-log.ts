/**
 * The control channel's log (CONTRACT §3): every change a trading API's guard must enforce —
 * a key revoked or restored, a kill-switch tripped or reset — as one row of `control_log`
 * with its own version.
 *
 * Relied on by: key-states.ts and killswitches.ts (the only writers), control-routes.ts
 * (state, backlog and live stream), and the guards, which resume from the last version they
 * applied. What they rely on:
 * - Versions are consecutive: one per change, never two changes with one version, never a gap
 *   after a successful commit, assigned in commit order across processes (group commit under a
 *   Redis lock, see group-commit.ts). So "everything with version > n" is exactly what a guard
 *   at n has missed.
 * - Whether a change applies is decided under that lock, against the log itself: revoking a
 *   revoked key, restoring an active one, tripping a scope already tripped or resetting a switch
 *   not tripped is answered `applied: false` and takes no version, even when two processes try
 *   at once.
 * - Its statements use the store's urgent lane (core statement-gate.ts): a revocation waits for
 *   the statements already running, not for a burst queued ahead of it.
 * - After the insert, still under the lock, each batch's deltas are published on Redis pub/sub
 *   in version order. Pub/sub can drop messages (a reconnect); subscribers that see a version
 *   jump fetch the gap with `since` (control-routes.ts does).
 */
import type { Redis } from 'ioredis'
import { maskIdentifier, maskText, type Store } from '@vigil/core'
import type { ChangeBy, ControlDelta, ControlState, KillSwitchScope, KillSwitchScopeType } from './seams.js'
import { createGroupCommitter, type ChainHead } from './group-commit.js'
import { chToIso, dateToCh } from './clickhouse-time.js'

export type ControlChange =
  | { kind: 'key_revoked'; apiKeyId: string; by: ChangeBy }
  | { kind: 'key_restored'; apiKeyId: string; by: ChangeBy }
  | { kind: 'killswitch_tripped'; id: string; scope: KillSwitchScope; by: ChangeBy }
  | { kind: 'killswitch_reset'; id: string; by: ChangeBy }

export type ControlOutcome =
  | { applied: true; delta: ControlDelta; at: string }
  /**
   * `existingId`: the switch already tripped on that scope. `revoked`: the revocation in force
   * (for `already_revoked`), so a burst of the same revocation needs no read per request.
   */
  | { applied: false; why: 'already_revoked' | 'not_revoked' | 'scope_tripped' | 'not_tripped'; existingId?: string; revoked?: RevocationInForce }

export interface RevocationInForce {
  revoked_at: string
  reason: string
  incident_id: string | null
  /** The alert the revocation was made for, when a playbook made it. */
  alert_id: string | null
}

export interface ControlLog {
  append(change: ControlChange): Promise<ControlOutcome>
  /** The highest version stored (0 when nothing ever changed). */
  version(): Promise<number>
  state(): Promise<ControlState>
  /** Deltas with version > `version`, oldest first, at most `limit`. */
  since(version: number, limit: number): Promise<ControlDelta[]>
  /**
   * Calls `onDelta` for every delta committed from now on, by any process, in version order
   * as published. Resolves once the subscription is live; the answer unsubscribes.
   */
  subscribe(onDelta: (delta: ControlDelta) => void): Promise<() => void>
  /** Resolves once every append made so far is committed. */
  idle(): Promise<void>
  close(): Promise<void>
}

export interface ControlLogOptions {
  store: Store
  redis: Redis
  /** @defaultValue 'vigil:' */
  keyPrefix?: string
  onLeaseLost?(key: string): void
  /** Publishing failed after a commit (guards catch up on their next reconnect or delta). */
  onPublishError?(err: unknown): void
}

export const CONTROL_COLUMNS = ['version', 'kind', 'subject', 'scope_type', 'scope_id', 'reason', 'actor', 'incident_id', 'alert_id', 'at'] as const

export interface ControlRow {
  version: string
  kind: string
  subject: string
  scope_type: string
  scope_id: string
  reason: string
  actor: string
  incident_id: string
  alert_id: string
  at: string
}

const KEY_KINDS = "('key_revoked', 'key_restored')"
const SWITCH_KINDS = "('killswitch_tripped', 'killswitch_reset')"
const scopeKey = (type: string, id: string) => `${type}\u0000${id}`

export function rowToDelta(r: ControlRow): ControlDelta {
  const version = Number(r.version)
  const at = chToIso(r.at)
  switch (r.kind) {
    case 'key_revoked':
      return { version, type: 'key_revoked', api_key_id: r.subject, revoked_at: at, reason: r.reason }
    case 'key_restored':
      return { version, type: 'key_restored', api_key_id: r.subject, restored_at: at, reason: r.reason }
    case 'killswitch_tripped':
      return { version, type: 'killswitch_tripped', killswitch: { id: r.subject, scope: { type: r.scope_type as KillSwitchScopeType, id: r.scope_id }, tripped_at: at, reason: r.reason } }
    default:
      return { version, type: 'killswitch_reset', killswitch_id: r.subject, reset_at: at, reason: r.reason }
  }
}

export function createControlLog(opts: ControlLogOptions): ControlLog {
  const { redis } = opts
  // The control channel is what stands between a detection and trading APIs enforcing it:
  // its statements go ahead of the store's queue (ingest flushes, alert upserts, runs).
  const store = opts.store.urgent
  const prefix = opts.keyPrefix ?? 'vigil:'
  const channel = `${prefix}control:deltas`

  async function loadStoredHead(): Promise<ChainHead | null> {
    const rows = await store.query<{ v: string; n: string }>('SELECT max(version) AS v, count() AS n FROM control_log')
    const r = rows[0]
    return r && Number(r.n) > 0 ? { seq: Number(r.v), hash: '' } : null
  }

  /** What the log says now about the keys, scopes and switches a batch touches. */
  async function currentFor(batch: readonly ControlChange[]) {
    const keyIds = new Set<string>()
    const scopes = new Set<string>()
    const switchIds = new Set<string>()
    for (const c of batch) {
      if (c.kind === 'key_revoked' || c.kind === 'key_restored') keyIds.add(c.apiKeyId)
      else if (c.kind === 'killswitch_tripped') scopes.add(scopeKey(c.scope.type, c.scope.id))
      else switchIds.add(c.id)
    }
    const revoked = new Map<string, RevocationInForce | null>()
    const scopeTripped = new Map<string, string | null>()
    const switches = new Map<string, { tripped: boolean; scope: KillSwitchScope }>()
    const work: Array<Promise<void>> = []
    if (keyIds.size) {
      work.push(
        store
          .query<{ subject: string; last_kind: string; last_at: string; last_reason: string; last_incident: string; last_alert: string }>(
            `SELECT subject, argMax(kind, version) AS last_kind, argMax(at, version) AS last_at, argMax(reason, version) AS last_reason,
               argMax(incident_id, version) AS last_incident, argMax(alert_id, version) AS last_alert FROM control_log
             WHERE kind IN ${KEY_KINDS} AND subject IN {ids:Array(String)} GROUP BY subject`,
            { ids: [...keyIds] },
          )
          .then((rows) =>
            rows.forEach((r) =>
              revoked.set(r.subject, r.last_kind === 'key_revoked' ? { revoked_at: chToIso(r.last_at), reason: r.last_reason, incident_id: r.last_incident || null, alert_id: r.last_alert || null } : null),
            ),
          ),
      )
    }
    if (scopes.size) {
      work.push(
        store
          .query<{ st: string; sid: string; last_kind: string; last_id: string }>(
            `SELECT scope_type AS st, scope_id AS sid, argMax(kind, version) AS last_kind, argMax(subject, version) AS last_id FROM control_log
             WHERE kind IN ${SWITCH_KINDS} AND concat(scope_type, '\\0', scope_id) IN {scopes:Array(String)} GROUP BY scope_type, scope_id`,
            { scopes: [...scopes] },
          )
          .then((rows) => rows.forEach((r) => scopeTripped.set(scopeKey(r.st, r.sid), r.last_kind === 'killswitch_tripped' ? r.last_id : null))),
      )
    }
    if (switchIds.size) {
      work.push(
        store
          .query<{ subject: string; last_kind: string; st: string; sid: string }>(
            `SELECT subject, argMax(kind, version) AS last_kind, argMax(scope_type, version) AS st, argMax(scope_id, version) AS sid FROM control_log
             WHERE kind IN ${SWITCH_KINDS} AND subject IN {ids:Array(String)} GROUP BY subject`,
            { ids: [...switchIds] },
          )
          .then((rows) =>
            rows.forEach((r) => switches.set(r.subject, { tripped: r.last_kind === 'killswitch_tripped', scope: { type: r.st as KillSwitchScopeType, id: r.sid } })),
          ),
      )
    }
    await Promise.all(work)
    return { revoked, scopeTripped, switches }
  }

  const committer = createGroupCommitter<ControlChange, ControlOutcome>({
    redis,
    key: `${prefix}control`,
    loadStoredHead,
    ...(opts.onLeaseLost ? { onLeaseLost: opts.onLeaseLost } : {}),
    async commit(batch, head) {
      const now = currentFor(batch)
      const at = dateToCh(new Date())
      const { revoked, scopeTripped, switches } = await now
      let version = head.seq
      const rows: ControlRow[] = []
      const results: ControlOutcome[] = []
      for (const c of batch) {
        const by = c.by
        const base = {
          reason: maskText(by.reason),
          actor: maskIdentifier(by.actor),
          incident_id: by.incidentId ?? '',
          alert_id: by.alertId ?? '',
          at,
        }
        let row: Omit<ControlRow, 'version'> | undefined
        if (c.kind === 'key_revoked' || c.kind === 'key_restored') {
          const inForce = revoked.get(c.apiKeyId) ?? null
          if (c.kind === 'key_revoked' && inForce) results.push({ applied: false, why: 'already_revoked', revoked: inForce })
          else if (c.kind === 'key_restored' && !inForce) results.push({ applied: false, why: 'not_revoked' })
          else {
            revoked.set(c.apiKeyId, c.kind === 'key_revoked' ? { revoked_at: chToIso(at), reason: base.reason, incident_id: by.incidentId ?? null, alert_id: by.alertId ?? null } : null)
            row = { kind: c.kind, subject: c.apiKeyId, scope_type: '', scope_id: '', ...base }
          }
        } else if (c.kind === 'killswitch_tripped') {
          const sk = scopeKey(c.scope.type, c.scope.id)
          const existing = scopeTripped.get(sk)
          if (existing) results.push({ applied: false, why: 'scope_tripped', existingId: existing })
          else {
            scopeTripped.set(sk, c.id)
            switches.set(c.id, { tripped: true, scope: c.scope })
            row = { kind: c.kind, subject: c.id, scope_type: c.scope.type, scope_id: c.scope.id, ...base }
          }
        } else {
          const sw = switches.get(c.id)
          if (!sw?.tripped) results.push({ applied: false, why: 'not_tripped' })
          else {
            sw.tripped = false
            scopeTripped.set(scopeKey(sw.scope.type, sw.scope.id), null)
            row = { kind: c.kind, subject: c.id, scope_type: sw.scope.type, scope_id: sw.scope.id, ...base }
          }
        }
        if (row) {
          version += 1
          const full: ControlRow = { version: String(version), ...row }
          rows.push(full)
          results.push({ applied: true, delta: rowToDelta(full), at: chToIso(at) })
        }
      }
      if (rows.length > 0) {
        await store.insertNdjson('control_log', CONTROL_COLUMNS, rows.map((r) => `${JSON.stringify({ ...r, version: Number(r.version) })}\n`).join(''))
        // Published under the lock, so batches reach subscribers in version order.
        const deltas = results.flatMap((r) => (r.applied ? [r.delta] : []))
        try {
          await redis.publish(channel, JSON.stringify(deltas))
        } catch (err) {
          opts.onPublishError?.(err)
        }
      }
      return { results, head: { seq: version, hash: '' } }
    },
  })

  async function version(): Promise<number> {
    const rows = await store.query<{ v: string }>('SELECT max(version) AS v FROM control_log')
    return Number(rows[0]?.v ?? 0)
  }

  async function state(): Promise<ControlState> {
    // The version first, then everything up to it: a change committed meanwhile is left for
    // the stream (version > v) instead of appearing here under a version that predates it.
    const v = await version()
    const [keys, switches] = await Promise.all([
      store.query<{ subject: string; last_kind: string; last_at: string; last_reason: string }>(
        `SELECT subject, argMax(kind, version) AS last_kind, argMax(at, version) AS last_at, argMax(reason, version) AS last_reason
         FROM control_log WHERE version <= {v:UInt64} AND kind IN ${KEY_KINDS}
         GROUP BY subject HAVING last_kind = 'key_revoked' ORDER BY subject`,
        { v },
      ),
      store.query<{ subject: string; last_kind: string; trip_at: string; trip_reason: string; st: string; sid: string }>(
        `SELECT subject, argMax(kind, version) AS last_kind, minIf(at, kind = 'killswitch_tripped') AS trip_at,
           anyIf(reason, kind = 'killswitch_tripped') AS trip_reason, any(scope_type) AS st, any(scope_id) AS sid
         FROM control_log WHERE version <= {v:UInt64} AND kind IN ${SWITCH_KINDS}
         GROUP BY subject HAVING last_kind = 'killswitch_tripped' ORDER BY trip_at, subject`,
        { v },
      ),
    ])
    return {
      version: v,
      revoked_keys: keys.map((k) => ({ api_key_id: k.subject, revoked_at: chToIso(k.last_at), reason: k.last_reason })),
      killswitches: switches.map((s) => ({ id: s.subject, scope: { type: s.st as KillSwitchScopeType, id: s.sid }, tripped_at: chToIso(s.trip_at), reason: s.trip_reason })),
    }
  }

  async function since(v: number, limit: number): Promise<ControlDelta[]> {
    const rows = await store.query<ControlRow>(
      `SELECT ${CONTROL_COLUMNS.join(', ')} FROM control_log WHERE version > {v:UInt64} ORDER BY version LIMIT {n:UInt32}`,
      { v, n: limit },
    )
    return rows.map(rowToDelta)
  }

  // One subscriber connection per log, fanned out to every listener in this process.
  const listeners = new Set<(d: ControlDelta) => void>()
  let subscriber: Redis | undefined
  let subscribed: Promise<void> | undefined

  function ensureSubscribed(): Promise<void> {
    if (subscribed) return subscribed
    const sub = redis.duplicate()
    subscriber = sub
    sub.on('message', (ch: string, message: string) => {
      if (ch !== channel) return
      let deltas: ControlDelta[]
      try {
        deltas = JSON.parse(message) as ControlDelta[]
      } catch {
        return
      }
      if (!Array.isArray(deltas)) return
      for (const d of deltas) for (const l of listeners) l(d)
    })
    sub.on('error', () => {
      // ioredis reconnects and resubscribes by itself; listeners fill any gap from storage.
    })
    subscribed = sub.subscribe(channel).then(
      () => undefined,
      (err: unknown) => {
        subscribed = undefined
        subscriber = undefined
        sub.disconnect()
        throw err
      },
    )
    return subscribed
  }

  return {
    append: (change) => committer.submit(change),
    version,
    state,
    since,
    async subscribe(onDelta) {
      listeners.add(onDelta)
      try {
        await ensureSubscribed()
      } catch (err) {
        listeners.delete(onDelta)
        throw err
      }
      return () => {
        listeners.delete(onDelta)
      }
    },
    idle: () => committer.idle(),
    async close() {
      listeners.clear()
      const sub = subscriber
      subscriber = undefined
      subscribed = undefined
      if (sub) sub.disconnect()
    },
  }
}
