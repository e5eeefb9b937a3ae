/**
 * `/v1/killswitches` (CONTRACT §4): list, one switch, trip `{scope, reason}`, and the
 * four-eyes reset `{reason}` — the first person's call answers 202 `reset_requested`, a second
 * person's resets the switch (200), the same person again is refused (409 four_eyes_required).
 * Routes declare their permission; the server enforces it and sets `request.operator`.
 */
import type { FastifyPluginAsync } from 'fastify'
import { VigilError } from '@vigil/core'
import type { KillSwitchStore } from './seams.js'
import { isoToCh } from './clickhouse-time.js'
import { operatorActorOf, reasonBody } from './keys-routes.js'

/** The server's signed cursor codec (same shape as server/src/cursor.ts). */
export interface ListCursorCodec {
  encode(kind: string, position: readonly string[]): string
  decode(kind: string, cursor: string, arity: number): string[]
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/
const bad = (detail: string) => new VigilError('VIGIL_ERR_API_BAD_REQUEST', detail)

/** The query as single strings; unknown, repeated or overlong parameters are refused. */
export function listQuery(raw: unknown, known: readonly string[]): Record<string, string> {
  const allowed = new Set([...known, 'from', 'to', 'limit', 'cursor'])
  const out: Record<string, string> = {}
  if (raw === null || typeof raw !== 'object') return out
  for (const [k, v] of Object.entries(raw)) {
    if (!allowed.has(k)) throw bad(`unknown parameter "${k.slice(0, 32)}"`)
    if (typeof v !== 'string') throw bad(`${k} may be given once`)
    if (v.length > 512) throw bad(`${k} is too long`)
    out[k] = v
  }
  return out
}

export function timeQuery(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined
  const ms = RFC3339.test(v) ? Date.parse(v) : NaN
  if (Number.isNaN(ms)) throw bad(`${name} must be an RFC 3339 time`)
  return ms
}

export function limitQuery(v: string | undefined): number {
  if (v === undefined) return 100
  const limit = /^\d{1,4}$/.test(v) ? Number(v) : NaN
  if (!(limit >= 1 && limit <= 1000)) throw bad('limit must be an integer from 1 to 1000')
  return limit
}

const STATUSES = ['tripped', 'reset'] as const

export function killswitchesRoutes(deps: { killswitches: KillSwitchStore; cursors: ListCursorCodec }): FastifyPluginAsync {
  const { killswitches, cursors } = deps
  return async (app) => {
    app.get('/v1/killswitches', { config: { permission: 'killswitches:read' } }, async (req) => {
      const q = listQuery(req.query, ['status'])
      if (q.status !== undefined && !(STATUSES as readonly string[]).includes(q.status)) throw bad('status must be tripped or reset')
      const limit = limitQuery(q.limit)
      const before = q.cursor === undefined ? undefined : cursors.decode('killswitches', q.cursor, 2)
      const fromMs = timeQuery('from', q.from)
      const toMs = timeQuery('to', q.to)
      const rows = await killswitches.list({
        ...(q.status !== undefined ? { status: q.status as (typeof STATUSES)[number] } : {}),
        ...(fromMs !== undefined ? { fromMs } : {}),
        ...(toMs !== undefined ? { toMs } : {}),
        ...(before ? { before: { at: before[0] as string, id: before[1] as string } } : {}),
        limit: limit + 1,
      })
      const items = rows.slice(0, limit)
      const last = items[items.length - 1]
      const next = rows.length > limit && last ? cursors.encode('killswitches', [isoToCh(last.tripped_at) ?? last.tripped_at, last.id]) : null
      return { items, next }
    })

    app.get('/v1/killswitches/:id', { config: { permission: 'killswitches:read' } }, async (req) => {
      const { id } = req.params as { id: string }
      const sw = await killswitches.get(id)
      if (!sw) throw new VigilError('VIGIL_ERR_KILLSWITCH_NOT_FOUND')
      return sw
    })

    app.post('/v1/killswitches', { config: { permission: 'killswitches:write' } }, async (req, reply) => {
      const actor = operatorActorOf(req)
      const body = reasonBody(req.body, ['scope', 'reason'])
      let scope = body.scope
      if (scope === undefined) throw new VigilError('VIGIL_ERR_KILLSWITCH_BAD_SCOPE', 'scope is required')
      // `{"type": "global"}` means the one global scope, whose id is "*".
      if (scope !== null && typeof scope === 'object' && !Array.isArray(scope) && (scope as { type?: unknown }).type === 'global' && (scope as { id?: unknown }).id === undefined) {
        scope = { type: 'global', id: '*' }
      }
      const r = await killswitches.trip(scope as never, { reason: body.reason as string, actor })
      return reply.code(r.changed ? 201 : 200).send(r.value)
    })

    app.post('/v1/killswitches/:id/reset', { config: { permission: 'killswitches:write' } }, async (req, reply) => {
      const { id } = req.params as { id: string }
      const actor = operatorActorOf(req)
      const { reason } = reasonBody(req.body)
      const r = await killswitches.requestReset(id, { reason: reason as string, actor })
      if (r.outcome === 'requested') return reply.code(202).send({ status: 'reset_requested', killswitch: r.killswitch })
      return reply.code(200).send(r.killswitch)
    })
  }
}
