/**
 * `/v1/incidents` (CONTRACT §4): list with filters and a signed cursor, one incident with its
 * alerts and its full timeline, status changes with a note (and a resolution when resolving
 * or closing), and notes on the timeline. For the dashboard, an analyst opens an incident
 * from an alert (`POST /v1/incidents`) or attaches an alert to one (`POST /v1/incidents/:id/alerts`):
 * the timeline and the audit chain name who did it, and the alert's incident_id shows it.
 * Routes declare their permission; the server enforces it and sets `request.operator`.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { SEVERITIES, VigilError, type Alert, type Severity } from '@vigil/core'
import { INCIDENT_STATUSES, type AuditLog, type Incident, type IncidentStatus, type IncidentStore } from './seams.js'
import { INCIDENT_NOTE_MAX } from './incidents.js'
import { badRequest, beforeParam, limitParam, objectBody, operatorActor, page, readListQuery, timeParam, type ListCursor } from './list-query.js'

/** Every incident id this store makes; anything else cannot exist and is not looked up. */
const INCIDENT_ID = /^in_[0-9a-f]{24}$/
const CURSOR_KIND = 'incidents'
/** What an alert id may look like (detect makes `al_<24 hex>`; hand-written rows are longer). */
const ALERT_ID = /^[A-Za-z0-9_.:-]{1,128}$/
const TITLE_MAX = 300

function incidentId(req: FastifyRequest): string {
  const { id } = req.params as { id: string }
  if (!INCIDENT_ID.test(id)) throw new VigilError('VIGIL_ERR_INCIDENT_NOT_FOUND')
  return id
}

function readNote(v: unknown, required: boolean): string {
  if (v === undefined && !required) return ''
  if (typeof v !== 'string') throw badRequest(required ? 'note is required and must be a string' : 'note must be a string')
  if (required && v.trim().length === 0) throw badRequest('note must not be empty')
  if (v.length > INCIDENT_NOTE_MAX) throw badRequest(`note is longer than ${INCIDENT_NOTE_MAX} characters`)
  return v
}

export interface IncidentsRoutesDeps {
  incidents: IncidentStore
  /** The server's signed list cursor codec. */
  cursors: ListCursor
  /**
   * The alerts of these ids, in any order; ids it does not know are left out. respond does
   * not import detect, so the server passes its alert store's reader here. When given,
   * `GET /v1/incidents/:id` also answers `alerts` (CONTRACT §4: an incident carries its
   * alerts). @defaultValue none: the answer has `alert_ids` only.
   */
  alertsFor?: (ids: readonly string[]) => Promise<Alert[]>
  /**
   * Where opening an incident from an alert, or attaching one, is recorded besides the
   * incident's timeline. @defaultValue none: not recorded in the audit chain
   */
  audit?: AuditLog
}

function readAlertId(v: unknown): string {
  if (typeof v !== 'string' || !ALERT_ID.test(v)) throw badRequest('alert_id is required: an alert id (1-128 characters)')
  return v
}

