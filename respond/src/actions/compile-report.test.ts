import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { loadConfig } from '@vigil/core'
import type { ActionContext, ActionDeps } from '../action.js'
import { conformanceRun, describeActionConformance } from './conformance.js'
import { compileReport } from './compile-report.js'
import { stateActionDeps, type StateActionDeps } from '../testing/state-action-deps.js'
import { startSmtpSink, type SmtpSink } from '../testing/smtp-sink.js'
import { createReportStore, type ReportStore } from '../reports/report-store.js'

function withReports(s: StateActionDeps, env: Record<string, string> = {}): { deps: ActionDeps; reports: ReportStore } {
  const reports = createReportStore({ store: s.harness.store, dataDir: s.harness.dir, audit: s.audit, deps: () => ({ audit: s.audit }) })
  const config = Object.keys(env).length ? loadConfig({ VIGIL_DATA_DIR: s.harness.dir, REDIS_URL: process.env.REDIS_URL ?? '', VIGIL_LOG_LEVEL: 'silent', ...env }, { cwd: s.harness.dir }) : s.deps.config
  return { deps: { ...s.deps, config, reports }, reports }
}

const ctxFor = (alert: ActionContext['alert'], idempotencyKey: string, attempt = 1, incident: ActionContext['incident'] = null): ActionContext => ({
  alert,
  incident,
  playbook: 'monthly_evidence',
  step: 1,
  idempotencyKey,
  attempt,
  actor: 'playbook:monthly_evidence',
  done: [],
})

describe('compile_report conformance', () => {
  let s: StateActionDeps
  describeActionConformance(compileReport, {
    async setup() {
      s = await stateActionDeps()
      return { deps: withReports(s).deps, logs: s.logs, close: () => s.close() }
    },
    params: () => ({ report: 'kill-switch-log', format: 'json', period: '1h' }),
    invalidParams: [{}, { report: 'weekly-fun' }, { report: 'kill-switch-log', format: 'docx' }, { report: 'kill-switch-log', period: 'soon' }, { report: 'kill-switch-log', email: ['not an address'] }, { report: 'kill-switch-log', extra: 1 }],
    context: (_deps, run) => ctxFor(run.alert, run.idempotencyKey, run.attempt),
    // Reports compiled for this step: the audit entries naming its idempotency key.
    observe: async (_deps, run) => {
      await s.audit.idle()
      const entries = await s.audit.list({ action: 'report.compile', limit: 1000 })
      return entries.filter((e) => e.detail.origin === run.idempotencyKey).length
    },
    failing: {
      params: () => ({ report: 'dora-incident' }),
      expect: /needs the run's incident/,
    },
  })
})

describe('compile_report', () => {
  let s: StateActionDeps
  let sink: SmtpSink
  beforeAll(async () => {
    s = await stateActionDeps()
    sink = await startSmtpSink()
  })
  afterAll(async () => {
    await sink?.close()
    await s?.close()
  })

  it('stores the report, audits it, and emails it once with the file attached', async () => {
    const { deps, reports } = withReports(s, { SMTP_URL: sink.url, EMAIL_FROM: 'vigil@reports.example.test', EMAIL_TO: 'compliance@example.test' })
    const run = conformanceRun()
    const first = await compileReport.run(ctxFor(run.alert, run.idempotencyKey), { report: 'kill-switch-log', format: 'csv', email: true }, deps)
    expect(first.outcome).toBe('done')
    const id = (first.detail as { report_id: string }).report_id
    const stored = await reports.get(id)
    expect(stored).toMatchObject({ type: 'kill-switch-log', format: 'csv', created_by: 'playbook:monthly_evidence' })
    expect(Date.parse(stored!.period.to) - Date.parse(stored!.period.from)).toBe(24 * 3_600_000)
    expect(existsSync(reports.fileOf(stored!))).toBe(true)
    const [mail] = await sink.waitFor(1)
    expect(mail?.envelope.to).toEqual(['compliance@example.test'])
    expect(mail?.subject).toMatch(/^\[Vigil report\] kill-switch-log /)
    expect(mail?.text).toContain(stored!.sha256)
    // The attachment is the stored file, byte for byte.
    const b64 = /Content-Disposition: attachment;[^\n]*\n(?:[^\n]+\n)*?\r?\n([A-Za-z0-9+/=\r\n]+)/i.exec(mail?.raw ?? '')?.[1] ?? ''
    expect(mail?.raw).toContain(`${id}-kill-switch-log.csv`)
    expect(createHash('sha256').update(Buffer.from(b64.replace(/\s+/g, ''), 'base64')).digest('hex')).toBe(createHash('sha256').update(readFileSync(reports.fileOf(stored!))).digest('hex'))
    // A retried job: the same report, no second compilation, no second email.
    const again = await compileReport.run(ctxFor(run.alert, run.idempotencyKey, 2), { report: 'kill-switch-log', format: 'csv', email: true }, deps)
    expect(again.outcome).toBe('already_done')
    expect((again.detail as { report_id: string }).report_id).toBe(id)
    expect(sink.messages).toHaveLength(1)
    await s.audit.idle()
    expect((await s.audit.list({ action: 'report.compile', subject: id, limit: 5 })).length).toBe(1)
  })

  it('a failed email is retried with the report already stored, not compiled again', async () => {
    const { deps, reports } = withReports(s, { SMTP_URL: sink.url, EMAIL_FROM: 'vigil@reports.example.test', EMAIL_TO: 'compliance@example.test' })
    const run = conformanceRun()
    const before = (await reports.list({ limit: 1000 })).length
    sink.refuseNext(1)
    await expect(compileReport.run(ctxFor(run.alert, run.idempotencyKey), { report: 'kill-switch-log', format: 'json', email: ['risk@example.test'] }, deps)).rejects.toThrow(/deferred the report \(451\)/)
    const retry = await compileReport.run(ctxFor(run.alert, run.idempotencyKey, 2), { report: 'kill-switch-log', format: 'json', email: ['risk@example.test'] }, deps)
    expect(retry.outcome).toBe('done')
    expect(retry.summary).toMatch(/^already compiled kill-switch-log report rpt_/)
    expect((await reports.list({ limit: 1000 })).length).toBe(before + 1)
  })

  it('fails unrecoverably without the report store, without email settings, or a dora report without an incident', async () => {
    const run = conformanceRun()
    await expect(compileReport.run(ctxFor(run.alert, run.idempotencyKey), { report: 'kill-switch-log' }, s.deps)).rejects.toMatchObject({ name: 'UnrecoverableError' })
    const { deps } = withReports(s)
    await expect(compileReport.run(ctxFor(run.alert, `${run.idempotencyKey}.m`), { report: 'kill-switch-log', email: true }, deps)).rejects.toThrow(/needs SMTP_URL/)
    await expect(compileReport.run(ctxFor(run.alert, `${run.idempotencyKey}.d`), { report: 'dora-incident' }, deps)).rejects.toMatchObject({ name: 'UnrecoverableError' })
  })
})
