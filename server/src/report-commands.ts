/**
 * The admin operation behind `vigil reports generate` (CONTRACT §6): compiles and stores a
 * report exactly as `POST /v1/reports` does — in the running `vigil up` when there is one
 * (over its admin socket), else on the store the CLI opened, with the audit chain in Redis —
 * and answers where the stored file is, so the CLI can copy it to `--out`.
 */
import type { Redis } from 'ioredis'
import { VigilError, type Store } from '@vigil/core'
import { ACTIONS, checkReportFormat, checkReportRequest, createAuditLog, createReportStore, DEFAULT_PLAYBOOKS_DIR, loadPlaybooks, type Playbook, type ReportStore } from '@vigil/respond'
import { reportDepsFrom } from './report-wiring.js'
import { responseKeyPrefix } from './response-wiring.js'

/** What the operation needs of admin-commands.ts's AdminContext (kept apart: no import cycle). */
export interface ReportCommandContext {
  store: Store
  redis?: Redis
  dataDir?: string
  response?: () => { reports: ReportStore } | undefined
}

export interface GenerateReportInput {
  type: string
  from: string
  to: string
  format: string
  /** '' when the type takes none. */
  incident_id: string
  by: string
}

export interface GeneratedReport {
  id: string
  type: string
  format: string
  sha256: string
  content_sha256: string
  size: number
  /** The stored file, under the data dir's `reports/`. */
  file: string
}

async function offlineReports(ctx: ReportCommandContext): Promise<ReportStore> {
  if (!ctx.dataDir) throw new VigilError('VIGIL_ERR_API_UNAVAILABLE', 'no data directory to store the report in')
  if (!ctx.redis) throw new VigilError('VIGIL_ERR_REDIS_UNAVAILABLE', 'compiling a report is recorded in the audit chain, whose head is kept in Redis')
  const audit = createAuditLog({ store: ctx.store, redis: ctx.redis, keyPrefix: await responseKeyPrefix(ctx.store) })
  let playbooks: Playbook[] = []
  try {
    playbooks = loadPlaybooks(DEFAULT_PLAYBOOKS_DIR, ACTIONS)
  } catch {
    playbooks = []
  }
  const store = createReportStore({ store: ctx.store, dataDir: ctx.dataDir, audit, deps: reportDepsFrom({ audit, playbooks: () => playbooks }) })
  // The chain is group-committed: wait for the report.compile entry before the CLI exits.
  return { ...store, create: async (...args) => {
    const r = await store.create(...args)
    await audit.idle()
    return r
  } }
}

export async function generateReport(ctx: ReportCommandContext, input: GenerateReportInput): Promise<GeneratedReport> {
  const request = checkReportRequest({ type: input.type, from: input.from, to: input.to, ...(input.incident_id !== '' ? { incident_id: input.incident_id } : {}) })
  const format = checkReportFormat(input.format)
  const reports = ctx.response?.()?.reports ?? (await offlineReports(ctx))
  const { report, file } = await reports.create(request, format, input.by)
  return { id: report.id, type: report.type, format: report.format, sha256: report.sha256, content_sha256: report.content_sha256, size: report.size, file }
}
