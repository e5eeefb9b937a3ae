/**
 * What `vigil up` starts for detection: the rules from `rules/detections`, the built-in
 * detectors, the engine ticking on the stream, the alert store, and the hand-over of each
 * new alert to the response side through the BullMQ queue `alerts` (job id = alert id, so
 * a second engine or a retried tick adds nothing). An alert a repeat escalates is handed over
 * again as `<alert id>.<severity>` (BullMQ job ids must not hold ':'), so each severity it
 * reaches is delivered once and a critical playbook can act on it. Just before queueing, the
 * alert is also given to `onHandOver` in process: `vigil up` starts its containment there.
 * Rules switched on or off at runtime (`rule_changes`, rule-states.ts) override their files
 * within about a second. `offerRows` is how `vigil up` hands the engine each batch of events as
 * soon as ingest has made it durable (stream-rows.ts), so detection does not wait to read it back.
 */
import { Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { FastifyPluginAsync } from 'fastify'
import type { Store } from '@vigil/core'
import { AlertStore, type Alert } from './alerts.js'
import { alertsRoutes, type ListCursor } from './alerts-routes.js'
import { DetectionEngine, type AlertHandover } from './engine.js'
import { BUILTIN_DETECTORS } from './detectors/index.js'
import { loadRules, DEFAULT_RULES_DIR, type Rule } from './rules.js'
import { RuleStates } from './rule-states.js'
import { streamEventsOf, type EventRows } from './stream-rows.js'

export const ALERTS_QUEUE = 'alerts'

export interface DetectionDeps {
  store: Store
  redis: Redis
  logger: Logger
  cursors: ListCursor
  /** @defaultValue `rules/detections` of this checkout */
  rulesDir?: string
  /** BullMQ key prefix, for tests. @defaultValue `'vigil'` */
  queuePrefix?: string
  /** @defaultValue `250` */
  tickMs?: number
  /** Observes each new alert's latency from event arrival, seconds. */
  onLatency?: (seconds: number, rule: string) => void
  /**
   * Called with each alert just before it is queued, in this process (`vigil up`: the response
   * side's `containNow`). Not awaited; the queue stays the hand-over of record.
   */
  onHandOver?: (alert: Alert, why: AlertHandover) => void
}

export interface Detection {
  rules: readonly Rule[]
  /** Rules switched on or off at runtime; the engine reads it every tick (rule-states.ts). */
  ruleStates: RuleStates
  alerts: AlertStore
  engine: DetectionEngine
  queue: Queue
  /** What the engine does with each new (or escalated) alert it stored: `onHandOver`, then the queue. */
  handOver(alert: Alert, why: AlertHandover): Promise<void>
  /** Rows of `events` just made durable by ingest, for the engine to judge at once (`DetectionEngine.offer`). */
  offerRows(batch: EventRows): void
  routes: FastifyPluginAsync
  close(): Promise<void>
}

/** The BullMQ job id of a hand-over: the alert id when new, `<alert id>.<severity>` when escalated. */
export function alertJobId(alert: Alert, why: AlertHandover): string {
  return why === 'created' ? alert.id : `${alert.id}.${alert.severity}`
}

/**
 * The engine's `onAlert`: adds the alert to `queue` once per alert and once per escalation,
 * after handing it to `onHandOver` (in process, not awaited, its failures only logged).
 */
export function queueAlerts(
  queue: Queue,
  logger: Logger,
  onLatency?: (seconds: number, rule: string) => void,
  onHandOver?: (alert: Alert, why: AlertHandover) => void,
): (alert: Alert, why: AlertHandover) => Promise<void> {
  return async (alert, why) => {
    // Latency is from the first event to the alert; an escalation is not a new detection.
    if (why === 'created' && alert.event_received_at) {
      const seconds = (Date.parse(alert.detected_at) - Date.parse(alert.event_received_at)) / 1000
      onLatency?.(seconds, alert.rule)
    }
    try {
      onHandOver?.(alert, why)
    } catch (err) {
      logger.warn({ alert: alert.id, err: (err as Error).message }, 'in-process hand-over failed; the queue still has the alert')
    }
    await queue.add('alert', alert, { jobId: alertJobId(alert, why), removeOnComplete: 10_000, removeOnFail: false })
    logger.info({ alert: alert.id, rule: alert.rule, severity: alert.severity, entity: alert.entity, ...(why === 'escalated' ? { escalated: true } : {}) }, 'alert')
  }
}

export async function startDetection(deps: DetectionDeps): Promise<Detection> {
  const rules = loadRules(deps.rulesDir ?? DEFAULT_RULES_DIR)
  // Detection's statements go ahead of ingest's inserts (core statement-gate.ts): a tick that
  // queued behind them judged each page seconds late. The alert store shares the lane (its
  // upserts are the engine's; its reads are the alert routes' and the response side's).
  const store = deps.store.prompt
  const alerts = new AlertStore(store)
  // BullMQ wants its own connection, one that retries forever rather than failing commands.
  const connection = deps.redis.duplicate({ maxRetriesPerRequest: null })
  const queue = new Queue(ALERTS_QUEUE, { connection, prefix: deps.queuePrefix ?? 'vigil' })
  const onAlert = queueAlerts(queue, deps.logger, deps.onLatency, deps.onHandOver)
  const ruleStates = new RuleStates(store)
  const engine = new DetectionEngine({
    ruleStates,
    store,
    // Reading ahead (Detector.prepare) is not urgent: it waits its turn with ingest's inserts.
    backgroundStore: deps.store,
    logger: deps.logger,
    rules,
    detectors: BUILTIN_DETECTORS,
    alerts,
    onAlert,
    ...(deps.tickMs ? { tickMs: deps.tickMs } : {}),
  })
  engine.start()
  deps.logger.info({ rules: rules.filter((r) => r.enabled).length }, 'detection started')
  return {
    rules,
    ruleStates,
    alerts,
    engine,
    queue,
    handOver: onAlert,
    offerRows: (batch) => engine.offer(streamEventsOf(batch)),
    routes: alertsRoutes({ alerts, cursors: deps.cursors }),
    async close() {
      await engine.stop()
      await queue.close()
      connection.disconnect()
    },
  }
}
