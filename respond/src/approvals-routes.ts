/**
 * `/v1/approvals`: the pending approval requests of `require_approval` steps, and a person's
 * decision. Reading needs incidents:read (an approval is part of an incident's story);
 * deciding needs approvals:write. The server enforces the permission each route declares.
 */
import type { FastifyPluginAsync } from 'fastify'
import { VigilError } from '@vigil/core'
import { APPROVAL_DECISIONS, APPROVAL_STATUSES, type ApprovalDecision, type ApprovalStatus, type Approvals } from './approvals.js'
import { badRequest, beforeParam, cursorTime, limitParam, objectBody, operatorActor, page, readListQuery, timeParam, type ListCursor } from './list-query.js'

export function approvalsRoutes(deps: { approvals: Approvals; cursors: ListCursor }): FastifyPluginAsync {
  const { approvals, cursors } = deps
  return async (app) => {
    app.get('/v1/approvals', { config: { permission: 'incidents:read' } }, async (req) => {
      const q = readListQuery(req.query, ['status'])
      const status = q.status ?? 'pending'
      if (!(APPROVAL_STATUSES as readonly string[]).includes(status)) throw badRequest(`status must be one of ${APPROVAL_STATUSES.join(', ')}`)
      const limit = limitParam(q.limit)
      const before = beforeParam(cursors, 'approvals', q.cursor)
      const fromMs = timeParam('from', q.from)
      const toMs = timeParam('to', q.to)
      const rows = await approvals.list({
        status: status as ApprovalStatus,
        ...(fromMs !== undefined ? { fromMs } : {}),
        ...(toMs !== undefined ? { toMs } : {}),
        ...(before ? { before } : {}),
        limit: limit + 1,
      })
      return page(rows, limit, 'approvals', cursors, (a) => [cursorTime(a.requested_at), a.id])
    })

    app.get('/v1/approvals/:id', { config: { permission: 'incidents:read' } }, async (req) => {
      const { id } = req.params as { id: string }
      const approval = await approvals.get(id)
      if (!approval) throw new VigilError('VIGIL_ERR_APPROVAL_NOT_FOUND')
      return approval
    })

    app.post('/v1/approvals/:id', { config: { permission: 'approvals:write' } }, async (req) => {
      const { id } = req.params as { id: string }
      const body = objectBody(req.body, ['decision', 'note'], '{"decision": "approve"|"reject", "note": …}')
      if (typeof body.decision !== 'string' || !(APPROVAL_DECISIONS as readonly string[]).includes(body.decision)) {
        throw badRequest(`decision must be one of ${APPROVAL_DECISIONS.join(', ')}`)
      }
      if (body.note !== undefined && (typeof body.note !== 'string' || body.note.length > 1000)) throw badRequest('note must be a string of at most 1000 characters')
      const actor = operatorActor(req)
      return approvals.decide(id, { decision: body.decision as ApprovalDecision, actor, ...(body.note !== undefined ? { note: body.note } : {}) })
    })
  }
}
