/**
 * Compiling a report: checks the request (type, period, parameters) with stable error codes,
 * runs the type's compiler over the store, and stamps the id, generation time and content
 * hash (report.ts says what is hashed). Shared by the routes, the CLI and the playbook step.
 */
import { randomBytes } from 'node:crypto'
import { VigilError } from '@vigil/core'
import { REPORT_FORMATS, REPORT_TYPES, reportContentHash, type CompiledReport, type ReportCompiler, type ReportDeps, type ReportFormat, type ReportParameters, type ReportPeriod, type ReportType } from './report.js'
import { alertLatency } from './alert-latency.js'
import { killSwitchLog } from './kill-switch-log.js'
import { clockSync } from './clock-sync.js'
import { auditIntegrity } from './audit-integrity.js'
import { pretradeBreaches } from './pretrade-breaches.js'
import { doraIncident } from './dora-incident.js'
import { marketAccessReview } from './market-access-review.js'

/** The longest period one report covers: a year and a margin (the annual review). */
export const MAX_REPORT_PERIOD_DAYS = 400

const COMPILERS: Record<ReportType, ReportCompiler> = {
  'alert-latency': alertLatency,
  'kill-switch-log': killSwitchLog,
  'clock-sync': clockSync,
  'audit-integrity': auditIntegrity,
  'pretrade-breaches': pretradeBreaches,
  'dora-incident': doraIncident,
  'market-access-review': marketAccessReview,
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/
const INCIDENT_ID = /^[^\p{Cc}]{1,128}$/u

export function checkReportType(type: unknown): ReportType {
  if (typeof type !== 'string' || !(REPORT_TYPES as readonly string[]).includes(type)) {
    throw new VigilError('VIGIL_ERR_REPORT_UNKNOWN_TYPE', typeof type === 'string' ? `"${type.slice(0, 40)}"` : undefined)
  }
  return type as ReportType
}

export function checkReportFormat(format: unknown): ReportFormat {
  if (typeof format !== 'string' || !(REPORT_FORMATS as readonly string[]).includes(format)) throw new VigilError('VIGIL_ERR_REPORT_BAD_FORMAT')
  return format as ReportFormat
}

/** `from`/`to` as RFC 3339 (any offset) → the UTC period; refuses missing, malformed, empty and overlong periods. */
export function checkPeriod(from: unknown, to: unknown): ReportPeriod {
  const parse = (name: string, v: unknown): number => {
    if (v === undefined || v === null || v === '') throw new VigilError('VIGIL_ERR_REPORT_BAD_PERIOD', `${name} is required`)
    const ms = typeof v === 'string' && RFC3339.test(v) ? Date.parse(v) : NaN
    if (Number.isNaN(ms)) throw new VigilError('VIGIL_ERR_REPORT_BAD_PERIOD', `${name} must be an RFC 3339 time`)
    return ms
  }
  const fromMs = parse('from', from)
  const toMs = parse('to', to)
  if (toMs <= fromMs) throw new VigilError('VIGIL_ERR_REPORT_EMPTY_PERIOD')
  if (toMs - fromMs > MAX_REPORT_PERIOD_DAYS * 86_400_000) throw new VigilError('VIGIL_ERR_REPORT_PERIOD_TOO_LONG')
  return { from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString() }
}

export function checkParameters(type: ReportType, incidentId: unknown): ReportParameters {
  if (type !== 'dora-incident') return {}
  if (incidentId === undefined || incidentId === null || incidentId === '') throw new VigilError('VIGIL_ERR_REPORT_INCIDENT_REQUIRED')
  if (typeof incidentId !== 'string' || !INCIDENT_ID.test(incidentId)) throw new VigilError('VIGIL_ERR_INCIDENT_NOT_FOUND')
  return { incident_id: incidentId }
}

export interface ReportRequest {
  type: ReportType
  period: ReportPeriod
  parameters: ReportParameters
}

/** Checks a request as it comes from a route body, the CLI or a playbook step. */
export function checkReportRequest(raw: { type: unknown; from: unknown; to: unknown; incident_id?: unknown }): ReportRequest {
  const type = checkReportType(raw.type)
  const period = checkPeriod(raw.from, raw.to)
  return { type, period, parameters: checkParameters(type, raw.incident_id) }
}

/** `rpt_<24 hex>` */
export function newReportId(): string {
  return `rpt_${randomBytes(12).toString('hex')}`
}

export interface CompileOptions {
  /** @defaultValue a new `rpt_…` id */
  id?: string
  /** @defaultValue now */
  generatedAt?: Date
}

export async function compileReport(req: ReportRequest, deps: ReportDeps, opts: CompileOptions = {}): Promise<CompiledReport> {
  const body = await COMPILERS[req.type]({ period: req.period, parameters: req.parameters, deps })
  const content = {
    id: opts.id ?? newReportId(),
    type: req.type,
    title: body.title,
    regulation: body.regulation,
    period: req.period,
    parameters: req.parameters,
    generated_at: (opts.generatedAt ?? new Date()).toISOString(),
    data: body.data,
    sections: body.sections,
    queries: body.queries,
    not_recorded: body.not_recorded,
  }
  return { ...content, content_sha256: reportContentHash(content) }
}
