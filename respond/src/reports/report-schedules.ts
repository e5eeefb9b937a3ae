/**
 * Scheduled reports: `rules/reports/schedules.yaml` (or another file) lists reports to
 * compile every day, month or year; `vigil up` keeps one BullMQ job scheduler per entry on
 * the `respond-reports` queue (UTC cron), and removes the schedulers of entries no longer
 * listed. Each run compiles the whole previous UTC day, calendar month or calendar year,
 * stores it (audited as report.compile, origin `schedule:<id>:<period start>`) and emails it
 * when the entry says so.
 *
 * Once per period: the report compiled for (schedule, period) is recorded under that key
 * (effect-record.ts), so a job run twice (a retry, two processes) stores and mails it once.
 * dora-incident is about one incident and cannot be scheduled.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Type, type Static } from '@sinclair/typebox'
import AjvModule from 'ajv'
import { Queue, Worker, type Job } from 'bullmq'
import { parse as parseYaml } from 'yaml'
import { VigilError, type VigilConfig } from '@vigil/core'
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { claimEffect, readEffect, recordEffect, releaseEffect } from '../actions/effect-record.js'
import { checkReportRequest } from './compile.js'
import { REPORT_FORMATS, REPORT_TYPES, type ReportPeriod } from './report.js'
import { emailReport } from './report-delivery.js'
import type { ReportStore, StoredReport } from './report-store.js'

const Ajv = AjvModule as unknown as typeof AjvModule.default

export const REPORTS_QUEUE = 'respond-reports'
export const DEFAULT_REPORT_SCHEDULES_FILE = fileURLToPath(new URL('../../../rules/reports/schedules.yaml', import.meta.url))
export const SCHEDULE_EVERY = ['daily', 'monthly', 'annual'] as const
export type ScheduleEvery = (typeof SCHEDULE_EVERY)[number]

/** UTC cron of each cadence: a few minutes past the period's end. */
export const SCHEDULE_PATTERNS: Record<ScheduleEvery, string> = { daily: '5 0 * * *', monthly: '15 0 1 * *', annual: '30 0 1 1 *' }

const EMAIL = '^[^\\s@<>,;"]{1,64}@[^\\s@<>,;"]{1,255}$'
const ReportScheduleSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,63}$' }),
    report: Type.Union(REPORT_TYPES.filter((t) => t !== 'dora-incident').map((t) => Type.Literal(t))),
    every: Type.Union(SCHEDULE_EVERY.map((e) => Type.Literal(e))),
    format: Type.Optional(Type.Union(REPORT_FORMATS.map((f) => Type.Literal(f)))),
    email: Type.Optional(Type.Union([Type.Boolean(), Type.Array(Type.String({ pattern: EMAIL, maxLength: 320 }), { minItems: 1, maxItems: 20 })])),
  },
  { additionalProperties: false },
)
export const ReportSchedulesFile = Type.Object({ schedules: Type.Array(ReportScheduleSchema, { maxItems: 100 }) }, { additionalProperties: false })
export type ReportSchedule = Static<typeof ReportScheduleSchema>

/** Reads and validates a schedules file; a bad file stops start-up with one line naming what is wrong. */
export function loadReportSchedules(file: string = DEFAULT_REPORT_SCHEDULES_FILE): ReportSchedule[] {
  let doc: unknown
  try {
    doc = parseYaml(readFileSync(file, 'utf8'))
  } catch (err) {
    throw new VigilError('VIGIL_ERR_CONFIG_INVALID', `report schedules ${file}: ${(err as Error).message.split('\n')[0]}`)
  }
  const validate = new Ajv({ allErrors: false, strict: false }).compile(ReportSchedulesFile)
  if (!validate(doc)) {
    const e = validate.errors?.[0]
    throw new VigilError('VIGIL_ERR_CONFIG_INVALID', `report schedules ${file}: ${e?.instancePath || '/'} ${e?.message ?? 'is not valid'}`)
  }
  const schedules = (doc as Static<typeof ReportSchedulesFile>).schedules
  const seen = new Set<string>()
  for (const s of schedules) {
    if (seen.has(s.id)) throw new VigilError('VIGIL_ERR_CONFIG_INVALID', `report schedules ${file}: id ${s.id} appears twice`)
    seen.add(s.id)
  }
  return schedules
}

