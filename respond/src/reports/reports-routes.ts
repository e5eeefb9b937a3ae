/**
 * `/v1/reports` (CONTRACT §4): list stored reports (`from`, `to` on their creation time,
 * `type`, `limit`, a cursor; `{items, next}`), compile one (`{type, from, to, format}`, plus
 * `incident_id` for dora-incident) and download its file. `reports:read` lists and
 * downloads, `reports:write` compiles; the regulator role holds both and nothing else.
 * Bad input answers 400 with the report error codes (docs/errors.md), never a 500.
 */
import type { FastifyPluginAsync } from 'fastify'
import { VigilError } from '@vigil/core'
import { badRequest, beforeParam, cursorTime, limitParam, objectBody, operatorActor, page, readListQuery, timeParam, type ListCursor } from '../list-query.js'
import { checkReportFormat, checkReportRequest, checkReportType } from './compile.js'
import { REPORT_CONTENT_TYPES } from './render.js'
import type { ReportStore, StoredReport } from './report-store.js'

const withLink = (r: StoredReport) => ({ ...r, download: `/v1/reports/${r.id}/download` })

export function reportsRoutes(deps: { reports: ReportStore; cursors: ListCursor }): FastifyPluginAsync {
  const { reports, cursors } = deps
  return async (app) => {
    app.get('/v1/reports', { config: { permission: 'reports:read' } }, async (req) => {
      const q = readListQuery(req.query, ['type'])
      const type = q.type !== undefined ? checkReportType(q.type) : undefined
      const limit = limitParam(q.limit)
      const before = beforeParam(cursors, 'reports', q.cursor)
      const fromMs = timeParam('from', q.from)
      const toMs = timeParam('to', q.to)
      const rows = await reports.list({
        ...(type ? { type } : {}),
        ...(fromMs !== undefined ? { fromMs } : {}),
        ...(toMs !== undefined ? { toMs } : {}),
        ...(before ? { before } : {}),
        limit: limit + 1,
      })
      const p = page(rows, limit, 'reports', cursors, (r) => [cursorTime(r.created_at), r.id])
      return { items: p.items.map(withLink), next: p.next }
    })

    app.post('/v1/reports', { config: { permission: 'reports:write' } }, async (req, reply) => {
      const actor = operatorActor(req)
      if (req.body === undefined || req.body === null) throw badRequest('body must be {"type": …, "from": …, "to": …, "format": …}')
      const body = objectBody(req.body, ['type', 'from', 'to', 'format', 'incident_id'], '{"type": …, "from": …, "to": …, "format": …, "incident_id"?: …}')
      const request = checkReportRequest({ type: body.type, from: body.from, to: body.to, incident_id: body.incident_id })
      const format = checkReportFormat(body.format)
      const { report } = await reports.create(request, format, actor)
      return reply.code(201).send(withLink(report))
    })

    app.get('/v1/reports/:id', { config: { permission: 'reports:read' } }, async (req) => {
      const { id } = req.params as { id: string }
      const r = await reports.get(id)
      if (!r) throw new VigilError('VIGIL_ERR_REPORT_NOT_FOUND')
      return withLink(r)
    })

    app.get('/v1/reports/:id/download', { config: { permission: 'reports:read' } }, async (req, reply) => {
      const { id } = req.params as { id: string }
      const r = await reports.get(id)
      if (!r) throw new VigilError('VIGIL_ERR_REPORT_NOT_FOUND')
      const bytes = reports.read(r)
      return reply
        .header('content-type', REPORT_CONTENT_TYPES[r.format])
        .header('content-disposition', `attachment; filename="${r.id}-${r.type}.${r.format}"`)
        .header('vigil-report-sha256', r.sha256)
        .header('vigil-report-content-sha256', r.content_sha256)
        .header('cache-control', 'no-store')
        .send(bytes)
    })
  }
}
