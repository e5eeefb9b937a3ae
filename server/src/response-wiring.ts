/**
 * The response side as `vigil up` runs it: the state stores (audit chain, control log, key
 * states, kill-switches, incidents), the playbook engine consuming the `alerts` queue, and
 * every respond route — wired to the rest of Vigil here, because respond imports neither
 * ingest nor detect (DESIGN: domain packages meet in tables, queues and core types):
 * - the control channel checks signatures with ingest's source registry;
 * - an alert attached to an incident gets its `incident_id` through detect's alert store;
 * - a Slack click acknowledges the alert (detect) or decides an approval (respond).
 *
 * Relied on by: runtime.ts (`vigil up`), the admin commands (dead letters, audit verify)
 * and the server's route tests, which register exactly these routes.
 */
import type { FastifyPluginAsync } from 'fastify'
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { instanceId, VigilError, type Store, type VigilConfig } from '@vigil/core'
import type { AlertStore } from '@vigil/detect'
import {
  auditRoutes,
  controlRoutes,
  createAuditLog,
  createControlLog,
  createIncidentStore,
  createKeyStateStore,
  createKillSwitchStore,
  applyRetentionPolicy,
  createReportStore,
  DEFAULT_REPORT_SCHEDULES_FILE,
  loadReportSchedules,
  startReportSchedules,
  incidentsRoutes,
  keysRoutes,
  killswitchesRoutes,
  reportsRoutes,
  slackInteractionsRoutes,
  startResponse,
  type AuditLogStore,
  type ControlLog,
  type IncidentStore,
  type KeyStateStore,
  type KillSwitchStore,
  type ReportSchedules,
  type ReportStore,
  type Response,
  type SlackInteraction,
} from '@vigil/respond'
import type { CursorCodec } from './cursor.js'
import { reportDepsFrom } from './report-wiring.js'

export interface ResponseSideDeps {
  config: VigilConfig
  store: Store
  redis: Redis
  logger: Logger
  /** Current secrets of a source (ingest's registry), for the signed control channel. */
  secretsFor(source: string): Promise<readonly string[] | undefined>
  /** detect's alert store: Slack's Acknowledge, and each alert's incident_id. */
  alerts: Pick<AlertStore, 'attachIncident' | 'setStatus' | 'get'>
  cursors: CursorCodec
  /** Redis key prefix (and, when given, the BullMQ prefix too). @defaultValue `'vigil'` (queues: `queuePrefixOf`) */
  prefix?: string
  /** @defaultValue `rules/playbooks` of this checkout */
  playbooksDir?: string
  /** Cron pattern of the daily digest; `null` schedules none. @defaultValue the engine's */
  digestPattern?: string | null
  /** Scheduled reports; `null` schedules none. @defaultValue `rules/reports/schedules.yaml` of this checkout */
  reportSchedulesFile?: string | null
}

export interface ResponseSide {
  audit: AuditLogStore
  control: ControlLog
  keys: KeyStateStore
  killswitches: KillSwitchStore
  incidents: IncidentStore
  response: Response
  /** Compiled regulatory reports (`/v1/reports`, `vigil reports generate`). */
  reports: ReportStore
  /** Every respond route, to register into the app. */
  plugins: FastifyPluginAsync[]
  close(): Promise<void>
}

/**
 * Where the response side's Redis keys start: `vigil:<deployment id>:`, so two deployments
 * sharing one Redis keep apart their locks, audit chain heads and control versions.
 */
export async function responseKeyPrefix(store: Store, prefix = 'vigil'): Promise<string> {
  return `${prefix}:${await instanceId(store)}:`
}

/**
 * The BullMQ prefix of this deployment's queues (`alerts`, `respond-*`, reports):
 * `vigil:<deployment id>`, so two Vigils sharing one Redis never take each other's jobs (a
 * worker of one would act on an alert of the other against its own store). Detection must
 * publish on the same prefix (runtime.ts).
 */
export async function queuePrefixOf(store: Store): Promise<string> {
  return `vigil:${await instanceId(store)}`
}

