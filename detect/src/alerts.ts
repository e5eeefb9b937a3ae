/**
 * Alerts (CONTRACT §4): stored as an append-only log of changes in `alert_changes`, the
 * current alert being its highest version.
 *
 * - A finding for a (rule, entity) that already has an open alert whose last_seen is within
 *   the rule's suppression period updates that alert (count, last_seen) instead of opening
 *   another. A finding whose newest event is not newer than the alert's last_seen is the same
 *   evidence seen again (a retried tick, a restart re-reading its overlap) and changes nothing.
 * - A repeat that takes an open (or acknowledged) alert's merged count or score past one of
 *   its rule's `escalate` steps raises the alert's severity in the same row (never lowers
 *   it), says so in `evidence.escalated` and the change's note, and reports the escalation
 *   so the engine hands the alert to the response side again. A resolved or false-positive
 *   alert keeps the severity an analyst closed it at.
 * - A new alert's id is derived from (rule, entity, window start), so two detector processes
 *   computing the same finding write the same id: never two alerts for one thing.
 * - Status changes (acknowledged, resolved, false_positive) carry a note and who made them,
 *   and stay in the log as the alert's history.
 */
import { createHash } from 'node:crypto'
import type { Store } from '@vigil/core'
import { VigilError } from '@vigil/core'
import type { EngineRule, Finding } from './detector.js'
import { escalationFor, type Escalation } from './escalation.js'

export { ALERT_STATUSES } from '@vigil/core'
export type { Alert, AlertStatus } from '@vigil/core'
import type { Alert, AlertStatus, EntityType, Severity } from '@vigil/core'
import { severityRank } from '@vigil/core'
export const SETTABLE_STATUSES = ['acknowledged', 'resolved', 'false_positive'] as const

export interface AlertChange {
  version: number
  change: 'open' | 'repeat' | 'status' | 'incident'
  status: AlertStatus
  /** The alert's severity after this change (a repeat may raise it: the rule's `escalate`). */
  severity: Severity
  count: number
  last_seen: string
  note: string
  changed_by: string
  changed_at: string
}

interface Row {
  id: string
  version: string
  change: string
  rule: string
  severity: string
  score: number
  status: string
  entity_type: string
  entity_id: string
  api_key_id: string
  account_id: string
  client_ip: string
  first_seen: string
  last_seen: string
  count: string
  summary: string
  evidence: string
  incident_id: string
  note: string
  changed_by: string
  changed_at: string
  detected_at: string
  event_received_at: string
}

const COLUMNS = [
  'id', 'version', 'change', 'rule', 'severity', 'score', 'status', 'entity_type', 'entity_id', 'api_key_id', 'account_id',
  'client_ip', 'first_seen', 'last_seen', 'count', 'summary', 'evidence', 'incident_id', 'note', 'changed_by', 'detected_at',
  'event_received_at',
] as const

// Every column's latest value; toString keeps times exact and 64-bit counts safe (times
// come out as 'YYYY-MM-DD hh:mm:ss.ffffff', which also sorts and compares as text). The
// aliases reuse the column names, so queries add PREFER (below): inside the aggregates a
// name must mean the column, not the alias.
const CURRENT = `
SELECT id,
  toString(max(version)) AS version,
  argMax(change, version) AS change, argMax(rule, version) AS rule, argMax(severity, version) AS severity,
  argMax(score, version) AS score, argMax(status, version) AS status, argMax(entity_type, version) AS entity_type,
  argMax(entity_id, version) AS entity_id, argMax(api_key_id, version) AS api_key_id, argMax(account_id, version) AS account_id,
  argMax(client_ip, version) AS client_ip, toString(argMax(first_seen, version)) AS first_seen,
  toString(argMax(last_seen, version)) AS last_seen, toString(argMax(count, version)) AS count,
  argMax(summary, version) AS summary, argMax(evidence, version) AS evidence, argMaxIf(incident_id, version, incident_id != '') AS incident_id,
  argMax(note, version) AS note, argMax(changed_by, version) AS changed_by, toString(argMax(changed_at, version)) AS changed_at,
  toString(min(detected_at)) AS detected_at, toString(argMin(event_received_at, version)) AS event_received_at
FROM alert_changes`
const PREFER = ' SETTINGS prefer_column_name_to_alias = 1'

