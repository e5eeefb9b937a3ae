/**
 * Incidents (CONTRACT §4): the `IncidentStore` of seams.ts on ClickHouse, as append-only logs
 * (migration 002): `incident_changes` (the current incident is its highest version),
 * `incident_alerts`, `incident_timeline`.
 *
 * What the engine and the routes rely on:
 * - Grouping: an alert on an entity that already has an open or contained incident, opened
 *   within the group window (24 h by default), joins it and raises its severity if higher;
 *   otherwise it opens a new incident whose id is derived from the alert id. Opening is
 *   serialised per entity by a Redis lock, so two alerts at once never open two incidents,
 *   and an alert already in an incident (a retried step) is answered from storage.
 * - Writes to one incident are serialised per incident by a Redis lock, so versions never
 *   collide across processes.
 * - Timeline details and notes are masked (maskText) before they are stored.
 * - Every status change is also an `incident.status` entry in the audit chain.
 * - `onAlertAttached` is called whenever an alert is found in an incident — newly attached
 *   or already there — so a failure there is mended by the step's retry.
 */
import { createHash, randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import { maskEvent, maskText, severityRank, VigilError, type Alert, type Severity, type Store } from '@vigil/core'
import { INCIDENT_STATUSES, type AuditLog, type Incident, type IncidentStatus, type IncidentStore, type IncidentSummary, type TimelineEntry } from './seams.js'
import { chToIso, dateToCh, isoToCh, msToCh } from './clickhouse-time.js'

export interface IncidentStoreOptions {
  store: Store
  redis: Redis
  audit: AuditLog
  /** Told each time an alert is (or is found) in an incident; the server records it on the alert. */
  onAlertAttached?(alertId: string, incidentId: string): Promise<void> | void
  /** Start of every Redis key this store uses. @defaultValue 'vigil:' */
  keyPrefix?: string
  /** How long a lock is held at most before it expires by itself. @defaultValue 15000 */
  lockLeaseMs?: number
  /** How long to wait for a lock before failing (the step then retries). @defaultValue 30000 */
  lockWaitMs?: number
}

/** @defaultValue 24 h */
export const INCIDENT_GROUP_WINDOW_MS = 24 * 3600_000
export const INCIDENT_NOTE_MAX = 4000
const TITLE_MAX = 300
/** A string in a timeline detail longer than this is cut: the timeline is for people. */
const DETAIL_STRING_MAX = 2000
const DETAIL_DEPTH_MAX = 6

/** The id of the incident an alert opens: the same for every retry of the step. */
export function incidentIdForAlert(alertId: string): string {
  return `in_${createHash('sha256').update(`incident\u0000${alertId}`).digest('hex').slice(0, 24)}`
}

const CHANGE_COLUMNS = [
  'id', 'version', 'change', 'title', 'severity', 'status', 'entity_type', 'entity_id', 'api_key_id', 'account_id', 'opened_at', 'note',
  'actor', 'changed_at',
] as const
type ChangeRow = Record<(typeof CHANGE_COLUMNS)[number], string | number>
const TIMELINE_COLUMNS = ['incident_id', 'at', 'seq', 'kind', 'actor', 'alert_id', 'playbook', 'step', 'attempt', 'outcome', 'detail'] as const

interface CurrentRow {
  id: string
  version: string
  title: string
  severity: string
  status: string
  entity_type: string
  entity_id: string
  api_key_id: string
  account_id: string
  opened_at: string
  updated_at: string
}

interface TimelineRow {
  at: string
  kind: string
  actor: string
  alert_id: string
  playbook: string
  step: string
  attempt: number | null
  outcome: string
  detail: string
}

// Each incident's latest values. The aliases reuse column names, so queries add PREFER:
// inside the aggregates a name must mean the column, not the alias.
const CURRENT = `
SELECT id, toString(max(version)) AS version,
  argMax(title, version) AS title, argMax(severity, version) AS severity, argMax(status, version) AS status,
  argMax(entity_type, version) AS entity_type, argMax(entity_id, version) AS entity_id,
  argMax(api_key_id, version) AS api_key_id, argMax(account_id, version) AS account_id,
  toString(min(opened_at)) AS opened_at, toString(max(changed_at)) AS updated_at
FROM incident_changes`
const PREFER = ' SETTINGS prefer_column_name_to_alias = 1'

// Take the lock only if free; release it only if we still hold it.
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** A bounded plain copy (strings cut, nesting and breadth limited) of a timeline detail. */
function boundDetail(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return v.length > DETAIL_STRING_MAX ? `${v.slice(0, DETAIL_STRING_MAX)}…` : v
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return v
  if (typeof v === 'bigint') return v.toString()
  if (depth >= DETAIL_DEPTH_MAX) return '[too deep]'
  if (Array.isArray(v)) return v.slice(0, 100).map((x) => boundDetail(x, depth + 1))
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v as Record<string, unknown>).slice(0, 100)) out[k.slice(0, 200)] = boundDetail(x, depth + 1)
    return out
  }
  return null // undefined, functions, symbols: nothing a person needs
}

