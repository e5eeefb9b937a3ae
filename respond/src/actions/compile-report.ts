/**
 * `compile_report`: a playbook step that compiles and stores a regulatory report (as
 * `POST /v1/reports` does, audited as `report.compile`) for the period ending when the step
 * runs, and optionally emails it. `dora-incident` takes the run's incident.
 *
 * Relied on by: playbooks (the params below). Idempotent under the step's key: the id of
 * the report compiled is recorded once it is stored (effect-record.ts), so a retried job
 * answers `already_done` with the same report, and a retry after a failed email sends the
 * stored report rather than compiling another.
 */
import { Type, type Static } from '@sinclair/typebox'
import { UnrecoverableError } from 'bullmq'
import { isVigilError } from '@vigil/core'
import type { Action, ActionResult } from '../action.js'
import { DURATION_PATTERN, parseDuration } from '../playbook-schema.js'
import { checkReportRequest } from '../reports/compile.js'
import { REPORT_FORMATS, REPORT_TYPES } from '../reports/report.js'
import { emailReport, missingEmailSetting } from '../reports/report-delivery.js'
import { claimEffect, readEffect, recordEffect, releaseEffect } from './effect-record.js'

const EMAIL = '^[^\\s@<>,;"]{1,64}@[^\\s@<>,;"]{1,255}$'

export const CompileReportParams = Type.Object(
  {
    report: Type.Union(
      REPORT_TYPES.map((t) => Type.Literal(t)),
      { description: 'The report type' },
    ),
    format: Type.Optional(Type.Union(REPORT_FORMATS.map((f) => Type.Literal(f)), { description: 'default pdf' })),
    period: Type.Optional(Type.String({ pattern: DURATION_PATTERN, maxLength: 64, description: 'How far back from the step\'s run the period starts; default 24h, at most 400d' })),
    email: Type.Optional(
      Type.Union([Type.Boolean(), Type.Array(Type.String({ pattern: EMAIL, maxLength: 320 }), { minItems: 1, maxItems: 20 })], {
        description: 'true: mail the report to EMAIL_TO; a list: to these recipients; default: no email',
      }),
    ),
  },
  { additionalProperties: false },
)
export type CompileReportParams = Static<typeof CompileReportParams>

export const compileReport: Action<typeof CompileReportParams> = {
  type: 'compile_report',
  description: 'Compile a regulatory report for the period ending now (stored, audited, downloadable) and optionally email it',
  params: CompileReportParams,
  destructive: false,
  async run(ctx, params, deps): Promise<ActionResult> {
    const reports = deps.reports
    if (!reports) throw new UnrecoverableError('compile_report needs the report store (run under vigil up)')
    const to = params.email === true ? deps.config.emailTo : Array.isArray(params.email) ? params.email : []
    if (params.email !== undefined && params.email !== false) {
      const missing = missingEmailSetting(deps.config, to)
      if (missing) throw new UnrecoverableError(`compile_report with email needs ${missing}`)
    }
    const format = params.format ?? 'pdf'
    const done = await readEffect(deps.redis, 'report', ctx.idempotencyKey)
    let reportId = typeof done?.result.report_id === 'string' ? done.result.report_id : undefined
    let compiledNow = false
    if (!reportId) {
      const claim = await claimEffect(deps.redis, 'report', ctx.idempotencyKey, 5 * 60_000)
      if (claim.kind === 'busy') throw new Error('another attempt of this step is compiling the report')
      if (claim.kind === 'done') reportId = String(claim.record.result.report_id)
      else {
        try {
          const toMs = Date.now()
          const fromMs = toMs - parseDuration(params.period ?? '24h')
          const incident = params.report === 'dora-incident' ? ctx.incident?.id : undefined
          if (params.report === 'dora-incident' && !incident) throw new UnrecoverableError('a dora-incident report needs the run\'s incident (open_incident first)')
          const request = checkReportRequest({ type: params.report, from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString(), ...(incident ? { incident_id: incident } : {}) })
          const { report } = await reports.create(request, format, ctx.actor, { origin: ctx.idempotencyKey })
          reportId = report.id
          compiledNow = true
          await recordEffect(deps.redis, 'report', ctx.idempotencyKey, { report_id: report.id })
        } catch (err) {
          await releaseEffect(deps.redis, 'report', ctx.idempotencyKey, claim.token).catch(() => {})
          // A request the report checks refuse (period too long …) will never succeed.
          if (isVigilError(err) && err.statusCode < 500) throw new UnrecoverableError(err.message)
          throw err
        }
      }
    }
    const stored = await reports.get(reportId)
    if (!stored) throw new UnrecoverableError(`report ${reportId} is recorded for this step but not stored`)
    let emailed = false
    if (to.length > 0) emailed = (await emailReport({ config: deps.config, redis: deps.redis, report: stored, bytes: reports.read(stored), to, onceKey: ctx.idempotencyKey })).sent
    return {
      outcome: compiledNow || emailed ? 'done' : 'already_done',
      summary: `${compiledNow ? 'compiled' : 'already compiled'} ${stored.type} report ${stored.id} (${stored.format})${to.length > 0 ? `, emailed to ${to.length} recipient(s)` : ''}`,
      detail: { report_id: stored.id, type: stored.type, format: stored.format, period: stored.period, emailed: to.length > 0 },
    }
  },
}