/** ClickHouse `2026-11-24 09:30:00.123456` → RFC 3339 UTC. */
export function chToIso(t: string): string {
  return t.replace(' ', 'T').replace(/\.?0*$/, (m) => (m.startsWith('.') ? '' : m)) + 'Z'
}
/** Epoch ms → ClickHouse text with exactly six fractional digits, as a DateTime64(6) column prints it. */
const msToCh = (ms: number) => new Date(Math.floor(ms)).toISOString().replace('T', ' ').replace('Z', '') + String(Math.floor((ms - Math.floor(ms)) * 1000)).padStart(3, '0')
/** RFC 3339 → ClickHouse text with exactly nine fractional digits, as a DateTime64(9) column prints it. */
const isoToCh9 = (iso: string) => {
  const t = iso.replace('T', ' ').replace('Z', '')
  const dot = t.indexOf('.')
  const frac = dot < 0 ? '' : t.slice(dot + 1)
  return `${dot < 0 ? t : t.slice(0, dot)}.${frac.padEnd(9, '0').slice(0, 9)}`
}
const chToMs = (t: string) => {
  const [base, frac = ''] = t.split('.')
  return Date.parse(`${(base as string).replace(' ', 'T')}Z`) + (frac ? Number(frac.padEnd(6, '0').slice(0, 6)) / 1000 : 0)
}

export function alertId(rule: string, entity: { type: string; id: string }, windowStartMs: number): string {
  const h = createHash('sha256').update(`${rule}\u0000${entity.type}\u0000${entity.id}\u0000${Math.floor(windowStartMs)}`).digest('hex')
  return `al_${h.slice(0, 24)}`
}

function parseEvidence(text: string): Record<string, unknown> {
  try {
    return JSON.parse(text) as Record<string, unknown>
  } catch {
    // a row written by hand; show it without evidence rather than fail the list
    return {}
  }
}

function toAlert(r: Row): Alert {
  const evidence = parseEvidence(r.evidence)
  return {
    id: r.id,
    rule: r.rule,
    severity: r.severity as Severity,
    score: r.score,
    status: r.status as AlertStatus,
    entity: { type: r.entity_type as EntityType, id: r.entity_id },
    api_key_id: r.api_key_id || null,
    account_id: r.account_id || null,
    client_ip: r.client_ip || null,
    first_seen: chToIso(r.first_seen),
    last_seen: chToIso(r.last_seen),
    count: Number(r.count),
    summary: r.summary,
    evidence,
    incident_id: r.incident_id || null,
    detected_at: chToIso(r.detected_at),
    event_received_at: r.event_received_at && !r.event_received_at.startsWith('1970-01-01') ? chToIso(r.event_received_at) : null,
  }
}

export interface UpsertResult {
  alert: Alert
  /** 'created': a new alert (hand it to response); 'repeated': count/last_seen raised; 'unchanged': already known. */
  outcome: 'created' | 'repeated' | 'unchanged'
  /** Set when a repeat raised the open alert's severity (hand it to response again). */
  escalated?: Escalation
}

export interface AlertListFilter {
  rule?: string
  severity?: string
  status?: string
  api_key_id?: string
  account_id?: string
  fromMs?: number
  toMs?: number
  /** Keyset: strictly older than this (first_seen, id). */
  before?: { firstSeen: string; id: string }
  limit: number
}

/** Where a change sits in `alert_feed` (migration 007): stored time in µs since the epoch, alert id, version. */
export interface FeedPosition {
  micros: number
  id: string
  version: number
}

export class AlertStore {
  readonly #store: Store
  readonly #stored = new Set<() => void>()

  constructor(store: Store) {
    this.#store = store
  }

  async #insert(row: Record<(typeof COLUMNS)[number], unknown>): Promise<void> {
    await this.#store.insertNdjson('alert_changes', COLUMNS, JSON.stringify(row) + '\n')
    for (const listener of this.#stored) listener()
  }

  /** Called after this process stores any alert change (the live stream polls at once). */
  onStored(listener: () => void): () => void {
    this.#stored.add(listener)
    return () => this.#stored.delete(listener)
  }

