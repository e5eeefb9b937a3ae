/**
 * A compiled report as a file: JSON (the report object as is, `content_sha256` included),
 * CSV (RFC 4180: a header block, then each section's facts and table) and PDF
 * (render-pdf.ts). Each renderer is a pure function of the report, so the same report gives
 * the same bytes.
 */
import type { Cell, CompiledReport, ReportFormat } from './report.js'
import { renderPdf } from './render-pdf.js'

export const REPORT_CONTENT_TYPES: Record<ReportFormat, string> = {
  pdf: 'application/pdf',
  json: 'application/json; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
}

export function renderJson(report: CompiledReport): Buffer {
  return Buffer.from(`${JSON.stringify(report, null, 2)}\n`, 'utf8')
}

function csvCell(v: Cell): string {
  if (v === null) return ''
  const s = String(v)
  // A leading =, +, - or @ would be read as a formula by a spreadsheet: quote it behind a '.
  const safe = /^[=+\-@\t\r]/.test(s) && typeof v === 'string' ? `'${s}` : s
  return /[",\r\n]/.test(safe) || safe !== s ? `"${safe.replace(/"/g, '""')}"` : safe
}

const line = (cells: Cell[]) => `${cells.map(csvCell).join(',')}\r\n`

export function renderCsv(report: CompiledReport): Buffer {
  let out = ''
  out += line(['report_id', report.id])
  out += line(['type', report.type])
  out += line(['title', report.title])
  out += line(['period_from', report.period.from])
  out += line(['period_to', report.period.to])
  if (report.parameters.incident_id !== undefined) out += line(['incident_id', report.parameters.incident_id])
  out += line(['generated_at', report.generated_at])
  out += line(['regulation', report.regulation.join('; ')])
  out += line(['content_sha256', report.content_sha256])
  for (const s of report.sections) {
    out += '\r\n'
    out += line([`# ${s.title}`])
    for (const t of s.text ?? []) out += line([t])
    for (const [k, v] of s.facts ?? []) out += line([k, v])
    if (s.table) {
      out += line(s.table.columns)
      for (const r of s.table.rows) out += line(r)
    }
  }
  if (report.not_recorded.length > 0) {
    out += '\r\n'
    out += line(['# Not recorded'])
    out += line(['field', 'why'])
    for (const n of report.not_recorded) out += line([n.field, n.why])
  }
  out += '\r\n'
  out += line(['# Queries'])
  out += line(['name', 'sql'])
  for (const q of report.queries) out += line([q.name, q.sql])
  return Buffer.from(out, 'utf8')
}

export async function renderReport(report: CompiledReport, format: ReportFormat): Promise<Buffer> {
  if (format === 'json') return renderJson(report)
  if (format === 'csv') return renderCsv(report)
  return renderPdf(report)
}