export function incidentsRoutes(deps: IncidentsRoutesDeps): FastifyPluginAsync {
  const { incidents, cursors, alertsFor, audit } = deps

  /** The incident with its alerts, as GET /v1/incidents/:id answers it. */
  async function withAlerts(incident: Incident): Promise<Incident | (Incident & { alerts: Alert[] })> {
    if (!alertsFor) return incident
    const byId = new Map((await alertsFor(incident.alert_ids)).map((a) => [a.id, a]))
    return { ...incident, alerts: incident.alert_ids.flatMap((id) => byId.get(id) ?? []) }
  }

  async function alertOf(id: string): Promise<Alert> {
    if (!alertsFor) throw new VigilError('VIGIL_ERR_API_UNAVAILABLE', 'alerts are not available to the incident routes')
    const alert = (await alertsFor([id])).find((a) => a.id === id)
    if (!alert) throw new VigilError('VIGIL_ERR_ALERT_NOT_FOUND')
    return alert
  }

  return async (app) => {
    app.get('/v1/incidents', { config: { permission: 'incidents:read' } }, async (req) => {
      // A client may echo the answer's `next` back as `next`: both names are taken.
      const q = readListQuery(req.query, ['status', 'severity', 'api_key_id'], { maxValueLength: 256, acceptNext: true })
      if (q.status !== undefined && !(INCIDENT_STATUSES as readonly string[]).includes(q.status)) throw badRequest(`status must be one of ${INCIDENT_STATUSES.join(', ')}`)
      if (q.severity !== undefined && !(SEVERITIES as readonly string[]).includes(q.severity)) throw badRequest(`severity must be one of ${SEVERITIES.join(', ')}`)
      const limit = limitParam(q.limit)
      const fromMs = timeParam('from', q.from)
      const toMs = timeParam('to', q.to)
      if (fromMs !== undefined && toMs !== undefined && fromMs > toMs) throw badRequest('from must not be after to')
      const before = beforeParam(cursors, CURSOR_KIND, q.cursor)
      const rows = await incidents.list({
        ...(q.status !== undefined ? { status: q.status as IncidentStatus } : {}),
        ...(q.severity !== undefined ? { severity: q.severity as Severity } : {}),
        ...(q.api_key_id !== undefined ? { api_key_id: q.api_key_id } : {}),
        ...(fromMs !== undefined ? { fromMs } : {}),
        ...(toMs !== undefined ? { toMs } : {}),
        ...(before ? { before } : {}),
        limit: limit + 1,
      })
      // The incident store takes the cursor's time as RFC 3339 and converts it itself.
      return page(rows, limit, CURSOR_KIND, cursors, (i) => [i.opened_at, i.id])
    })

    app.get('/v1/incidents/:id', { config: { permission: 'incidents:read' } }, async (req) => {
      const incident = await incidents.get(incidentId(req))
      if (!incident) throw new VigilError('VIGIL_ERR_INCIDENT_NOT_FOUND')
      return withAlerts(incident)
    })

    // An analyst opens an incident from an alert that is in none yet.
    app.post('/v1/incidents', { config: { permission: 'incidents:write' } }, async (req, reply) => {
      const body = objectBody(req.body, ['alert_id', 'title'], '{"alert_id": …, "title": …}')
      const alertId = readAlertId(body.alert_id)
      if (body.title !== undefined && (typeof body.title !== 'string' || body.title.trim() === '' || body.title.length > TITLE_MAX)) {
        throw badRequest(`title must be a non-empty string of at most ${TITLE_MAX} characters`)
      }
      const actor = operatorActor(req)
      const alert = await alertOf(alertId)
      if (alert.incident_id) throw new VigilError('VIGIL_ERR_ALERT_IN_INCIDENT', `in ${alert.incident_id}`)
      // Opened for this alert alone: no grouping with another incident on the same entity.
      const opened = await incidents.openForAlert(alert, {
        actor,
        playbook: null,
        groupWindowMs: 0,
        ...(typeof body.title === 'string' ? { title: body.title } : {}),
      })
      // Someone (a playbook, another analyst) put it in an incident meanwhile.
      if (!opened.created) throw new VigilError('VIGIL_ERR_ALERT_IN_INCIDENT', `in ${opened.incident.id}`)
      await audit?.append({ actor, action: 'incident.open', subject: opened.incident.id, detail: { alert_id: alert.id, title: opened.incident.title } })
      return reply.code(201).send(await withAlerts(opened.incident))
    })

    // An analyst attaches an alert to an incident; again to the same one changes nothing.
    app.post('/v1/incidents/:id/alerts', { config: { permission: 'incidents:write' } }, async (req) => {
      const id = incidentId(req)
      const body = objectBody(req.body, ['alert_id'], '{"alert_id": …}')
      const alertId = readAlertId(body.alert_id)
      const actor = operatorActor(req)
      const incident = await incidents.get(id)
      if (!incident) throw new VigilError('VIGIL_ERR_INCIDENT_NOT_FOUND')
      const alert = await alertOf(alertId)
      if (alert.incident_id && alert.incident_id !== id) throw new VigilError('VIGIL_ERR_ALERT_IN_INCIDENT', `in ${alert.incident_id}`)
      if (incident.alert_ids.includes(alert.id)) return withAlerts(incident)
      const result = await incidents.attachAlert(id, alert, actor)
      if (result.attached) await audit?.append({ actor, action: 'incident.alert_attach', subject: id, detail: { alert_id: alert.id } })
      return withAlerts(result.incident)
    })

    app.post('/v1/incidents/:id/status', { config: { permission: 'incidents:write' } }, async (req) => {
      const id = incidentId(req)
      const body = objectBody(req.body, ['status', 'note', 'resolution'], '{"status": …, "note": …, "resolution": …}')
      if (typeof body.status !== 'string' || !(INCIDENT_STATUSES as readonly string[]).includes(body.status)) {
        throw badRequest(`status must be one of ${INCIDENT_STATUSES.join(', ')}`)
      }
      const note = readNote(body.note, false)
      if (body.resolution === undefined) return incidents.setStatus(id, body.status as IncidentStatus, note, operatorActor(req))
      if (body.status !== 'resolved' && body.status !== 'closed') throw badRequest('a resolution goes with status resolved or closed')
      if (typeof body.resolution !== 'string' || body.resolution.trim() === '' || body.resolution.length > INCIDENT_NOTE_MAX) {
        throw badRequest(`resolution must be a non-empty string of at most ${INCIDENT_NOTE_MAX} characters`)
      }
      return incidents.setStatus(id, body.status as IncidentStatus, note, operatorActor(req), { resolution: body.resolution })
    })

    app.post('/v1/incidents/:id/notes', { config: { permission: 'incidents:write' } }, async (req, reply) => {
      const id = incidentId(req)
      const body = objectBody(req.body, ['note'], '{"note": …}')
      const note = readNote(body.note, true)
      const actor = operatorActor(req)
      await incidents.addTimeline(id, { kind: 'note', actor, alert_id: null, playbook: null, step: null, attempt: null, outcome: null, detail: { note } })
      const incident = await incidents.get(id)
      if (!incident) throw new VigilError('VIGIL_ERR_INCIDENT_NOT_FOUND')
      return reply.code(201).send(incident)
    })
  }
}
