/**
 * `/v1/alerts` (CONTRACT §4): list with filters and a cursor, one alert with its history,
 * and status changes with a note. Routes declare their permission; the server enforces it.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { VigilError } from '@vigil/core'
import { ALERT_STATUSES, SETTABLE_STATUSES, type AlertStore } from './alerts.js'
import { alertsStreamRoutes, type AlertsStreamOptions } from './alerts-stream.js'

/** The server's signed cursor codec (same shape as server/src/cursor.ts). */
export interface ListCursor {
  encode(kind: string, position: readonly string[]): string
  decode(kind: string, cursor: string, arity: number): string[]
}

const SEVERITIES = ['low', 'medium', 'high', 'critical']
const KNOWN = new Set(['rule', 'severity', 'status', 'api_key_id', 'account_id', 'from', 'to', 'limit', 'cursor'])
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/
const bad = (detail: string) => new VigilError('VIGIL_ERR_API_BAD_REQUEST', detail)

function readQuery(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  if (raw === null || typeof raw !== 'object') return out
  for (const [k, v] of Object.entries(raw)) {
    if (!KNOWN.has(k)) throw bad(`unknown parameter "${k.slice(0, 32)}"`)
    if (typeof v !== 'string') throw bad(`${k} may be given once`)
    if (v.length > 256) throw bad(`${k} is too long`)
    out[k] = v
  }
  return out
}

function time(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined
  const ms = RFC3339.test(v) ? Date.parse(v) : NaN
  if (Number.isNaN(ms)) throw bad(`${name} must be an RFC 3339 time`)
  return ms
}

/** `2026-11-24T09:30:00.1Z` → `2026-11-24 09:30:00.100000`, the text alert_changes sorts by. */
function isoToChText(iso: string): string {
  const frac = (/\.(\d+)/.exec(iso)?.[1] ?? '').padEnd(6, '0').slice(0, 6)
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${frac}`
}

function operatorName(req: FastifyRequest): string {
  const op = (req as FastifyRequest & { operator?: { name?: string } | null }).operator
  return op?.name ?? 'unknown'
}

export function alertsRoutes(deps: { alerts: AlertStore; cursors: ListCursor; stream?: AlertsStreamOptions }): FastifyPluginAsync {
  const { alerts, cursors } = deps
  return async (app) => {
    // GET /v1/alerts/stream (alerts-stream.ts), registered first: a static path beside /:id.
    await app.register(alertsStreamRoutes(alerts, deps.stream))

    app.get('/v1/alerts', { config: { permission: 'alerts:read' } }, async (req) => {
      const q = readQuery(req.query)
      if (q.severity !== undefined && !SEVERITIES.includes(q.severity)) throw bad(`severity must be one of ${SEVERITIES.join(', ')}`)
      if (q.status !== undefined && !(ALERT_STATUSES as readonly string[]).includes(q.status)) throw bad(`status must be one of ${ALERT_STATUSES.join(', ')}`)
      const limit = q.limit === undefined ? 100 : Number(q.limit)
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw bad('limit must be an integer from 1 to 1000')
      const before = q.cursor === undefined ? undefined : cursors.decode('alerts', q.cursor, 2)
      const items = await alerts.list({
        ...(q.rule !== undefined ? { rule: q.rule } : {}),
        ...(q.severity !== undefined ? { severity: q.severity } : {}),
        ...(q.status !== undefined ? { status: q.status } : {}),
        ...(q.api_key_id !== undefined ? { api_key_id: q.api_key_id } : {}),
        ...(q.account_id !== undefined ? { account_id: q.account_id } : {}),
        ...(q.from !== undefined ? { fromMs: time('from', q.from) as number } : {}),
        ...(q.to !== undefined ? { toMs: time('to', q.to) as number } : {}),
        ...(before ? { before: { firstSeen: before[0] as string, id: before[1] as string } } : {}),
        limit: limit + 1,
      })
      const page = items.slice(0, limit)
      const last = page[page.length - 1]
      // The cursor holds first_seen in storage's text form, which sorts like the time.
      const next = items.length > limit && last ? cursors.encode('alerts', [isoToChText(last.first_seen), last.id]) : null
      return { items: page, next }
    })

    app.get('/v1/alerts/:id', { config: { permission: 'alerts:read' } }, async (req) => {
      const { id } = req.params as { id: string }
      const alert = await alerts.get(id)
      if (!alert) throw new VigilError('VIGIL_ERR_API_NOT_FOUND', 'alert')
      return { ...alert, history: await alerts.history(id) }
    })

    app.post('/v1/alerts/:id/status', { config: { permission: 'alerts:write' } }, async (req) => {
      const { id } = req.params as { id: string }
      const body = req.body as { status?: unknown; note?: unknown } | undefined
      if (!body || typeof body !== 'object') throw bad('body must be {"status": …, "note": …}')
      if (typeof body.status !== 'string' || !(SETTABLE_STATUSES as readonly string[]).includes(body.status)) {
        throw bad(`status must be one of ${SETTABLE_STATUSES.join(', ')}`)
      }
      if (body.note !== undefined && typeof body.note !== 'string') throw bad('note must be a string')
      return alerts.setStatus(id, body.status, body.note ?? '', operatorName(req))
    })
  }
}
