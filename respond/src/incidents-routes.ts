/**
 * `/v1/incidents` (CONTRACT §4): list with filters and a signed cursor, one incident with its
 * alerts and its full timeline, status changes with a note, and notes on the timeline.
 * Routes declare their permission; the server enforces it and sets `request.operator`.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { SEVERITIES, VigilError, type Severity } from '@vigil/core'
import { INCIDENT_STATUSES, type IncidentStatus, type IncidentStore } from './seams.js'
import { INCIDENT_NOTE_MAX } from './incidents.js'

/** The server's signed cursor codec (server/src/cursor.ts); decode throws bad_cursor. */
export interface ListCursor {
  encode(kind: string, position: readonly string[]): string
  decode(kind: string, cursor: string, arity: number): string[]
}

const KNOWN = new Set(['status', 'severity', 'api_key_id', 'from', 'to', 'limit', 'cursor', 'next'])
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/
/** Every incident id this store makes; anything else cannot exist and is not looked up. */
const INCIDENT_ID = /^in_[0-9a-f]{24}$/
const CURSOR_KIND = 'incidents'
const bad = (detail: string) => new VigilError('VIGIL_ERR_API_BAD_REQUEST', detail)

function readQuery(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  if (raw === null || typeof raw !== 'object') return out
  for (const [k, v] of Object.entries(raw)) {
    if (!KNOWN.has(k)) throw bad(`unknown parameter "${k.slice(0, 32)}"`)
    if (typeof v !== 'string') throw bad(`${k} may be given once`)
    if (v.length > 2048 || (k !== 'cursor' && k !== 'next' && v.length > 256)) throw bad(`${k} is too long`)
    out[k] = v
  }
  return out
}

function time(name: string, v: string): number {
  const ms = RFC3339.test(v) ? Date.parse(v) : NaN
  if (Number.isNaN(ms)) throw bad(`${name} must be an RFC 3339 time`)
  return ms
}

/** `operator:<token id>` of the caller; the server's access hook sets `request.operator`. */
function actorOf(req: FastifyRequest): string {
  const op = (req as FastifyRequest & { operator?: { id: string; name: string } | null }).operator
  if (!op?.id) throw new VigilError('VIGIL_ERR_AUTH_REQUIRED')
  return `operator:${op.id}`
}

function incidentId(req: FastifyRequest): string {
  const { id } = req.params as { id: string }
  if (!INCIDENT_ID.test(id)) throw new VigilError('VIGIL_ERR_INCIDENT_NOT_FOUND')
  return id
}

/** A JSON object body with only the named fields. */
function readBody(raw: unknown, fields: readonly string[], shape: string): Record<string, unknown> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw bad(`body must be ${shape}`)
  for (const k of Object.keys(raw)) if (!fields.includes(k)) throw bad(`unknown field "${k.slice(0, 32)}"; body must be ${shape}`)
  return raw as Record<string, unknown>
}

function readNote(v: unknown, required: boolean): string {
  if (v === undefined && !required) return ''
  if (typeof v !== 'string') throw bad(required ? 'note is required and must be a string' : 'note must be a string')
  if (required && v.trim().length === 0) throw bad('note must not be empty')
  if (v.length > INCIDENT_NOTE_MAX) throw bad(`note is longer than ${INCIDENT_NOTE_MAX} characters`)
  return v
}

export function incidentsRoutes(deps: { incidents: IncidentStore; cursors: ListCursor }): FastifyPluginAsync {
  const { incidents, cursors } = deps
  return async (app) => {
    app.get('/v1/incidents', { config: { permission: 'incidents:read' } }, async (req) => {
      const q = readQuery(req.query)
      if (q.status !== undefined && !(INCIDENT_STATUSES as readonly string[]).includes(q.status)) throw bad(`status must be one of ${INCIDENT_STATUSES.join(', ')}`)
      if (q.severity !== undefined && !(SEVERITIES as readonly string[]).includes(q.severity)) throw bad(`severity must be one of ${SEVERITIES.join(', ')}`)
      const limit = q.limit === undefined ? 100 : /^\d{1,4}$/.test(q.limit) ? Number(q.limit) : NaN
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw bad('limit must be an integer from 1 to 1000')
      if (q.cursor !== undefined && q.next !== undefined) throw bad('give the cursor once, as cursor or next')
      const fromMs = q.from === undefined ? undefined : time('from', q.from)
      const toMs = q.to === undefined ? undefined : time('to', q.to)
      if (fromMs !== undefined && toMs !== undefined && fromMs > toMs) throw bad('from must not be after to')
      const cursor = q.cursor ?? q.next
      const before = cursor === undefined ? undefined : cursors.decode(CURSOR_KIND, cursor, 2)
      const items = await incidents.list({
        ...(q.status !== undefined ? { status: q.status as IncidentStatus } : {}),
        ...(q.severity !== undefined ? { severity: q.severity as Severity } : {}),
        ...(q.api_key_id !== undefined ? { api_key_id: q.api_key_id } : {}),
        ...(fromMs !== undefined ? { fromMs } : {}),
        ...(toMs !== undefined ? { toMs } : {}),
        ...(before ? { before: { at: before[0] as string, id: before[1] as string } } : {}),
        limit: limit + 1,
      })
      const page = items.slice(0, limit)
      const last = page[page.length - 1]
      const next = items.length > limit && last ? cursors.encode(CURSOR_KIND, [last.opened_at, last.id]) : null
      return { items: page, next }
    })

    app.get('/v1/incidents/:id', { config: { permission: 'incidents:read' } }, async (req) => {
      const incident = await incidents.get(incidentId(req))
      if (!incident) throw new VigilError('VIGIL_ERR_INCIDENT_NOT_FOUND')
      return incident
    })

    app.post('/v1/incidents/:id/status', { config: { permission: 'incidents:write' } }, async (req) => {
      const id = incidentId(req)
      const body = readBody(req.body, ['status', 'note'], '{"status": …, "note": …}')
      if (typeof body.status !== 'string' || !(INCIDENT_STATUSES as readonly string[]).includes(body.status)) {
        throw bad(`status must be one of ${INCIDENT_STATUSES.join(', ')}`)
      }
      const note = readNote(body.note, false)
      return incidents.setStatus(id, body.status as IncidentStatus, note, actorOf(req))
    })

    app.post('/v1/incidents/:id/notes', { config: { permission: 'incidents:write' } }, async (req, reply) => {
      const id = incidentId(req)
      const body = readBody(req.body, ['note'], '{"note": …}')
      const note = readNote(body.note, true)
      const actor = actorOf(req)
      await incidents.addTimeline(id, { kind: 'note', actor, alert_id: null, playbook: null, step: null, attempt: null, outcome: null, detail: { note } })
      const incident = await incidents.get(id)
      if (!incident) throw new VigilError('VIGIL_ERR_INCIDENT_NOT_FOUND')
      return reply.code(201).send(incident)
    })
  }
}