/**
 * What a timeline detail may hold: bounded, then masked as free text (every string through
 * maskText, the value under a secret-sounding key such as `password` or `token` masked whole).
 */
export function maskTimelineDetail(detail: Record<string, unknown>): Record<string, unknown> {
  const copy = boundDetail(detail) as Record<string, unknown>
  // Wrapped under a name maskEvent does not know, every string inside is free text.
  maskEvent({ detail: copy })
  return copy
}

function toIncident(r: CurrentRow, alertIds: string[], timeline: TimelineEntry[]): Incident {
  return {
    id: r.id,
    title: r.title,
    severity: r.severity as Severity,
    status: r.status as IncidentStatus,
    entity: { type: r.entity_type, id: r.entity_id },
    api_key_id: r.api_key_id || null,
    account_id: r.account_id || null,
    opened_at: chToIso(r.opened_at),
    updated_at: chToIso(r.updated_at),
    alert_ids: alertIds,
    timeline,
  }
}

function toEntry(r: TimelineRow): TimelineEntry {
  let detail: Record<string, unknown> = {}
  try {
    const parsed: unknown = JSON.parse(r.detail)
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) detail = parsed as Record<string, unknown>
  } catch {
    // a row written by hand: show the entry without its detail rather than fail the incident
  }
  return {
    at: chToIso(r.at),
    kind: r.kind,
    actor: r.actor,
    alert_id: r.alert_id || null,
    playbook: r.playbook || null,
    step: r.step || null,
    attempt: r.attempt ?? null,
    outcome: r.outcome || null,
    detail,
  }
}

/** The next version of an incident, to be completed with what changed. */
function nextChange(cur: CurrentRow): Omit<ChangeRow, 'change' | 'note' | 'actor' | 'changed_at'> {
  return {
    id: cur.id,
    version: Number(cur.version) + 1,
    title: cur.title,
    severity: cur.severity,
    status: cur.status,
    entity_type: cur.entity_type,
    entity_id: cur.entity_id,
    api_key_id: cur.api_key_id,
    account_id: cur.account_id,
    opened_at: cur.opened_at,
  }
}

/** Status moves: forward along open → contained → resolved → closed, or back to open. */
function canMove(from: IncidentStatus, to: IncidentStatus): boolean {
  if (to === 'open') return from !== 'open'
  return INCIDENT_STATUSES.indexOf(to) > INCIDENT_STATUSES.indexOf(from)
}

