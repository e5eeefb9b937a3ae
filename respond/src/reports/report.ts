/**
 * The report framework (CONTRACT §4 `/v1/reports`, §6 `vigil reports generate`): what every
 * report type produces and how it is identified.
 *
 * Relied on by: each report type (one module per type, a function of the period and the
 * store to typed data), the renderers (JSON, CSV, PDF), the stored reports and their routes,
 * the CLI and the `compile_report` playbook step.
 * - A report type answers a `ReportBody`: its typed `data` (what the JSON carries for a
 *   machine), the same numbers as `sections` (what CSV and PDF lay out for a person), every
 *   SQL statement it read (`queries`), and `not_recorded`: fields its regulation asks for
 *   that Vigil does not record yet, named rather than invented.
 * - `content_sha256` is the SHA-256 of the UTF-8 canonical JSON (object keys sorted at every
 *   depth, no whitespace) of the compiled report without `content_sha256` itself: id, type,
 *   title, regulation, period, parameters, generated_at, data, sections, queries,
 *   not_recorded. It is the same whichever format the report is rendered in; the JSON file
 *   carries it as a field, the PDF and CSV print it. `reportContentHash` recomputes it.
 * - Everything is a function of the stored data, the period, the parameters, the id and the
 *   generation time: compiling twice with the same id and time gives the same bytes.
 */
import { createHash } from 'node:crypto'
import type { Store } from '@vigil/core'
import type { AuditLog } from '../seams.js'
import { canonicalJson } from '../audit-log.js'
import type { ReportType } from './kinds.js'

export { REPORT_TYPES, REPORT_FORMATS } from './kinds.js'
export type { ReportType, ReportFormat } from './kinds.js'

/** A half-open period [from, to), both RFC 3339 UTC with milliseconds. */
export interface ReportPeriod {
  from: string
  to: string
}

export type Cell = string | number | boolean | null

export interface ReportTable {
  columns: string[]
  rows: Cell[][]
}

/** What CSV and PDF lay out: a heading, paragraphs, label/value facts and at most one table. */
export interface ReportSection {
  title: string
  text?: string[]
  facts?: Array<[string, Cell]>
  table?: ReportTable
  /** PDF: start the section on a new page (e.g. a certification page to sign). */
  new_page?: boolean
}

export interface ReportQuery {
  /** What the query gives, e.g. `alerts opened in the period`. */
  name: string
  sql: string
}

/** A field the regulation asks for that Vigil does not record (yet), and why. */
export interface NotRecorded {
  field: string
  why: string
}

export interface ReportBody<D = unknown> {
  title: string
  /** The articles the report is evidence for, e.g. `MiFID II RTS 6 Art. 16(5)`. */
  regulation: string[]
  data: D
  sections: ReportSection[]
  queries: ReportQuery[]
  not_recorded: NotRecorded[]
}

export interface ReportParameters {
  /** dora-incident only. */
  incident_id?: string
}

export interface CompiledReport<D = unknown> extends ReportBody<D> {
  id: string
  type: ReportType
  period: ReportPeriod
  parameters: ReportParameters
  /** RFC 3339 UTC. */
  generated_at: string
  content_sha256: string
}

/** Where the clock-sync report takes each source's limit from (the clock.skew rule). */
export interface ClockLimits {
  /** @defaultValue 250 (the rule's max_skew_ms) */
  defaultMs: number
  perSourceMs: Readonly<Record<string, number>>
  /** Where these came from, printed in the report, e.g. `rules/detections/clock_skew.yaml`. */
  origin: string
}

/** One active control for the market-access review: a rule or a playbook. */
export interface ControlInventoryItem {
  kind: 'rule' | 'playbook' | 'guard'
  id: string
  name: string
  /** Thresholds and settings as configured now, as text. */
  settings: string
  /** When its file says it last changed, if it says. */
  modified: string | null
}

export interface ReportDeps {
  store: Store
  /** The audit chain, verified by audit-integrity. Absent: the report says it could not verify. */
  audit?: Pick<AuditLog, 'verify'>
  /** Absent: every source is held to 250 ms, said as such in the report. */
  clockLimits?: ClockLimits
  /** The controls in force (rules, playbooks, guard settings), for market-access-review. */
  controls?: readonly ControlInventoryItem[]
}

export interface ReportContext {
  period: ReportPeriod
  parameters: ReportParameters
  deps: ReportDeps
}

export type ReportCompiler<D = unknown> = (ctx: ReportContext) => Promise<ReportBody<D>>

/** SHA-256 (hex) of the canonical JSON of everything in the report but this hash. */
export function reportContentHash(report: Omit<CompiledReport, 'content_sha256'> & { content_sha256?: string }): string {
  const { content_sha256: _ignored, ...content } = report
  return createHash('sha256').update(canonicalJson(content), 'utf8').digest('hex')
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex')
}