/** The whole UTC day, calendar month or calendar year before the one `nowMs` falls in. */
export function previousPeriod(every: ScheduleEvery, nowMs: number): ReportPeriod {
  const d = new Date(nowMs)
  const y = d.getUTCFullYear()
  const m = d.getUTCMonth()
  let from: number
  let to: number
  if (every === 'daily') {
    to = Date.UTC(y, m, d.getUTCDate())
    from = to - 86_400_000
  } else if (every === 'monthly') {
    to = Date.UTC(y, m, 1)
    from = Date.UTC(y, m - 1, 1)
  } else {
    to = Date.UTC(y, 0, 1)
    from = Date.UTC(y - 1, 0, 1)
  }
  return { from: new Date(from).toISOString(), to: new Date(to).toISOString() }
}

export interface ReportSchedulesDeps {
  config: VigilConfig
  redis: Redis
  logger: Logger
  reports: ReportStore
  schedules: readonly ReportSchedule[]
  /** BullMQ key prefix. @defaultValue 'vigil' */
  prefix?: string
}

export interface ReportSchedules {
  /** Compiles (once) the report of one schedule for the period before `nowMs`: what each job does. */
  runOnce(id: string, nowMs?: number): Promise<{ report: StoredReport; compiled: boolean; emailed: boolean }>
  close(): Promise<void>
}

interface ScheduleJob {
  id: string
}

export async function startReportSchedules(deps: ReportSchedulesDeps): Promise<ReportSchedules> {
  const { redis, reports, config } = deps
  const byId = new Map(deps.schedules.map((s) => [s.id, s]))
  const connection = redis.duplicate({ maxRetriesPerRequest: null })
  const prefix = deps.prefix ?? 'vigil'
  const queue = new Queue<ScheduleJob>(REPORTS_QUEUE, { connection, prefix })

  async function runOnce(id: string, nowMs: number = Date.now()) {
    const s = byId.get(id)
    if (!s) throw new VigilError('VIGIL_ERR_CONFIG_INVALID', `no report schedule ${id}`)
    const period = previousPeriod(s.every, nowMs)
    const onceKey = `schedule:${s.id}:${period.from}`
    let reportId = (await readEffect(redis, 'report', onceKey))?.result.report_id as string | undefined
    let compiled = false
    if (!reportId) {
      const claim = await claimEffect(redis, 'report', onceKey, 10 * 60_000)
      if (claim.kind === 'busy') throw new Error(`report schedule ${id} is being compiled by another worker`)
      if (claim.kind === 'done') reportId = String(claim.record.result.report_id)
      else {
        try {
          const { report } = await reports.create(checkReportRequest({ type: s.report, ...period }), s.format ?? 'pdf', `schedule:${s.id}`, { origin: onceKey })
          reportId = report.id
          compiled = true
          await recordEffect(redis, 'report', onceKey, { report_id: report.id })
        } catch (err) {
          await releaseEffect(redis, 'report', onceKey, claim.token).catch(() => {})
          throw err
        }
      }
    }
    const report = await reports.get(reportId)
    if (!report) throw new Error(`report ${reportId} of schedule ${id} is recorded but not stored`)
    const to = s.email === true ? config.emailTo : Array.isArray(s.email) ? s.email : []
    const emailed = to.length > 0 ? (await emailReport({ config, redis, report, bytes: reports.read(report), to, onceKey })).sent : false
    return { report, compiled, emailed }
  }

  const worker = new Worker<ScheduleJob>(
    REPORTS_QUEUE,
    async (job: Job<ScheduleJob>) => {
      const r = await runOnce(job.data.id)
      deps.logger.info({ schedule: job.data.id, report: r.report.id, compiled: r.compiled, emailed: r.emailed }, 'scheduled report')
      return { report_id: r.report.id }
    },
    { connection, prefix, concurrency: 1 },
  )
  worker.on('error', (err) => deps.logger.warn({ err: err.message }, 'report schedule worker error'))

  // The file is the truth: schedulers of entries removed from it go.
  for (const existing of await queue.getJobSchedulers(0, -1)) {
    const key = existing.key ?? existing.id
    if (typeof key === 'string' && !byId.has(key)) await queue.removeJobScheduler(key)
  }
  for (const s of deps.schedules) {
    await queue.upsertJobScheduler(
      s.id,
      { pattern: SCHEDULE_PATTERNS[s.every], tz: 'UTC' },
      { name: 'report', data: { id: s.id }, opts: { attempts: 5, backoff: { type: 'exponential', delay: 60_000 }, removeOnComplete: 100, removeOnFail: 100 } },
    )
  }

  return {
    runOnce,
    async close() {
      await worker.close()
      await queue.close()
      connection.disconnect()
    },
  }
}
