/**
 * `/v1/respond/dlq`: dead-lettered playbook steps with their last error (masked), and a retry
 * that re-queues one with fresh attempts. Both need respond:admin.
 */
import type { FastifyPluginAsync } from 'fastify'
import { DEAD_LETTER_STATUSES, type DeadLetter, type DeadLetterStatus, type DeadLetters } from './dlq.js'
import { badRequest, beforeParam, cursorTime, limitParam, operatorActor, page, readListQuery, timeParam, type ListCursor } from './list-query.js'

export function dlqRoutes(deps: { deadLetters: DeadLetters; retry: (id: string, actor: string) => Promise<DeadLetter>; cursors: ListCursor }): FastifyPluginAsync {
  const { deadLetters, retry, cursors } = deps
  return async (app) => {
    app.get('/v1/respond/dlq', { config: { permission: 'respond:admin' } }, async (req) => {
      const q = readListQuery(req.query, ['status'])
      const status = q.status ?? 'dead'
      if (!(DEAD_LETTER_STATUSES as readonly string[]).includes(status)) throw badRequest(`status must be one of ${DEAD_LETTER_STATUSES.join(', ')}`)
      const limit = limitParam(q.limit)
      const before = beforeParam(cursors, 'respond-dlq', q.cursor)
      const fromMs = timeParam('from', q.from)
      const toMs = timeParam('to', q.to)
      const rows = await deadLetters.list({
        status: status as DeadLetterStatus,
        ...(fromMs !== undefined ? { fromMs } : {}),
        ...(toMs !== undefined ? { toMs } : {}),
        ...(before ? { before } : {}),
        limit: limit + 1,
      })
      return page(rows, limit, 'respond-dlq', cursors, (d) => [cursorTime(d.dead_at), d.id])
    })

    app.post('/v1/respond/dlq/:id/retry', { config: { permission: 'respond:admin' } }, async (req) => {
      const { id } = req.params as { id: string }
      const actor = operatorActor(req)
      return retry(id, actor)
    })
  }
}