export async function startResponseSide(deps: ResponseSideDeps): Promise<ResponseSide> {
  const { config, store, redis, logger, cursors } = deps
  const prefix = deps.prefix ?? 'vigil'
  const keyPrefix = await responseKeyPrefix(store, prefix)
  const queuePrefix = deps.prefix ?? (await queuePrefixOf(store))
  // Retention (respond/src/reports/retention.ts) as ClickHouse TTLs and the hot tier's storage
  // policy, each set where it differs.
  const changes = await applyRetentionPolicy(store)
  const retention = changes.filter((r) => r.outcome === 'set')
  if (retention.length > 0) logger.info({ tables: retention.map((r) => r.table) }, 'retention TTLs set')
  const tiered = changes.filter((r) => r.policy_set)
  if (tiered.length > 0) logger.info({ tables: tiered.map((r) => r.table), storage_policy: store.tiering.policy }, 'retention storage policy set')
  if (store.tiering.policy === null) logger.info({ why: store.tiering.why }, 'retention hot tier not in force')
  const audit = createAuditLog({ store, redis, keyPrefix, onLeaseLost: (key) => logger.warn({ key }, 'audit chain lock lost while writing') })
  const control = createControlLog({
    store,
    redis,
    keyPrefix,
    onLeaseLost: (key) => logger.warn({ key }, 'control log lock lost while writing'),
    onPublishError: (err) => logger.warn({ err }, 'control delta stored but not published; guards catch up on reconnect'),
  })
  const keys = createKeyStateStore({ store, control, audit })
  const killswitches = createKillSwitchStore({ store, control, audit })
  const incidents = createIncidentStore({
    store,
    redis,
    audit,
    keyPrefix,
    onAlertAttached: async (alertId, incidentId) => {
      await deps.alerts.attachIncident(alertId, incidentId, 'respond')
    },
  })
  let response: Response | undefined
  const reports = createReportStore({
    store,
    dataDir: config.dataDir,
    audit,
    deps: reportDepsFrom({ audit, playbooks: () => response?.playbooks ?? [] }),
  })
  try {
    response = await startResponse({
      config,
      store,
      redis,
      logger,
      keys,
      killswitches,
      incidents,
      audit,
      control,
      cursors,
      queuePrefix,
      // A webhook step signs with the current secret of the source it names: the receiver
      // verifies it like ingest does, and no secret is ever written in a playbook.
      secrets: { resolve: async (ref) => (await deps.secretsFor(ref))?.[0] ?? null },
      reports,
      ...(deps.playbooksDir ? { playbooksDir: deps.playbooksDir } : {}),
      ...(deps.digestPattern !== undefined ? { digestPattern: deps.digestPattern } : {}),
    })
  } catch (err) {
    // A playbook that does not load stops start-up; what was opened for it is closed first.
    await control.close().catch(() => {})
    throw err
  }

  let schedules: ReportSchedules | undefined
  if (deps.reportSchedulesFile !== null) {
    try {
      const list = loadReportSchedules(deps.reportSchedulesFile ?? DEFAULT_REPORT_SCHEDULES_FILE)
      schedules = await startReportSchedules({ config, redis, logger, reports, schedules: list, prefix: queuePrefix })
    } catch (err) {
      // A schedules file that does not load stops start-up, like a playbook that does not.
      await response.close().catch(() => {})
      await control.close().catch(() => {})
      throw err
    }
  }

  const approvers = new Set(config.slack.approvers)
  const onSlackAction = async (click: SlackInteraction) => {
    const actor = `slack:${click.user.id}`
    if (click.action === 'acknowledge') {
      await deps.alerts.setStatus(click.alertId, 'acknowledged', `acknowledged in Slack by ${click.user.name}`, actor)
      if (click.incidentId) {
        await incidents.addTimeline(click.incidentId, {
          kind: 'note',
          actor,
          alert_id: click.alertId,
          playbook: null,
          step: null,
          attempt: null,
          outcome: 'acknowledged',
          detail: { via: 'slack', user: click.user.name },
        })
      }
      return
    }
    // Anyone in the channel can click; only the listed people's clicks decide.
    if (!approvers.has(click.user.id)) throw new VigilError('VIGIL_ERR_AUTH_FORBIDDEN', 'this Slack user is not in SLACK_APPROVERS')
    if (!click.approvalId) throw new VigilError('VIGIL_ERR_API_BAD_REQUEST', 'the button carries no approval')
    await response.decide(click.approvalId, {
      decision: click.action === 'approve' ? 'approve' : 'reject',
      actor,
      note: `${click.action === 'approve' ? 'approved' : 'rejected'} in Slack by ${click.user.name}`,
    })
  }

  const plugins: FastifyPluginAsync[] = [
    controlRoutes({ control, secretsFor: deps.secretsFor, toleranceSec: config.ingest.signatureToleranceSec, logger }),
    keysRoutes({ keys }),
    killswitchesRoutes({ killswitches, cursors }),
    incidentsRoutes({
      // In full for the first 200 alerts (a storm can attach thousands); alert_ids lists all.
      incidents,
      cursors,
      alertsFor: async (ids) => (await Promise.all(ids.slice(0, 200).map((id) => deps.alerts.get(id)))).filter((a) => a !== undefined),
      // Opening an incident from an alert, or attaching one, by hand is audited.
      audit,
    }),
    auditRoutes({ audit, cursors }),
    reportsRoutes({ reports, cursors }),
    slackInteractionsRoutes({ signingSecret: config.slack.signingSecret, logger, redis, onAction: onSlackAction }),
    ...response.routes,
  ]

  return {
    audit,
    control,
    keys,
    killswitches,
    incidents,
    response,
    reports,
    plugins,
    async close() {
      await schedules?.close()
      await response.close()
      await control.close()
    },
  }
}