  /** The newest position in the change feed; micros 0 while it is empty. */
  async latestChange(): Promise<FeedPosition> {
    const rows = await this.#store.query<{ us: string; id: string; version: string }>(
      `SELECT changed_at, id, version, toUnixTimestamp64Micro(changed_at) AS us FROM alert_feed
       ORDER BY changed_at DESC, id DESC, version DESC LIMIT 1`,
    )
    const r = rows[0]
    return r ? { micros: Number(r.us), id: r.id, version: Number(r.version) } : { micros: 0, id: '', version: 0 }
  }

  /** Changes stored after `after`, in feed order (stored time, id, version), at most `limit`. */
  async changesAfter(after: FeedPosition, limit: number): Promise<FeedPosition[]> {
    // 64-bit numbers come as text or numbers depending on the engine's settings; Number() takes either.
    const rows = await this.#store.query<{ us: string; id: string; version: string }>(
      `SELECT DISTINCT changed_at, id, version, toUnixTimestamp64Micro(changed_at) AS us FROM alert_feed
       WHERE changed_at >= fromUnixTimestamp64Micro({us:Int64}, 'UTC')
         AND (changed_at, id, version) > (fromUnixTimestamp64Micro({us:Int64}, 'UTC'), {id:String}, {v:UInt64})
       ORDER BY changed_at, id, version LIMIT {limit:UInt32}`,
      { us: after.micros, id: after.id, v: after.version, limit },
    )
    return rows.map((r) => ({ micros: Number(r.us), id: r.id, version: Number(r.version) }))
  }

  /** The current alerts of these ids, in any order; unknown ids are left out. */
  async getMany(ids: readonly string[]): Promise<Alert[]> {
    if (ids.length === 0) return []
    const rows = await this.#store.query<Row>(`${CURRENT} WHERE id IN {ids:Array(String)} GROUP BY id${PREFER}`, { ids })
    return rows.map(toAlert)
  }

  async get(id: string): Promise<Alert | undefined> {
    const rows = await this.#store.query<Row>(`${CURRENT} WHERE id = {id:String} GROUP BY id${PREFER}`, { id })
    return rows[0] ? toAlert(rows[0]) : undefined
  }

  async history(id: string): Promise<AlertChange[]> {
    const rows = await this.#store.query<Row>(
      `SELECT toString(version) AS version, change, status, severity, toString(count) AS count, toString(last_seen) AS last_seen, note, changed_by,
        toString(changed_at) AS changed_at FROM alert_changes WHERE id = {id:String} ORDER BY version`,
      { id },
    )
    return rows.map((r) => ({
      version: Number(r.version),
      change: r.change as AlertChange['change'],
      status: r.status as AlertStatus,
      severity: r.severity as Severity,
      count: Number(r.count),
      last_seen: chToIso(r.last_seen),
      note: r.note,
      changed_by: r.changed_by,
      changed_at: chToIso(r.changed_at),
    }))
  }

  /**
   * What a finding repeats, in one statement: the open (or acknowledged) alert of its rule on its
   * entity whose last_seen is after `sinceMs`, the newest such; else the alert of its own window
   * (`id`), whatever its status.
   */
  async #existingFor(rule: string, entity: { type: string; id: string }, sinceMs: number, id: string): Promise<Row | undefined> {
    const rows = await this.#store.query<Row & { live: number }>(
      `SELECT *, status IN ('open', 'acknowledged') AND last_seen >= {since:String} AS live
       FROM (${CURRENT} WHERE rule = {rule:String} AND entity_type = {et:String} AND entity_id = {eid:String} GROUP BY id)
       WHERE live OR id = {id:String}
       ORDER BY live DESC, last_seen DESC LIMIT 1${PREFER}`,
      { rule, et: entity.type, eid: entity.id, since: msToCh(sinceMs), id },
    )
    const row = rows[0]
    if (!row) return undefined
    const { live: _live, ...rest } = row
    return rest
  }

  /**
   * Records a finding: a new alert, a repeat of an open one, or nothing new. With `rule`, a
   * repeat applies its `escalate` steps to the alert's merged count and score.
   */
  async upsert(f: Finding, suppressionMs: number, rule?: Pick<EngineRule, 'severity' | 'escalate'>): Promise<UpsertResult> {
    const existing = await this.#existingFor(f.rule, f.entity, f.firstSeenMs - suppressionMs, alertId(f.rule, f.entity, f.windowStartMs))
    if (existing) {
      const lastMs = chToMs(existing.last_seen)
      if (f.lastSeenMs <= lastMs) return { alert: toAlert(existing), outcome: 'unchanged' }
      const count = Number(existing.count) + f.count
      const score = Math.max(existing.score, f.score)
      const open = existing.status === 'open' || existing.status === 'acknowledged'
      const step = rule && open ? escalationFor(rule.escalate, rule.severity, count, score) : undefined
      const escalated = step && severityRank(step.to) > severityRank(existing.severity as Severity) ? step : undefined
      const repeat = {
        ...existing,
        version: Number(existing.version) + 1,
        change: 'repeat',
        count,
        last_seen: msToCh(f.lastSeenMs),
        score,
        ...(escalated
          ? { severity: escalated.to, evidence: JSON.stringify({ ...parseEvidence(existing.evidence), escalated }) }
          : {}),
        note: escalated ? `escalated from ${existing.severity} to ${escalated.to} (${escalated.by})` : '',
        changed_by: 'detector',
        first_seen: existing.first_seen,
        detected_at: existing.detected_at,
        event_received_at: existing.event_received_at,
      }
      await this.#insert(repeat)
      // The alert as it now reads (the newest version's fields over the merged ones), without
      // reading it back: text times are written as ClickHouse prints them (alerts.test.ts checks).
      const alert = toAlert({ ...existing, ...repeat, version: String(repeat.version), count: String(count) })
      return escalated ? { alert, outcome: 'repeated', escalated } : { alert, outcome: 'repeated' }
    }
    const id = alertId(f.rule, f.entity, f.windowStartMs)
    const row = {
      id,
      version: 1,
      change: 'open',
      rule: f.rule,
      severity: f.severity,
      score: Math.round(f.score * 100) / 100,
      status: 'open',
      entity_type: f.entity.type,
      entity_id: f.entity.id,
      api_key_id: f.api_key_id ?? '',
      account_id: f.account_id ?? '',
      client_ip: f.client_ip ?? '',
      first_seen: msToCh(f.firstSeenMs),
      last_seen: msToCh(f.lastSeenMs),
      count: f.count,
      summary: f.summary,
      evidence: JSON.stringify(f.evidence),
      incident_id: '',
      note: '',
      changed_by: 'detector',
      detected_at: msToCh(Date.now()),
      event_received_at: f.eventReceivedAt ? isoToCh9(f.eventReceivedAt) : '1970-01-01 00:00:00.000000000',
    }
    await this.#insert(row)
    return { alert: toAlert({ ...row, version: '1', count: String(row.count), changed_at: row.detected_at }), outcome: 'created' }
  }

  async #byId(id: string): Promise<Row | undefined> {
    return (await this.#store.query<Row>(`${CURRENT} WHERE id = {id:String} GROUP BY id${PREFER}`, { id }))[0]
  }

  /** Sets a status with a note; throws not_found for an unknown id, bad_request for a bad status. */
  async setStatus(id: string, status: string, note: string, by: string): Promise<Alert> {
    if (!(SETTABLE_STATUSES as readonly string[]).includes(status)) {
      throw new VigilError('VIGIL_ERR_API_BAD_REQUEST', `status must be one of ${SETTABLE_STATUSES.join(', ')}`)
    }
    if (note.length > 4000) throw new VigilError('VIGIL_ERR_API_BAD_REQUEST', 'note is longer than 4000 characters')
    const cur = await this.#byId(id)
    if (!cur) throw new VigilError('VIGIL_ERR_API_NOT_FOUND', 'alert')
    await this.#insert({ ...cur, version: Number(cur.version) + 1, change: 'status', status, note, changed_by: by })
    return toAlert((await this.#byId(id)) as Row)
  }

  /**
   * Records that the response side attached this alert to an incident. Once set, an alert's
   * incident stays (the current view takes the newest non-empty one), so a detector repeat
   * written at the same moment cannot erase it. Attaching to the same incident again is a no-op.
   */
  async attachIncident(id: string, incidentId: string, by: string): Promise<Alert | undefined> {
    const cur = await this.#byId(id)
    if (!cur) return undefined
    if (cur.incident_id === incidentId) return toAlert(cur)
    await this.#insert({ ...cur, version: Number(cur.version) + 1, change: 'incident', incident_id: incidentId, note: '', changed_by: by })
    return toAlert((await this.#byId(id)) as Row)
  }

  async list(f: AlertListFilter): Promise<Alert[]> {
    const where: string[] = []
    const params: Record<string, unknown> = { limit: f.limit }
    const eq = (col: string, v: string | undefined) => {
      if (v === undefined) return
      where.push(`${col} = {${col}:String}`)
      params[col] = v
    }
    eq('rule', f.rule)
    eq('severity', f.severity)
    eq('status', f.status)
    eq('api_key_id', f.api_key_id)
    eq('account_id', f.account_id)
    if (f.fromMs !== undefined) {
      where.push(`first_seen >= {from:String}`)
      params.from = msToCh(f.fromMs)
    }
    if (f.toMs !== undefined) {
      where.push(`first_seen < {to:String}`)
      params.to = msToCh(f.toMs)
    }
    if (f.before) {
      where.push(`(first_seen, id) < ({bf:String}, {bid:String})`)
      params.bf = f.before.firstSeen
      params.bid = f.before.id
    }
    const rows = await this.#store.query<Row>(
      `SELECT * FROM (${CURRENT} GROUP BY id) ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY first_seen DESC, id DESC LIMIT {limit:UInt32}${PREFER}`,
      params,
    )
    return rows.map(toAlert)
  }
}
