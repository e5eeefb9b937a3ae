/**
 * `/v1/audit` (audit:read): the platform's audit chain, newest first, and its verification —
 * what `vigil audit verify` and the `audit-integrity` report show, for an auditor with a token.
 */
import type { FastifyPluginAsync } from 'fastify'
import { VigilError } from '@vigil/core'
import type { AuditLogStore } from './audit-log.js'
import { limitParam, page, readListQuery, timeParam, type ListCursor } from './list-query.js'

export function auditRoutes(deps: { audit: AuditLogStore; cursors: ListCursor }): FastifyPluginAsync {
  const { audit, cursors } = deps
  return async (app) => {
    app.get('/v1/audit', { config: { permission: 'audit:read' } }, async (req) => {
      const q = readListQuery(req.query, ['actor', 'action', 'subject'])
      const limit = limitParam(q.limit)
      const before = q.cursor === undefined ? undefined : cursors.decode('audit', q.cursor, 1)
      const beforeSeq = before ? Number(before[0]) : undefined
      if (beforeSeq !== undefined && !Number.isSafeInteger(beforeSeq)) throw new VigilError('VIGIL_ERR_API_BAD_CURSOR')
      const fromMs = timeParam('from', q.from)
      const toMs = timeParam('to', q.to)
      const rows = await audit.list({
        ...(q.actor !== undefined ? { actor: q.actor } : {}),
        ...(q.action !== undefined ? { action: q.action } : {}),
        ...(q.subject !== undefined ? { subject: q.subject } : {}),
        ...(fromMs !== undefined ? { fromMs } : {}),
        ...(toMs !== undefined ? { toMs } : {}),
        ...(beforeSeq !== undefined ? { beforeSeq } : {}),
        limit: limit + 1,
      })
      return page(rows, limit, 'audit', cursors, (e) => [String(e.seq)])
    })

    app.get('/v1/audit/verify', { config: { permission: 'audit:read' } }, async () => audit.verify())
  }
}
