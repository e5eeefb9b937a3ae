/**
 * Stored reports: compile, render, write the file under `<data dir>/reports/` and index it in
 * the `reports` table (respond migration 004), with the compilation appended to the audit
 * chain (`report.compile`, naming the type, period, format and both hashes).
 *
 * Relied on by: the `/v1/reports` routes, `vigil reports generate`, the `compile_report`
 * playbook step and the scheduled reports. A download re-hashes the file and refuses one that
 * no longer matches the SHA-256 recorded when it was written.
 */
import { mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs'
import path from 'node:path'
import { VigilError, type Store } from '@vigil/core'
import type { AuditLog } from '../seams.js'
import { chToIso, dateToCh, msToCh, windowConditions, type ListWindow } from '../clickhouse-time.js'
import { compileReport, type ReportRequest } from './compile.js'
import { renderReport } from './render.js'
import { sha256Hex, type CompiledReport, type ReportDeps, type ReportFormat, type ReportParameters, type ReportPeriod, type ReportType } from './report.js'

export const REPORT_ID = /^rpt_[0-9a-f]{24}$/

export interface StoredReport {
  id: string
  type: ReportType
  period: ReportPeriod
  parameters: ReportParameters
  format: ReportFormat
  /** SHA-256 of the file's bytes. */
  sha256: string
  /** The report's content hash (the same in every format). */
  content_sha256: string
  size: number
  created_by: string
  created_at: string
}

export interface CreateReportOptions {
  /** @defaultValue now */
  generatedAt?: Date
  /** What asked for it beyond the actor (a playbook step's idempotency key, a schedule), kept in the audit entry. */
  origin?: string
}

export interface ReportListFilter extends ListWindow {
  type?: ReportType
  limit: number
}

export interface ReportStore {
  /** Compiles, renders, stores and audits one report. */
  create(req: ReportRequest, format: ReportFormat, createdBy: string, opts?: CreateReportOptions): Promise<{ report: StoredReport; compiled: CompiledReport; file: string }>
  get(id: string): Promise<StoredReport | undefined>
  /** The file's bytes, checked against its recorded SHA-256. */
  read(report: StoredReport): Buffer
  /** Newest first. */
  list(filter: ReportListFilter): Promise<StoredReport[]>
  /** Where a report's file lives. */
  fileOf(report: Pick<StoredReport, 'id' | 'format'>): string
}

export interface ReportStoreOptions {
  store: Store
  /** VIGIL_DATA_DIR: files go to `<dataDir>/reports/`. */
  dataDir: string
  audit: AuditLog
  /** What compilers read besides the store (audit chain, clock limits, controls). */
  deps(): Promise<Omit<ReportDeps, 'store'>> | Omit<ReportDeps, 'store'>
}

const COLUMNS = ['id', 'type', 'period_from', 'period_to', 'parameters', 'format', 'sha256', 'content_sha256', 'size', 'created_by', 'created_at'] as const

interface Row {
  id: string
  type: string
  from_text: string
  to_text: string
  parameters: string
  format: string
  sha256: string
  content_sha256: string
  size_text: string
  created_by: string
  created_text: string
}

// Aliases differ from the column names, so WHERE and ORDER BY still read the DateTime64 columns.
const SELECT = `SELECT id, type, toString(period_from) AS from_text, toString(period_to) AS to_text, parameters, format, sha256, content_sha256,
  toString(size) AS size_text, created_by, toString(created_at) AS created_text FROM reports`

const chMsToIso = (t: string) => new Date(Date.parse(`${t.replace(' ', 'T')}Z`)).toISOString()

function toReport(r: Row): StoredReport {
  let parameters: ReportParameters = {}
  try {
    parameters = JSON.parse(r.parameters) as ReportParameters
  } catch {
    parameters = {}
  }
  return {
    id: r.id,
    type: r.type as ReportType,
    period: { from: chMsToIso(r.from_text), to: chMsToIso(r.to_text) },
    parameters,
    format: r.format as ReportFormat,
    sha256: r.sha256,
    content_sha256: r.content_sha256,
    size: Number(r.size_text),
    created_by: r.created_by,
    created_at: chToIso(r.created_text),
  }
}

/** `2fa5e37bed96…` → `2fa5e37b ed96c383 …`, as the audit chain records a report's hashes. */
export function groupedHex(hex: string): string {
  return hex.replace(/(.{8})(?=.)/g, '$1 ')
}

export function createReportStore(opts: ReportStoreOptions): ReportStore {
  const { store, audit } = opts
  const dir = path.join(opts.dataDir, 'reports')
  const fileOf = (r: Pick<StoredReport, 'id' | 'format'>) => path.join(dir, `${r.id}.${r.format}`)

  async function create(req: ReportRequest, format: ReportFormat, createdBy: string, o: CreateReportOptions = {}) {
    const extra = await opts.deps()
    const generatedAt = o.generatedAt ?? new Date()
    const compiled = await compileReport(req, { ...extra, store }, { generatedAt })
    const bytes = await renderReport(compiled, format)
    const report: StoredReport = {
      id: compiled.id,
      type: req.type,
      period: req.period,
      parameters: req.parameters,
      format,
      sha256: sha256Hex(bytes),
      content_sha256: compiled.content_sha256,
      size: bytes.length,
      created_by: createdBy,
      created_at: chToIso(dateToCh(generatedAt)),
    }
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const file = fileOf(report)
    // Written whole, then renamed: a download never sees half a file.
    const tmp = `${file}.tmp`
    writeFileSync(tmp, bytes, { mode: 0o600 })
    renameSync(tmp, file)
    await store.insertNdjson(
      'reports',
      COLUMNS,
      `${JSON.stringify({
        id: report.id,
        type: report.type,
        period_from: msToCh(Date.parse(report.period.from)),
        period_to: msToCh(Date.parse(report.period.to)),
        parameters: JSON.stringify(report.parameters),
        format,
        sha256: report.sha256,
        content_sha256: report.content_sha256,
        size: report.size,
        created_by: createdBy,
        created_at: dateToCh(generatedAt),
      })}\n`,
    )
    await audit.append({
      actor: createdBy,
      action: 'report.compile',
      subject: report.id,
      // Hashes in groups of 8 hex digits: the chain masks anything shaped like a secret, and a
      // 64-digit hex run is; grouped, the evidence survives and still reads as the hash.
      detail: { type: report.type, period: report.period, parameters: report.parameters, format, sha256: groupedHex(report.sha256), content_sha256: groupedHex(report.content_sha256), size: report.size, ...(o.origin ? { origin: o.origin } : {}) },
    })
    return { report, compiled, file }
  }

  async function get(id: string): Promise<StoredReport | undefined> {
    if (!REPORT_ID.test(id)) return undefined
    const rows = await store.query<Row>(`${SELECT} WHERE id = {id:String} LIMIT 1`, { id })
    return rows[0] ? toReport(rows[0]) : undefined
  }

  function read(report: StoredReport): Buffer {
    let bytes: Buffer
    try {
      bytes = readFileSync(fileOf(report))
    } catch {
      throw new VigilError('VIGIL_ERR_REPORT_NOT_FOUND', 'its file is missing from the data directory')
    }
    if (sha256Hex(bytes) !== report.sha256) throw new VigilError('VIGIL_ERR_REPORT_INTEGRITY')
    return bytes
  }

  async function list(f: ReportListFilter): Promise<StoredReport[]> {
    const { conditions, params } = windowConditions(f, { time: 'created_at', id: 'id' }, (p) => `toDateTime64(${p}, 6, 'UTC')`)
    if (f.type) {
      conditions.push('type = {type:String}')
      params.type = f.type
    }
    params.n = f.limit
    const rows = await store.query<Row>(`${SELECT} ${conditions.length ? `WHERE ${conditions.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT {n:UInt32}`, params)
    return rows.map(toReport)
  }

  return { create, get, read, list, fileOf }
}
