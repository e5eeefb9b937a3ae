/**
 * `/v1/killswitches` (CONTRACT §4): list, one switch, trip `{scope, reason}`, and the
 * four-eyes reset `{reason}` — the first person's call answers 202 `reset_requested`, a second
 * person's resets the switch (200), the same person again is refused (409 four_eyes_required).
 * Routes declare their permission; the server enforces it and sets `request.operator`.
 */
import type { FastifyPluginAsync } from 'fastify'
import { VigilError } from '@vigil/core'
import type { KillSwitchStore } from './seams.js'
import { badRequest, beforeParam, cursorTime, limitParam, operatorActor, page, readListQuery, reasonBody, timeParam, type ListCursor } from './list-query.js'

const STATUSES = ['tripped', 'reset'] as const

export function killswitchesRoutes(deps: { killswitches: KillSwitchStore; cursors: ListCursor }): FastifyPluginAsync {
  const { killswitches, cursors } = deps
  return async (app) => {
    app.get('/v1/killswitches', { config: { permission: 'killswitches:read' } }, async (req) => {
      const q = readListQuery(req.query, ['status'])
      if (q.status !== undefined && !(STATUSES as readonly string[]).includes(q.status)) throw badRequest('status must be tripped or reset')
      const limit = limitParam(q.limit)
      const before = beforeParam(cursors, 'killswitches', q.cursor)
      const fromMs = timeParam('from', q.from)
      const toMs = timeParam('to', q.to)
      const rows = await killswitches.list({
        ...(q.status !== undefined ? { status: q.status as (typeof STATUSES)[number] } : {}),
        ...(fromMs !== undefined ? { fromMs } : {}),
        ...(toMs !== undefined ? { toMs } : {}),
        ...(before ? { before } : {}),
        limit: limit + 1,
      })
      return page(rows, limit, 'killswitches', cursors, (s) => [cursorTime(s.tripped_at), s.id])
    })

    app.get('/v1/killswitches/:id', { config: { permission: 'killswitches:read' } }, async (req) => {
      const { id } = req.params as { id: string }
      const sw = await killswitches.get(id)
      if (!sw) throw new VigilError('VIGIL_ERR_KILLSWITCH_NOT_FOUND')
      return sw
    })

    app.post('/v1/killswitches', { config: { permission: 'killswitches:write' } }, async (req, reply) => {
      const actor = operatorActor(req)
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
      const actor = operatorActor(req)
      const { reason } = reasonBody(req.body)
      const r = await killswitches.requestReset(id, { reason: reason as string, actor })
      if (r.outcome === 'requested') return reply.code(202).send({ status: 'reset_requested', killswitch: r.killswitch })
      return reply.code(200).send(r.killswitch)
    })
  }
}
