import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Queue } from 'bullmq'
import { loadConfig } from '@vigil/core'
import { pino } from 'pino'
import { startRespondHarness, type RespondHarness } from '../test-support.js'
import { createAuditLog, type AuditLogStore } from '../audit-log.js'
import { startSmtpSink, type SmtpSink } from '../testing/smtp-sink.js'
import { createReportStore } from './report-store.js'
import { DEFAULT_REPORT_SCHEDULES_FILE, loadReportSchedules, previousPeriod, REPORTS_QUEUE, startReportSchedules } from './report-schedules.js'

describe('previousPeriod', () => {
  it('is the whole previous UTC day, calendar month or year, across month and year ends', () => {
    const at = (iso: string) => Date.parse(iso)
    expect(previousPeriod('daily', at('2026-03-01T00:05:00Z'))).toEqual({ from: '2026-02-28T00:00:00.000Z', to: '2026-03-01T00:00:00.000Z' })
    expect(previousPeriod('daily', at('2028-03-01T00:05:00Z'))).toEqual({ from: '2028-02-29T00:00:00.000Z', to: '2028-03-01T00:00:00.000Z' })
    expect(previousPeriod('monthly', at('2026-01-01T00:15:00Z'))).toEqual({ from: '2025-12-01T00:00:00.000Z', to: '2026-01-01T00:00:00.000Z' })
    expect(previousPeriod('monthly', at('2026-03-17T13:00:00Z'))).toEqual({ from: '2026-02-01T00:00:00.000Z', to: '2026-03-01T00:00:00.000Z' })
    expect(previousPeriod('annual', at('2027-01-01T00:30:00Z'))).toEqual({ from: '2026-01-01T00:00:00.000Z', to: '2027-01-01T00:00:00.000Z' })
  })
})

describe('loadReportSchedules', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-schedules-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const write = (name: string, text: string) => {
    const f = path.join(dir, name)
    writeFileSync(f, text)
    return f
  }

  it('reads the shipped file', () => {
    const s = loadReportSchedules(DEFAULT_REPORT_SCHEDULES_FILE)
    expect(s.map((x) => x.id)).toContain('annual-market-access-review')
    expect(s.every((x) => ['daily', 'monthly', 'annual'].includes(x.every))).toBe(true)
  })

  it('refuses a bad file with one config_invalid line', () => {
    const bad = [
      'schedules:\n  - { id: a, report: dora-incident, every: daily }\n',
      'schedules:\n  - { id: a, report: alert-latency, every: weekly }\n',
      'schedules:\n  - { id: a, report: alert-latency, every: daily }\n  - { id: a, report: clock-sync, every: daily }\n',
      'schedules:\n  - { id: a, report: alert-latency, every: daily, email: [nobody] }\n',
      'schedules: [\n',
    ]
    bad.forEach((text, i) => expect(() => loadReportSchedules(write(`bad${i}.yaml`, text)), text).toThrow(expect.objectContaining({ code: 'config_invalid' })))
  })
})

describe('startReportSchedules', () => {
  let h: RespondHarness
  let audit: AuditLogStore
  let sink: SmtpSink
  beforeAll(async () => {
    h = await startRespondHarness()
    audit = createAuditLog({ store: h.store, redis: h.redis, keyPrefix: `${h.prefix}:` })
    sink = await startSmtpSink()
  })
  afterAll(async () => {
    await sink?.close()
    await audit?.idle()
    await h?.close()
  })

  it('keeps one UTC job scheduler per entry, compiles each period once and emails it once', async () => {
    const config = loadConfig({ VIGIL_DATA_DIR: h.dir, REDIS_URL: process.env.REDIS_URL ?? '', VIGIL_LOG_LEVEL: 'silent', SMTP_URL: sink.url, EMAIL_FROM: 'vigil@reports.example.test', EMAIL_TO: 'auditor@example.test' }, { cwd: h.dir })
    const reports = createReportStore({ store: h.store, dataDir: h.dir, audit, deps: () => ({ audit }) })
    const logger = pino({ level: 'silent' })
    const schedules = [
      { id: 'monthly-ks', report: 'kill-switch-log' as const, every: 'monthly' as const, format: 'csv' as const, email: true },
      { id: 'daily-audit', report: 'audit-integrity' as const, every: 'daily' as const },
    ]
    const running = await startReportSchedules({ config, redis: h.redis, logger, reports, schedules, prefix: h.prefix })
    const queueConnection = h.redis.duplicate({ maxRetriesPerRequest: null })
    const queue = new Queue(REPORTS_QUEUE, { connection: queueConnection, prefix: h.prefix })
    try {
      const ids = (await queue.getJobSchedulers(0, -1)).map((j) => [j.key, j.pattern, j.tz]).sort()
      expect(ids).toEqual([
        ['daily-audit', '5 0 * * *', 'UTC'],
        ['monthly-ks', '15 0 1 * *', 'UTC'],
      ])
      const now = Date.parse('2026-12-01T00:15:00Z')
      const first = await running.runOnce('monthly-ks', now)
      expect(first).toMatchObject({ compiled: true, emailed: true, report: { type: 'kill-switch-log', format: 'csv', created_by: 'schedule:monthly-ks', period: { from: '2026-11-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z' } } })
      const again = await running.runOnce('monthly-ks', now + 60_000)
      expect(again).toMatchObject({ compiled: false, emailed: false })
      expect(again.report.id).toBe(first.report.id)
      await sink.waitFor(1)
      expect(sink.messages).toHaveLength(1)
      expect(sink.messages[0]?.envelope.to).toEqual(['auditor@example.test'])
      // The next month is a new period.
      const next = await running.runOnce('monthly-ks', Date.parse('2027-01-01T00:15:00Z'))
      expect(next.compiled).toBe(true)
      expect(next.report.period).toEqual({ from: '2026-12-01T00:00:00.000Z', to: '2027-01-01T00:00:00.000Z' })
      await audit.idle()
      expect((await audit.list({ action: 'report.compile', actor: 'schedule:monthly-ks', limit: 10 })).length).toBe(2)
    } finally {
      await running.close()
    }
    // An entry dropped from the file loses its scheduler at the next start.
    const again = await startReportSchedules({ config, redis: h.redis, logger, reports, schedules: schedules.slice(1), prefix: h.prefix })
    try {
      expect((await queue.getJobSchedulers(0, -1)).map((j) => j.key)).toEqual(['daily-audit'])
    } finally {
      await again.close()
      await queue.close()
      queueConnection.disconnect()
    }
  })
})