export function createIncidentStore(opts: IncidentStoreOptions): IncidentStore {
  const { store, redis, audit } = opts
  const prefix = opts.keyPrefix ?? 'vigil:'
  const leaseMs = opts.lockLeaseMs ?? 15_000
  const waitMs = opts.lockWaitMs ?? 30_000

  // Timeline times in microseconds, strictly increasing within this process, so entries
  // written in one millisecond keep their order.
  let lastMicros = 0
  let seq = 0
  function nextMicros(): number {
    lastMicros = Math.max(Date.now() * 1000, lastMicros + 1)
    return lastMicros
  }
  const microsToCh = (us: number) => `${dateToCh(new Date(Math.floor(us / 1000))).slice(0, 23)}${String(us % 1000).padStart(3, '0')}`

  async function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const key = `${prefix}incidents:lock:${createHash('sha256').update(name).digest('hex').slice(0, 32)}`
    const token = randomBytes(16).toString('hex')
    const deadline = Date.now() + waitMs
    let pause = 2
    while ((await redis.set(key, token, 'PX', leaseMs, 'NX')) !== 'OK') {
      if (Date.now() > deadline) throw new VigilError('VIGIL_ERR_API_UNAVAILABLE', 'timed out waiting for an incident lock')
      await sleep(pause + Math.random() * pause)
      pause = Math.min(pause * 2, 50)
    }
    try {
      return await fn()
    } finally {
      await redis.eval(RELEASE, 1, key, token).catch(() => undefined)
    }
  }

  async function current(id: string): Promise<CurrentRow | undefined> {
    return (await store.query<CurrentRow>(`${CURRENT} WHERE id = {id:String} GROUP BY id${PREFER}`, { id }))[0]
  }

  async function alertIdsOf(ids: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>()
    if (ids.length === 0) return out
    const rows = await store.query<{ incident_id: string; alert_id: string }>(
      `SELECT incident_id, alert_id FROM incident_alerts WHERE incident_id IN {ids:Array(String)} ORDER BY attached_at, alert_id`,
      { ids },
    )
    for (const r of rows) {
      const list = out.get(r.incident_id) ?? []
      if (!list.includes(r.alert_id)) list.push(r.alert_id)
      out.set(r.incident_id, list)
    }
    return out
  }

  async function timelineOf(id: string): Promise<TimelineEntry[]> {
    const rows = await store.query<TimelineRow>(
      `SELECT toString(at) AS at, kind, actor, alert_id, playbook, step, attempt, outcome, detail
       FROM incident_timeline WHERE incident_id = {id:String} ORDER BY at, seq`,
      { id },
    )
    return rows.map(toEntry)
  }

  async function summary(id: string): Promise<IncidentSummary | undefined> {
    const [row, alerts] = await Promise.all([current(id), alertIdsOf([id])])
    if (!row) return undefined
    const { timeline: _timeline, ...rest } = toIncident(row, alerts.get(id) ?? [], [])
    return rest
  }

  async function full(id: string): Promise<Incident | undefined> {
    const row = await current(id)
    if (!row) return undefined
    const [alerts, timeline] = await Promise.all([alertIdsOf([id]), timelineOf(id)])
    return toIncident(row, alerts.get(id) ?? [], timeline)
  }

  async function insertChange(row: ChangeRow): Promise<void> {
    await store.insertNdjson('incident_changes', CHANGE_COLUMNS, JSON.stringify(row) + '\n')
  }

  async function insertTimeline(incidentId: string, e: Omit<TimelineEntry, 'at'> & { at?: string }): Promise<void> {
    const at = e.at !== undefined ? isoToCh(e.at) : microsToCh(nextMicros())
    if (at === undefined) throw new VigilError('VIGIL_ERR_API_BAD_REQUEST', 'a timeline time is RFC 3339 UTC')
    const row = {
      incident_id: incidentId,
      at,
      seq: ++seq,
      kind: e.kind,
      actor: e.actor,
      alert_id: e.alert_id ?? '',
      playbook: e.playbook ?? '',
      step: e.step ?? '',
      attempt: e.attempt ?? null,
      outcome: e.outcome ?? '',
      detail: JSON.stringify(maskTimelineDetail(e.detail ?? {})),
    }
    await store.insertNdjson('incident_timeline', TIMELINE_COLUMNS, JSON.stringify(row) + '\n')
  }

  async function incidentOfAlert(alertId: string): Promise<string | undefined> {
    const rows = await store.query<{ incident_id: string }>(
      `SELECT incident_id FROM incident_alerts WHERE alert_id = {a:String} ORDER BY attached_at LIMIT 1`,
      { a: alertId },
    )
    return rows[0]?.incident_id
  }

  async function notifyAttached(alertId: string, incidentId: string): Promise<void> {
    if (opts.onAlertAttached) await opts.onAlertAttached(alertId, incidentId)
  }

  /** Attaches under the incident's lock; answers whether anything was written. */
  async function attachLocked(incidentId: string, alert: Alert, actor: string, playbook: string | null): Promise<boolean> {
    return withLock(`incident:${incidentId}`, async () => {
      const cur = await current(incidentId)
      if (!cur) throw new VigilError('VIGIL_ERR_INCIDENT_NOT_FOUND', incidentId)
      const already = await store.query<{ n: string }>(
        `SELECT toString(count()) AS n FROM incident_alerts WHERE incident_id = {i:String} AND alert_id = {a:String}`,
        { i: incidentId, a: alert.id },
      )
      if (Number(already[0]?.n ?? 0) > 0) return false
      const now = dateToCh(new Date())
      await store.insertNdjson(
        'incident_alerts',
        ['incident_id', 'alert_id', 'attached_at', 'actor'],
        JSON.stringify({ incident_id: incidentId, alert_id: alert.id, attached_at: now, actor }) + '\n',
      )
      const raised = severityRank(alert.severity) > severityRank(cur.severity as Severity)
      await insertChange({ ...nextChange(cur), change: 'alert', severity: raised ? alert.severity : cur.severity, note: alert.id, actor, changed_at: now })
      await insertTimeline(incidentId, {
        kind: 'alert_attached',
        actor,
        alert_id: alert.id,
        playbook,
        step: null,
        attempt: null,
        outcome: raised ? 'severity_raised' : null,
        detail: {
          rule: alert.rule,
          severity: alert.severity,
          summary: alert.summary,
          ...(raised ? { severity_from: cur.severity, severity_to: alert.severity } : {}),
        },
      })
      return true
    })
  }

  return {
    async openForAlert(alert, o) {
      const windowMs = o.groupWindowMs ?? INCIDENT_GROUP_WINDOW_MS
      if (!Number.isFinite(windowMs) || windowMs < 0) throw new VigilError('VIGIL_ERR_API_BAD_REQUEST', 'group window must be a non-negative duration')
      const opened = await withLock(`entity:${alert.entity.type}\u0000${alert.entity.id}`, async () => {
        // A retried step, or an alert delivered twice: it is already in an incident.
        const known = await incidentOfAlert(alert.id)
        if (known) return { id: known, created: false, attached: false }

        const open = await store.query<CurrentRow>(
          `SELECT * FROM (${CURRENT} WHERE entity_type = {et:String} AND entity_id = {eid:String} GROUP BY id)
           WHERE status IN ('open', 'contained') AND opened_at >= {since:String}
           ORDER BY opened_at DESC, id DESC LIMIT 1${PREFER}`,
          { et: alert.entity.type, eid: alert.entity.id, since: msToCh(Date.now() - windowMs) },
        )
        if (open[0]) {
          const attached = await attachLocked(open[0].id, alert, o.actor, o.playbook)
          return { id: open[0].id, created: false, attached }
        }

        const id = incidentIdForAlert(alert.id)
        // Opened by this alert before and since left (closed) without the alert row: keep it.
        if (await current(id)) return { id, created: false, attached: false }
        const now = dateToCh(new Date())
        const title = maskText((o.title ?? `${alert.rule} on ${alert.entity.type} ${alert.entity.id}`).replace(/[\r\n]+/g, ' ')).slice(0, TITLE_MAX)
        await insertChange({
          id,
          version: 1,
          change: 'open',
          title,
          severity: alert.severity,
          status: 'open',
          entity_type: alert.entity.type,
          entity_id: alert.entity.id,
          api_key_id: alert.api_key_id ?? '',
          account_id: alert.account_id ?? '',
          opened_at: now,
          note: alert.id,
          actor: o.actor,
          changed_at: now,
        })
        await store.insertNdjson(
          'incident_alerts',
          ['incident_id', 'alert_id', 'attached_at', 'actor'],
          JSON.stringify({ incident_id: id, alert_id: alert.id, attached_at: now, actor: o.actor }) + '\n',
        )
        await insertTimeline(id, {
          kind: 'opened',
          actor: o.actor,
          alert_id: alert.id,
          playbook: o.playbook,
          step: null,
          attempt: null,
          outcome: null,
          detail: { title, rule: alert.rule, severity: alert.severity, entity: alert.entity, summary: alert.summary },
        })
        return { id, created: true, attached: false }
      })
      await notifyAttached(alert.id, opened.id)
      const incident = await full(opened.id)
      if (!incident) throw new VigilError('VIGIL_ERR_INCIDENT_NOT_FOUND', opened.id)
      return { incident, created: opened.created, attached: opened.attached }
    },

    async attachAlert(incidentId, alert, actor) {
      const attached = await attachLocked(incidentId, alert, actor, null)
      await notifyAttached(alert.id, incidentId)
      const incident = await full(incidentId)
      if (!incident) throw new VigilError('VIGIL_ERR_INCIDENT_NOT_FOUND', incidentId)
      return { incident, attached }
    },

    async addTimeline(incidentId, entry, opts) {
      if (!opts?.knownToExist && !(await current(incidentId))) throw new VigilError('VIGIL_ERR_INCIDENT_NOT_FOUND', incidentId)
      await insertTimeline(incidentId, entry)
    },

    async setStatus(incidentId, status, note, actor, extra) {
      if (!(INCIDENT_STATUSES as readonly string[]).includes(status)) {
        throw new VigilError('VIGIL_ERR_API_BAD_REQUEST', `status must be one of ${INCIDENT_STATUSES.join(', ')}`)
      }
      if (note.length > INCIDENT_NOTE_MAX) throw new VigilError('VIGIL_ERR_API_BAD_REQUEST', `note is longer than ${INCIDENT_NOTE_MAX} characters`)
      const masked = maskText(note)
      if (extra?.resolution !== undefined && extra.resolution.length > INCIDENT_NOTE_MAX) {
        throw new VigilError('VIGIL_ERR_API_BAD_REQUEST', `resolution is longer than ${INCIDENT_NOTE_MAX} characters`)
      }
      const resolution = extra?.resolution !== undefined ? { resolution: maskText(extra.resolution) } : {}
      await withLock(`incident:${incidentId}`, async () => {
        const cur = await current(incidentId)
        if (!cur) throw new VigilError('VIGIL_ERR_INCIDENT_NOT_FOUND', incidentId)
        const from = cur.status as IncidentStatus
        if (!canMove(from, status)) throw new VigilError('VIGIL_ERR_API_BAD_REQUEST', `an incident that is ${from} cannot become ${status}`)
        const now = dateToCh(new Date())
        await insertChange({ ...nextChange(cur), change: 'status', status, note: masked, actor, changed_at: now })
        await audit.append({ actor, action: 'incident.status', subject: incidentId, detail: { from, to: status, note: masked, ...resolution } })
        await insertTimeline(incidentId, {
          kind: 'status',
          actor,
          alert_id: null,
          playbook: null,
          step: null,
          attempt: null,
          outcome: status,
          detail: { from, to: status, note: masked, ...resolution },
        })
      })
      const incident = await full(incidentId)
      if (!incident) throw new VigilError('VIGIL_ERR_INCIDENT_NOT_FOUND', incidentId)
      return incident
    },

    get: full,
    summary,

    async list(f) {
      const where: string[] = []
      const params: Record<string, unknown> = { limit: f.limit }
      if (f.status !== undefined) {
        where.push('status = {status:String}')
        params.status = f.status
      }
      if (f.severity !== undefined) {
        where.push('severity = {severity:String}')
        params.severity = f.severity
      }
      if (f.api_key_id !== undefined) {
        where.push('api_key_id = {api_key_id:String}')
        params.api_key_id = f.api_key_id
      }
      if (f.fromMs !== undefined) {
        where.push('opened_at >= {from:String}')
        params.from = msToCh(f.fromMs)
      }
      if (f.toMs !== undefined) {
        where.push('opened_at < {to:String}')
        params.to = msToCh(f.toMs)
      }
      if (f.before) {
        const at = isoToCh(f.before.at)
        if (at === undefined) throw new VigilError('VIGIL_ERR_API_BAD_CURSOR')
        where.push('(opened_at, id) < ({bat:String}, {bid:String})')
        params.bat = at
        params.bid = f.before.id
      }
      const rows = await store.query<CurrentRow>(
        `SELECT * FROM (${CURRENT} GROUP BY id) ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY opened_at DESC, id DESC LIMIT {limit:UInt32}${PREFER}`,
        params,
      )
      const alerts = await alertIdsOf(rows.map((r) => r.id))
      return rows.map((r) => {
        const { timeline: _timeline, ...rest } = toIncident(r, alerts.get(r.id) ?? [], [])
        return rest
      })
    },
  }
}
