/**
 * The playbook engine over real stores, for the engine's tests: the audit chain, the control
 * log, key states, kill-switches and incidents on the test's chDB and Redis, the local Slack
 * API server and SMTP sink as Slack and the mail server, an `alerts` queue to publish on, and
 * a signed list-cursor codec of the server's shape.
 *
 * Test support: import it by relative path from tests (it is not exported from index.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Queue } from 'bullmq'
import pino from 'pino'
import type { Redis } from 'ioredis'
import { loadConfig, type Alert, type Store, type VigilConfig } from '@vigil/core'
import { createAuditLog, type AuditLogStore } from '../audit-log.js'
import { createControlLog, type ControlLog } from '../control-log.js'
import { createKeyStateStore } from '../key-states.js'
import { createKillSwitchStore } from '../killswitches.js'
import { createIncidentStore } from '../incidents.js'
import type { IncidentStore, KeyStateStore, KillSwitchStore, TimelineEntry } from '../seams.js'
import { startResponse, type Response, type ResponseDeps } from '../engine.js'
import type { ListCursor } from '../list-query.js'
import { signedCursors } from './signed-cursors.js'
import { startSlackApiServer, type SlackApiServer } from './slack-api-server.js'
import { startSmtpSink, type SmtpSink } from './smtp-sink.js'

export interface EngineHarness {
  config: VigilConfig
  audit: AuditLogStore
  control: ControlLog
  keys: KeyStateStore
  killswitches: KillSwitchStore
  incidents: IncidentStore
  slack: SlackApiServer
  smtp: SmtpSink
  alerts: Queue
  response: Response
  cursors: ListCursor
  /** Publishes an alert as detect does (job id = alert id unless given). */
  publish(alert: Alert, jobId?: string): Promise<void>
  /** Polls `check` until it answers something truthy (or throws after `timeoutMs`). */
  waitFor<T>(check: () => Promise<T | undefined | null | false>, timeoutMs?: number): Promise<T>
  /** The timeline of the incident of a run, once the run has one. */
  timelineOf(runId: string): Promise<TimelineEntry[]>
  close(): Promise<void>
}

/** A folder holding these playbook files (`<id>.yaml` → text). */
export function playbookDir(files: Record<string, string>): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-pb-'))
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text)
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

export async function startEngineHarness(
  h: { store: Store; redis: Redis; prefix: string; dir: string },
  opts: { playbooksDir?: string; env?: Record<string, string> } & Partial<Pick<ResponseDeps, 'sendDigest' | 'digestPattern' | 'secrets'>> = {},
): Promise<EngineHarness> {
  const slack = await startSlackApiServer({ token: 'xoxb-test-token' })
  const smtp = await startSmtpSink()
  const config = loadConfig(
    {
      VIGIL_DATA_DIR: h.dir,
      REDIS_URL: process.env.REDIS_URL ?? '',
      VIGIL_LOG_LEVEL: 'silent',
      SLACK_TOKEN: 'xoxb-test-token',
      SLACK_CHANNEL: '#vigil-test',
      SLACK_API_URL: slack.apiUrl,
      SMTP_URL: smtp.url,
      EMAIL_FROM: 'vigil@example.test',
      EMAIL_TO: 'soc@example.test',
      ...(opts.env ?? {}),
    },
    { cwd: h.dir },
  )
  const keyPrefix = `${h.prefix}:`
  const cursors = signedCursors()
  const logger = pino({ level: 'silent' })
  const audit = createAuditLog({ store: h.store, redis: h.redis, keyPrefix })
  const control = createControlLog({ store: h.store, redis: h.redis, keyPrefix })
  const keys = createKeyStateStore({ store: h.store, control, audit })
  const killswitches = createKillSwitchStore({ store: h.store, control, audit })
  const incidents = createIncidentStore({ store: h.store, redis: h.redis, audit, keyPrefix })
  const response = await startResponse({
    config,
    store: h.store,
    redis: h.redis,
    logger,
    keys,
    killswitches,
    incidents,
    audit,
    control,
    cursors,
    queuePrefix: h.prefix,
    digestPattern: opts.digestPattern ?? null,
    ...(opts.playbooksDir ? { playbooksDir: opts.playbooksDir } : {}),
    ...(opts.sendDigest ? { sendDigest: opts.sendDigest } : {}),
    ...(opts.secrets ? { secrets: opts.secrets } : {}),
  })
  const connection = h.redis.duplicate({ maxRetriesPerRequest: null })
  const alerts = new Queue('alerts', { connection, prefix: h.prefix })

  async function waitFor<T>(check: () => Promise<T | undefined | null | false>, timeoutMs = 10_000): Promise<T> {
    const until = Date.now() + timeoutMs
    for (;;) {
      const v = await check()
      if (v) return v
      if (Date.now() > until) throw new Error('waitFor: timed out')
      await new Promise((r) => setTimeout(r, 20))
    }
  }

  return {
    config,
    audit,
    control,
    keys,
    killswitches,
    incidents,
    slack,
    smtp,
    alerts,
    response,
    cursors,
    async publish(alert, jobId) {
      await alerts.add('alert', alert, { jobId: jobId ?? alert.id, removeOnComplete: 10_000, removeOnFail: false })
    },
    waitFor,
    async timelineOf(runId) {
      const run = await response.runs.getRun(runId)
      if (!run?.incident_id) return []
      return (await incidents.get(run.incident_id))?.timeline ?? []
    },
    async close() {
      await response.close()
      await alerts.close()
      connection.disconnect()
      await control.close()
      await slack.close()
      await smtp.close()
    },
  }
}
