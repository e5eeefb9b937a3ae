/**
 * The playbook engine: what `vigil up` starts for response.
 *
 * A worker on the BullMQ queue `alerts` (filled by detect, job data = `Alert`) matches the
 * playbooks, revokes at pickup (below) and queues on `respond-runs` a run start for each
 * (alert, matching playbook), job id = run id; that queue's worker writes the run record and
 * queues its first steps. A run's steps go one at a time through the queue
 * `respond-steps`, each a job whose id is the step's idempotency key
 * `<alert id>.<playbook id>.<step index>`; the next step is queued when one completes.
 * Containment steps — after the first, destructive (revoke_key, kill_switch), without
 * approval and with a `when` that holds for the alert, up to the first step that needs
 * approval — are queued at run start on `respond-containment` (own worker, same job ids,
 * processing and run log); the chain passes over them, and stops at one that was dead-lettered.
 * Before that, the alerts worker revokes the key of such a `revoke_key` step itself, at
 * pickup (`revokeAtPickup`): the step then records the revocation as already done. In
 * `vigil up` the same revocation starts earlier still, when detection hands the alert over in
 * process (`containNow`), and the pickup finds it made.
 *
 * What is relied on (by server's wiring, the CLI, and the tests):
 * - Exactly once: a key with a success in `respond_steps` never runs again, whatever Redis
 *   remembers; BullMQ's job ids stop double queueing meanwhile; and actions themselves are
 *   idempotent under the key (action.ts). The same alert delivered twice acts once.
 * - Every attempt and every outcome is a timeline entry on the run's incident (the first step
 *   opens it; a containment step that ran before it existed has its entries written once it
 *   does) and a row in `respond_steps`.
 * - Retries: exponential backoff with jitter per step (`retries`, `backoff`); an
 *   `UnrecoverableError` goes straight to the dead letters. A dead-lettered step stops its run
 *   until `retryDeadLetter` re-queues it with fresh attempts.
 * - `require_approval` parks the run (approvals.ts) until a decision or the timeout policy.
 * - A daily digest of the last day's medium/low incidents goes out by email.
 */
import { Job, Queue, UnrecoverableError, Worker, type AdvancedOptions } from 'bullmq'
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { FastifyPluginAsync } from 'fastify'
import { ENTITY_TYPES, SEVERITIES, VigilError, maskText, type Alert, type Store, type VigilConfig } from '@vigil/core'
import type { Action, ActionContext, ActionDeps, ActionResult, SecretResolver } from './action.js'
import type { ReportStore } from './reports/report-store.js'
import type { AuditLog, Incident, IncidentStore, KeyStateStore, KillSwitchStore } from './seams.js'
import { ACTIONS } from './actions/index.js'
import { postApprovalRequest } from './actions/notify-slack.js'
import { sendDigest as emailDigest } from './actions/notify-email.js'
import { DEFAULT_PLAYBOOKS_DIR, conditionFails, loadPlaybooks, matchPlaybooks, type ActionRegistry, type Playbook } from './playbooks.js'
import { RunLog, SUCCESS_OUTCOMES, runIdOf, stepKeyOf, type RunStatus } from './run-log.js'
import { DeadLetters, safeErrorText, type DeadLetter } from './dlq.js'
import { Approvals, type Approval } from './approvals.js'
import { approvalsRoutes } from './approvals-routes.js'
import { dlqRoutes } from './dlq-routes.js'
import type { ListCursor } from './list-query.js'

export const ALERTS_QUEUE = 'alerts'
export const STEPS_QUEUE = 'respond-steps'
/** Containment steps (destructive, unapproved, condition on the alert) queued at run start. */
export const CONTAINMENT_QUEUE = 'respond-containment'
export const DIGEST_QUEUE = 'respond-digest'
/**
 * Playbook runs to start: the `alerts` worker only matches playbooks, revokes at pickup and
 * hands each (alert, playbook) here (job id = run id), so a burst of alerts leaves the
 * `alerts` queue at the pace of the control log's group commits, not of run bookkeeping.
 */
export const RUNS_QUEUE = 'respond-runs'
const BACKOFF_TYPE = 'vigil-exponential-jitter'
/** No retry waits longer than this. */
export const MAX_BACKOFF_MS = 10 * 60_000
const DAY_MS = 86_400_000

/**
 * The delay before retry number `attemptsMade` (1 after the first failure): `baseMs` doubled
 * per attempt, capped, then "equal jitter" — half fixed, half random — so a burst of failing
 * steps does not retry in lockstep against a recovering service.
 */
export function backoffDelay(attemptsMade: number, baseMs: number, random: () => number = Math.random): number {
  const exp = Math.min(baseMs * 2 ** Math.max(0, attemptsMade - 1), MAX_BACKOFF_MS)
  return Math.round(exp / 2 + random() * (exp / 2))
}

/** The medium/low incidents of one day, emailed once a day. */
export type DigestSender = (
  deps: { config: VigilConfig; logger: Logger; redis: Redis },
  digest: { from: string; to: string; incidents: Array<Omit<Incident, 'timeline'>> },
) => Promise<unknown>

export interface ResponseDeps {
  config: VigilConfig
  store: Store
  redis: Redis
  logger: Logger
  keys: KeyStateStore
  killswitches: KillSwitchStore
  incidents: IncidentStore
  audit: AuditLog
  /** The server's signed list cursor codec. */
  cursors: ListCursor
  /** The control log, when the caller has one; the engine itself does not need it. */
  control?: unknown
  /** BullMQ key prefix (tests use a random one). @defaultValue `'vigil'` */
  queuePrefix?: string
  /** @defaultValue `rules/playbooks` of this checkout */
  playbooksDir?: string
  /** @defaultValue the ACTIONS registry */
  actions?: ActionRegistry
  /** @defaultValue 8 */
  stepConcurrency?: number
  /** Concurrency of the `respond-containment` worker. @defaultValue 16 */
  containmentConcurrency?: number
  /** Concurrency of the `alerts` worker (playbook matching and revocation at pickup). @defaultValue 64 */
  alertConcurrency?: number
  /** Concurrency of the `respond-runs` worker (run records, first steps queued). @defaultValue 16 */
  runConcurrency?: number
  /** Sends the daily digest of medium/low incidents. @defaultValue notify-email's `sendDigest` */
  sendDigest?: DigestSender
  /** Cron pattern (UTC) of the digest. @defaultValue `'0 7 * * *'`; `null` schedules none. */
  digestPattern?: string | null
  /**
   * Resolves the secret references of step params (a webhook's `secret_ref`), passed to every
   * action as `ActionDeps.secrets`. @defaultValue none: a step that needs a secret fails
   * unrecoverably and is dead-lettered.
   */
  secrets?: SecretResolver
  /** Stored reports, passed to every action as `ActionDeps.reports` (`compile_report`), and scheduled reports. */
  reports?: ReportStore
}

export interface Response {
  playbooks: readonly Playbook[]
  approvals: Approvals
  deadLetters: DeadLetters
  runs: RunLog
  /** Fastify plugins: /v1/approvals, /v1/respond/dlq. */
  routes: FastifyPluginAsync[]
  /** Re-queues a dead-lettered step with fresh attempts (`vigil respond dlq retry`). */
  retryDeadLetter(id: string, actor: string): Promise<DeadLetter>
  /** An operator's or Slack user's decision on an approval request. */
  decide: Approvals['decide']
  /** Sends the digest of the 24 whole hours before `nowMs` (what the scheduled job does). */
  sendDigest(nowMs?: number): Promise<{ incidents: number; sent: boolean }>
  /**
   * Containment at hand-over, in the process that detected the alert (`vigil up` calls it for
   * every alert detection hands over, just before queueing it): the revocation the `alerts`
   * worker makes at pickup, started now instead of after the queue's round trip, so a burst of
   * alerts reaches the control log's group commit at once. Returns at once and never throws
   * (a failure is logged); the queued job still matches the playbooks, finds the key revoked
   * (no second version) and runs everything else. The promise is for tests and the bench.
   */
  containNow(alert: Alert): Promise<void>
  close(): Promise<void>
}

/** A `respond-runs` job: start the run of one playbook for one alert. */
interface RunJobData {
  alert: Alert
  playbook: string
}

/** Attempts of a run start (its statements are idempotent; a store hiccup should not lose a run). */
const RUN_ATTEMPTS = 8

interface StepJobData {
  runId: string
  alert: Alert
  playbook: string
  step: number
  incidentId: string | null
  actor: string
  /** Outcomes of the earlier steps of the run (ActionContext.done), carried so no step reads them back. */
  done: Done
  /** Re-queued by a dead-letter retry: later steps may have run already, so each is checked. */
  recheck?: boolean
}

type Done = ActionContext['done'][number][]

interface RunContext {
  alert: Alert
  playbook: Playbook
  runId: string
  incidentId: string | null
  done: Done
  recheck?: boolean
}

/** Is queue data an alert we can act on? (detect writes it, but the queue is a boundary.) */
function isAlert(v: unknown): v is Alert {
  if (v === null || typeof v !== 'object') return false
  const a = v as Record<string, unknown>
  const entity = a.entity as Record<string, unknown> | null | undefined
  return (
    typeof a.id === 'string' &&
    /^[A-Za-z0-9_-]{1,128}$/.test(a.id) &&
    typeof a.rule === 'string' &&
    typeof a.severity === 'string' &&
    (SEVERITIES as readonly string[]).includes(a.severity) &&
    entity !== null &&
    typeof entity === 'object' &&
    typeof entity.type === 'string' &&
    (ENTITY_TYPES as readonly string[]).includes(entity.type) &&
    typeof entity.id === 'string'
  )
}

const errText = (err: unknown) => maskText(err instanceof Error ? err.message : String(err))

export async function startResponse(deps: ResponseDeps): Promise<Response> {
  const actions = deps.actions ?? ACTIONS
  const actionByType = new Map<string, Action>(actions.map((a) => [a.type, a]))
  const playbooks = loadPlaybooks(deps.playbooksDir ?? DEFAULT_PLAYBOOKS_DIR, actions)
  const playbookById = new Map(playbooks.map((p) => [p.id, p]))
  const prefix = deps.queuePrefix ?? 'vigil'
  const log = deps.logger
  // BullMQ wants a connection that retries forever rather than failing commands.
  const connection = deps.redis.duplicate({ maxRetriesPerRequest: null })
  const runs = new RunLog(deps.store)
  const deadLetters = new DeadLetters(deps.store)
  const actionDeps: ActionDeps = {
    config: deps.config,
    logger: deps.logger,
    redis: deps.redis,
    keys: deps.keys,
    killswitches: deps.killswitches,
    incidents: deps.incidents,
    audit: deps.audit,
    ...(deps.secrets ? { secrets: deps.secrets } : {}),
    ...(deps.reports ? { reports: deps.reports } : {}),
  }
  const stepsQueue = new Queue<StepJobData>(STEPS_QUEUE, { connection, prefix })
  const containmentQueue = new Queue<StepJobData>(CONTAINMENT_QUEUE, { connection, prefix })
  const runsQueue = new Queue<RunJobData>(RUNS_QUEUE, { connection, prefix })

  const timeline = async (incidentId: string | null, entry: Parameters<IncidentStore['addTimeline']>[1]) => {
    // The run's incident id came from the store (open_incident, or the alert's incident).
    if (incidentId) await deps.incidents.addTimeline(incidentId, entry, { knownToExist: true })
  }

  const doneOf = async (runId: string): Promise<Done> =>
    (await runs.doneOf(runId)).map((s) => ({ action: s.action, outcome: s.outcome, summary: s.summary }))

  const setRun = (ctx: RunContext, status: RunStatus) => runs.setRun(ctx.alert, ctx.playbook.id, status, ctx.incidentId)

  /**
   * The containment steps of a run: after the first step, destructive, without approval, and
   * with a `when` that holds for the alert. They are queued at run start on `respond-containment`
   * rather than waiting their turn. Scanning stops at the first step that needs approval: what
   * comes after a person's decision waits for it.
   */
  function containmentOf(playbook: Playbook, alert: Alert): Set<number> {
    const out = new Set<number>()
    for (let i = 1; i < playbook.steps.length; i++) {
      const step = playbook.steps[i] as Playbook['steps'][number]
      if (step.approval) break
      if (actionByType.get(step.action)?.destructive === true && conditionFails(step.when, alert) === null) out.add(i)
    }
    return out
  }

  /** Has every step of the run a success in the run log? */
  async function allStepsDone(ctx: RunContext): Promise<boolean> {
    const ok = new Set((await runs.doneOf(ctx.runId)).map((s) => s.step))
    return ctx.playbook.steps.every((_, i) => ok.has(i))
  }

  /**
   * Timeline entries of a containment step that ran before its run had an incident: written
   * once the incident exists, by whichever of the chain and the containment worker sees it
   * first (each entry claimed once in Redis).
   */
  async function flushDeferredTimeline(runId: string, alert: Alert, playbook: Playbook, index: number, incidentId: string): Promise<void> {
    const step = playbook.steps[index]
    if (!step) return
    const key = stepKeyOf(runId, index)
    const base = { alert_id: alert.id, playbook: playbook.id, step: step.action }
    const claim = async (what: string) => (await deps.redis.set(`${prefix}:respond:deferred-tl:${key}:${what}`, '1', 'EX', 7 * 86_400, 'NX')) === 'OK'
    for (const rec of await runs.stepHistory(key)) {
      if (rec.attempt < 1) continue
      if (await claim(`${rec.attempt}:attempt`)) {
        await timeline(incidentId, { ...base, kind: 'step_attempt', actor: rec.actor, attempt: rec.attempt, outcome: null, detail: { step_index: index, of: step.attempts } })
      }
      if (!(await claim(`${rec.attempt}:${rec.outcome}`))) continue
      if (rec.outcome === 'failed') {
        await timeline(incidentId, { ...base, kind: 'step_failed', actor: rec.actor, attempt: rec.attempt, outcome: 'failed', detail: { step_index: index, error: rec.error } })
      } else if (rec.outcome === 'dead_lettered') {
        await timeline(incidentId, { ...base, kind: 'step_dead_lettered', actor: 'system', attempt: rec.attempt, outcome: 'dead_lettered', detail: { step_index: index, dead_letter_id: rec.summary, attempts: rec.attempt, error: rec.error, note: `gave up after ${rec.attempt} attempt${rec.attempt === 1 ? '' : 's'}; retry with: vigil respond dlq retry ${rec.summary}` } })
      } else if (SUCCESS_OUTCOMES.includes(rec.outcome)) {
        await timeline(incidentId, { ...base, kind: 'step_done', actor: rec.actor, attempt: rec.attempt, outcome: rec.outcome, detail: { step_index: index, summary: rec.summary } })
      }
    }
  }

  async function enqueueStep(ctx: RunContext, index: number, actor: string, queue: Queue<StepJobData> = stepsQueue, recheck = false): Promise<void> {
    const step = ctx.playbook.steps[index]
    if (!step) return
    const data: StepJobData = { runId: ctx.runId, alert: ctx.alert, playbook: ctx.playbook.id, step: index, incidentId: ctx.incidentId, actor, done: ctx.done, ...(recheck ? { recheck } : {}) }
    await queue.add(step.action, data, {
      jobId: stepKeyOf(ctx.runId, index),
      attempts: step.attempts,
      backoff: { type: BACKOFF_TYPE, delay: step.backoffMs },
      removeOnComplete: { age: 7 * 86_400, count: 100_000 },
      // Kept: a failed job's id still blocks re-queueing until a dead-letter retry removes it.
      removeOnFail: false,
    })
  }

  /** Moves a run to step `index`: skips what its condition rules out, parks for approval, or queues it. */
  async function advance(ctx: RunContext, index: number): Promise<void> {
    const playbookActor = `playbook:${ctx.playbook.id}`
    const containment = containmentOf(ctx.playbook, ctx.alert)
    let passed = false
    for (let i = index; i < ctx.playbook.steps.length; i++) {
      const step = ctx.playbook.steps[i] as Playbook['steps'][number]
      const key = stepKeyOf(ctx.runId, i)
      if (containment.has(i)) {
        // Queued at run start on respond-containment: never again here. A dead-lettered one
        // stops the run as any step does; one still under way does not hold the run up.
        const last = (await runs.stepHistory(key)).at(-1)
        if (last?.outcome === 'dead_lettered') {
          await setRun(ctx, 'dead_lettered')
          return
        }
        passed = true
        continue
      }
      if (passed) {
        // `done` reads the run log: containment outcomes are not carried in the job data.
        ctx.done = (await doneOf(ctx.runId)).slice()
        passed = false
      }
      if (ctx.recheck && (await runs.successOf(key))) continue
      const why = conditionFails(step.when, ctx.alert)
      if (why !== null) {
        if (!(await runs.successOf(key))) {
          await runs.recordStep({ key, runId: ctx.runId, step: i, action: step.action, attempt: 0, outcome: 'skipped', summary: `skipped: ${why}`, error: '', actor: playbookActor })
          await timeline(ctx.incidentId, { kind: 'step_done', actor: playbookActor, alert_id: ctx.alert.id, playbook: ctx.playbook.id, step: step.action, attempt: null, outcome: 'skipped', detail: { step_index: i, reason: why } })
        }
        ctx.done = [...ctx.done, { action: step.action, outcome: 'skipped', summary: `skipped: ${why}` }]
        continue
      }
      if (step.approval) {
        const { approval, created } = await approvals.request({
          idempotencyKey: key,
          runId: ctx.runId,
          playbook: ctx.playbook.id,
          step: i,
          action: step.action,
          alertId: ctx.alert.id,
          incidentId: ctx.incidentId,
          onTimeout: step.approval.onTimeout,
          timeoutMs: step.approval.timeoutMs,
        })
        if (created) await setRun(ctx, 'waiting_approval')
        // A redelivered run finds the request already made: only an approval lets it go on.
        else if (approval.status === 'approved') await enqueueStep(ctx, i, approval.decided_by ?? playbookActor)
        return
      }
      await enqueueStep(ctx, i, playbookActor, stepsQueue, ctx.recheck === true)
      return
    }
    // A containment step still under way finishes the run itself (processStep).
    if (containment.size > 0 && !(await allStepsDone(ctx))) return
    await setRun(ctx, 'done')
    log.info({ run: ctx.runId, incident: ctx.incidentId }, 'playbook run done')
  }

  /**
   * Revocation at pickup: the first `revoke_key` step of the matched playbooks that needs no
   * approval (none before it does) and whose `when` holds runs here, as its step would, before
   * any run record is written, so a burst of alerts revokes its keys in the control log's group
   * commits at the speed the alerts are picked up. The step itself still runs in its turn, with
   * its attempts, retries and timeline, and finds the key revoked (`already_done`, "revoked at
   * alert pickup"); a failure here is only logged, the step is the one that retries.
   */
  async function revokeAtPickup(alert: Alert, matched: readonly Playbook[]): Promise<void> {
    const action = actionByType.get('revoke_key')
    if (!action || !alert.api_key_id) return
    for (const playbook of matched) {
      for (let i = 0; i < playbook.steps.length; i++) {
        const step = playbook.steps[i] as Playbook['steps'][number]
        if (step.approval) break
        if (step.action !== 'revoke_key' || conditionFails(step.when, alert) !== null) continue
        const runId = runIdOf(alert.id, playbook.id)
        const actx: ActionContext = { alert, incident: null, playbook: playbook.id, step: i, idempotencyKey: stepKeyOf(runId, i), attempt: 1, actor: `playbook:${playbook.id}`, done: [] }
        try {
          await action.run(actx, step.params as never, actionDeps)
        } catch (err) {
          log.warn({ alert: alert.id, playbook: playbook.id, err: errText(err) }, 'revocation at pickup failed; its step will retry')
        }
        return
      }
    }
  }

  // Containments started at hand-over and not yet committed: close() waits for them.
  const containing = new Set<Promise<void>>()
  let closing = false
  function containNow(alert: Alert): Promise<void> {
    if (closing) return Promise.resolve()
    const p = (async () => {
      try {
        if (!isAlert(alert)) return
        await revokeAtPickup(alert, matchPlaybooks(playbooks, alert))
      } catch (err) {
        log.warn({ alert: (alert as { id?: unknown })?.id, err: errText(err) }, 'containment at hand-over failed; the queued alert will retry')
      }
    })()
    containing.add(p)
    void p.finally(() => containing.delete(p))
    return p
  }

  /** Queues the run's containment steps at once (idempotent: the same job ids every time). */
  async function startContainment(ctx: RunContext): Promise<void> {
    const actor = `playbook:${ctx.playbook.id}`
    await Promise.all([...containmentOf(ctx.playbook, ctx.alert)].map((i) => enqueueStep(ctx, i, actor, containmentQueue)))
  }

  async function startRun(alert: Alert, playbook: Playbook): Promise<void> {
    const ctx: RunContext = { alert, playbook, runId: runIdOf(alert.id, playbook.id), incidentId: null, done: [] }
    const existing = await runs.getRun(ctx.runId)
    if (existing) {
      // Delivered again. Only a run that died before its first step was queued needs a push;
      // queueing is idempotent (job id), so pushing a run that is fine changes nothing.
      if (existing.status === 'running' && !(await runs.successOf(stepKeyOf(ctx.runId, 0)))) {
        await advance(ctx, 0)
        await startContainment(ctx)
      }
      return
    }
    await setRun(ctx, 'running')
    log.info({ run: ctx.runId, alert: alert.id, rule: alert.rule, playbook: playbook.id }, 'playbook run started')
    await advance(ctx, 0)
    await startContainment(ctx)
  }

  /** The incident of a run whose first step succeeded but left no id we know. */
  async function incidentOf(ctx: RunContext, result: ActionResult | undefined, actor: string): Promise<string> {
    const fromResult = result?.detail?.incident_id
    if (typeof fromResult === 'string' && fromResult) return fromResult
    const known = (await runs.getRun(ctx.runId))?.incident_id
    if (known) return known
    const { incident } = await deps.incidents.openForAlert(ctx.alert, { actor, playbook: ctx.playbook.id, title: ctx.playbook.name })
    return incident.id
  }

  async function processStep(job: Job<StepJobData>): Promise<{ outcome: string }> {
    const d = job.data
    const playbook = playbookById.get(d.playbook)
    if (!playbook) throw new UnrecoverableError(`playbook ${d.playbook} is not loaded`)
    const step = playbook.steps[d.step]
    if (!step) throw new UnrecoverableError(`playbook ${d.playbook} has no step ${d.step}`)
    const action = actionByType.get(step.action)
    if (!action) throw new UnrecoverableError(`action ${step.action} is not registered`)
    const ctx: RunContext = { alert: d.alert, playbook, runId: d.runId, incidentId: d.incidentId, done: Array.isArray(d.done) ? d.done : [], ...(d.recheck ? { recheck: true } : {}) }
    const key = stepKeyOf(d.runId, d.step)
    const base = { alert_id: d.alert.id, playbook: playbook.id, step: step.action }
    // A containment step runs beside the chain: it neither opens the incident nor moves the run on.
    const contained = job.queueName === CONTAINMENT_QUEUE
    if (contained && ctx.incidentId === null) ctx.incidentId = (await runs.getRun(d.runId))?.incident_id ?? null
    const deferred = contained && ctx.incidentId === null
    const flushIfDeferred = async () => {
      if (!deferred) return
      const incidentId = (await runs.getRun(d.runId))?.incident_id
      if (incidentId) await flushDeferredTimeline(d.runId, d.alert, playbook, d.step, incidentId)
    }

    const prior = await runs.successOf(key)
    if (prior && contained) return { outcome: 'recorded' }
    if (prior) {
      // Ran before (a redelivery, or a crash after the record): never again; go on.
      if (ctx.incidentId === null) ctx.incidentId = await incidentOf(ctx, undefined, d.actor)
      ctx.done = await doneOf(ctx.runId)
      await advance(ctx, d.step + 1)
      return { outcome: 'recorded' }
    }

    const attempt = job.attemptsMade + 1
    const attempts = job.opts.attempts ?? 1
    let result: ActionResult
    try {
      const [incident] = await Promise.all([
        ctx.incidentId ? deps.incidents.summary(ctx.incidentId).then((i) => i ?? null) : Promise.resolve(null),
        timeline(ctx.incidentId, { ...base, kind: 'step_attempt', actor: d.actor, attempt, outcome: null, detail: { step_index: d.step, of: attempts } }),
      ])
      const actx: ActionContext = { alert: d.alert, incident, playbook: playbook.id, step: d.step, idempotencyKey: key, attempt, actor: d.actor, done: ctx.done }
      result = await action.run(actx, step.params as never, actionDeps)
    } catch (err) {
      const final = err instanceof UnrecoverableError || attempt >= attempts
      const error = safeErrorText(err)
      await runs.recordStep({ key, runId: d.runId, step: d.step, action: step.action, attempt, outcome: 'failed', summary: '', error, actor: d.actor })
      await timeline(ctx.incidentId, {
        ...base,
        kind: 'step_failed',
        actor: d.actor,
        attempt,
        outcome: 'failed',
        detail: { step_index: d.step, error, ...(final ? { final: true } : { retry_in_ms: backoffDelay(attempt, step.backoffMs, () => 0.5) }) },
      })
      if (final) {
        const dead = await deadLetters.record({
          idempotency_key: key,
          run_id: d.runId,
          playbook: playbook.id,
          step: d.step,
          action: step.action,
          alert_id: d.alert.id,
          incident_id: ctx.incidentId,
          attempts: attempt,
          error,
        })
        await runs.recordStep({ key, runId: d.runId, step: d.step, action: step.action, attempt, outcome: 'dead_lettered', summary: dead.id, error, actor: d.actor })
        await timeline(ctx.incidentId, {
          ...base,
          kind: 'step_dead_lettered',
          actor: 'system',
          attempt,
          outcome: 'dead_lettered',
          detail: { step_index: d.step, dead_letter_id: dead.id, attempts: attempt, error, note: `gave up after ${attempt} attempt${attempt === 1 ? '' : 's'}; retry with: vigil respond dlq retry ${dead.id}` },
        })
        await setRun(ctx, 'dead_lettered')
        log.warn({ run: d.runId, step: d.step, action: step.action, dead_letter: dead.id, err: error }, 'step dead-lettered')
      } else {
        log.info({ run: d.runId, step: d.step, action: step.action, attempt, err: error }, 'step failed; will retry')
      }
      await flushIfDeferred()
      throw err
    }

    if (contained) {
      const summary = maskText(result.summary)
      await Promise.all([
        runs.recordStep({ key, runId: d.runId, step: d.step, action: step.action, attempt, outcome: result.outcome, summary, error: '', actor: d.actor }),
        timeline(ctx.incidentId, { ...base, kind: 'step_done', actor: d.actor, attempt, outcome: result.outcome, detail: { step_index: d.step, summary, ...(result.detail ?? {}) } }),
      ])
      await flushIfDeferred()
      // The last step to finish finishes the run.
      if (await allStepsDone(ctx)) await setRun(ctx, 'done')
      return { outcome: result.outcome }
    }

    let opened = false
    const containment = containmentOf(playbook, ctx.alert)
    if (ctx.incidentId === null) {
      opened = true
      // The first step opened the incident: its attempt is recorded now that there is one.
      ctx.incidentId = await incidentOf(ctx, result, d.actor)
      await Promise.all([
        timeline(ctx.incidentId, { ...base, kind: 'step_attempt', actor: d.actor, attempt, outcome: null, detail: { step_index: d.step, of: attempts } }),
        // With containment beside the chain, the run names its incident only after this step's entries (below).
        containment.size === 0 ? setRun(ctx, 'running') : undefined,
      ])
    }
    const summary = maskText(result.summary)
    await Promise.all([
      runs.recordStep({ key, runId: d.runId, step: d.step, action: step.action, attempt, outcome: result.outcome, summary, error: '', actor: d.actor }),
      timeline(ctx.incidentId, { ...base, kind: 'step_done', actor: d.actor, attempt, outcome: result.outcome, detail: { step_index: d.step, summary, ...(result.detail ?? {}) } }),
    ])
    if (opened && ctx.incidentId && containment.size > 0) {
      // Containment steps that ran before the incident existed: their entries now, once the run
      // names its incident (a containment step finishing from here on writes them itself).
      const incidentId = ctx.incidentId
      await setRun(ctx, 'running')
      for (const i of containment) await flushDeferredTimeline(ctx.runId, ctx.alert, playbook, i, incidentId)
    }
    ctx.done = [...ctx.done, { action: step.action, outcome: result.outcome, summary }]
    await advance(ctx, d.step + 1)
    return { outcome: result.outcome }
  }

  /** What happens to a parked run once its approval is settled. */
  async function resume(approval: Approval, outcome: 'approved' | 'rejected' | 'expired', actor: string): Promise<void> {
    const run = await runs.getRun(approval.run_id)
    const playbook = run ? playbookById.get(run.playbook) : undefined
    if (!run || !playbook) {
      log.warn({ approval: approval.id, run: approval.run_id }, 'approval settled for a run this engine does not know')
      return
    }
    const ctx: RunContext = { alert: run.alert, playbook, runId: run.run_id, incidentId: run.incident_id, done: await doneOf(run.run_id) }
    const key = approval.idempotency_key
    const base = { alert_id: run.alert.id, playbook: playbook.id, step: approval.action }
    const policy = outcome === 'approved' ? 'proceed' : outcome === 'rejected' ? 'abort' : approval.on_timeout
    if (policy === 'proceed') {
      await setRun(ctx, 'running')
      await enqueueStep(ctx, approval.step, outcome === 'approved' ? actor : `playbook:${playbook.id}`)
      return
    }
    if (policy === 'skip') {
      await runs.recordStep({ key, runId: ctx.runId, step: approval.step, action: approval.action, attempt: 0, outcome: 'skipped', summary: 'skipped: approval timed out', error: '', actor })
      await timeline(ctx.incidentId, { ...base, kind: 'step_done', actor, attempt: null, outcome: 'skipped', detail: { step_index: approval.step, reason: 'approval timed out', approval_id: approval.id } })
      await setRun(ctx, 'running')
      await advance(ctx, approval.step + 1)
      return
    }
    const why = outcome === 'rejected' ? 'rejected' : 'aborted'
    await runs.recordStep({ key, runId: ctx.runId, step: approval.step, action: approval.action, attempt: 0, outcome: why, summary: `run stopped: approval ${outcome}`, error: '', actor })
    await timeline(ctx.incidentId, {
      ...base,
      kind: 'run_stopped',
      actor,
      attempt: null,
      outcome: why,
      detail: { step_index: approval.step, approval_id: approval.id, reason: outcome === 'rejected' ? 'approval rejected' : 'approval timed out (on_timeout: abort)' },
    })
    await setRun(ctx, 'aborted')
  }

  const approvals = new Approvals({
    store: deps.store,
    connection,
    prefix,
    logger: log,
    incidents: deps.incidents,
    audit: deps.audit,
    resume,
    onRequested: async (approval) => {
      const run = await runs.getRun(approval.run_id)
      if (!run) return
      const incident = approval.incident_id ? ((await deps.incidents.summary(approval.incident_id)) ?? null) : null
      const action = actionByType.get(approval.action)
      await postApprovalRequest(
        { config: deps.config, logger: log, redis: deps.redis },
        {
          approvalId: approval.id,
          alert: run.alert,
          incident,
          step: { action: approval.action, description: action?.description ?? approval.action },
          done: await doneOf(run.run_id),
          expiresAt: approval.expires_at,
        },
      )
    },
  })

  async function retryDeadLetter(id: string, actor: string): Promise<DeadLetter> {
    const dead = await deadLetters.get(id)
    if (!dead) throw new VigilError('VIGIL_ERR_RESPOND_DLQ_NOT_FOUND')
    if (dead.status !== 'dead') throw new VigilError('VIGIL_ERR_RESPOND_DLQ_RETRIED', 'this step was already retried')
    // One retry at a time per dead letter, across processes and double clicks.
    const claimed = await deps.redis.set(`${prefix}:respond:dlq-retry:${id}`, actor, 'EX', 60, 'NX')
    if (claimed !== 'OK') throw new VigilError('VIGIL_ERR_RESPOND_DLQ_RETRIED', 'a retry of this step is already under way')
    const run = await runs.getRun(dead.run_id)
    const playbook = run ? playbookById.get(run.playbook) : undefined
    if (!run || !playbook) throw new VigilError('VIGIL_ERR_API_BAD_REQUEST', `playbook ${dead.playbook} is not loaded`)
    for (const queue of [stepsQueue, containmentQueue]) {
      const old = await Job.fromId(queue, dead.idempotency_key)
      if (old) await old.remove()
    }
    const marked = await deadLetters.markRetried(id, actor)
    const ctx: RunContext = { alert: run.alert, playbook, runId: run.run_id, incidentId: run.incident_id, done: await doneOf(run.run_id) }
    await deps.audit.append({ actor, action: 'respond.dlq_retry', subject: id, detail: { run_id: run.run_id, step: dead.step, action: dead.action, incident_id: ctx.incidentId } })
    await timeline(ctx.incidentId, {
      kind: 'step_retried',
      actor,
      alert_id: run.alert.id,
      playbook: playbook.id,
      step: dead.action,
      attempt: null,
      outcome: 'requeued',
      detail: { step_index: dead.step, dead_letter_id: id },
    })
    await setRun(ctx, 'running')
    // On the ordinary queue, so the run goes on from it; steps after it that ran already are not run again.
    await enqueueStep(ctx, dead.step, `playbook:${playbook.id}`, stepsQueue, true)
    return marked
  }

  const digestSender: DigestSender = deps.sendDigest ?? ((d, digest) => emailDigest(d, { since: digest.from, until: digest.to, incidents: digest.incidents }))

  async function sendDigest(nowMs: number = Date.now()): Promise<{ incidents: number; sent: boolean }> {
    // Whole hours: a retried digest job covers the same period, which the sender sends once.
    const until = Math.floor(nowMs / 3_600_000) * 3_600_000
    const from = until - DAY_MS
    const items: Array<Omit<Incident, 'timeline'>> = []
    for (const severity of ['medium', 'low'] as const) {
      items.push(...(await deps.incidents.list({ severity, fromMs: from, toMs: until, limit: 1000 })))
    }
    const digest = { from: new Date(from).toISOString(), to: new Date(until).toISOString(), incidents: items }
    const result = await digestSender({ config: deps.config, logger: log, redis: deps.redis }, digest)
    const outcome = (result as { outcome?: unknown } | undefined)?.outcome
    log.info({ incidents: items.length, outcome }, 'daily digest')
    return { incidents: items.length, sent: outcome === undefined || outcome === 'done' }
  }

  const onWorkerError = (name: string) => (err: Error) => log.error({ worker: name, err: errText(err) }, 'response worker error')

  const alertsWorker = new Worker(
    ALERTS_QUEUE,
    async (job: Job<unknown>) => {
      if (!isAlert(job.data)) throw new UnrecoverableError('job data is not an alert')
      const alert = job.data
      const matched = matchPlaybooks(playbooks, alert)
      if (matched.length === 0) log.info({ alert: alert.id, rule: alert.rule, severity: alert.severity }, 'no playbook for alert')
      await revokeAtPickup(alert, matched)
      // Idempotent: a run job's id is its run id, and startRun finds a run that exists.
      await runsQueue.addBulk(
        matched.map((playbook) => ({
          name: 'run',
          data: { alert, playbook: playbook.id },
          opts: { jobId: runIdOf(alert.id, playbook.id), attempts: RUN_ATTEMPTS, backoff: { type: BACKOFF_TYPE, delay: 1000 }, removeOnComplete: { age: 7 * 86_400, count: 100_000 }, removeOnFail: { age: 30 * 86_400 } },
        })),
      )
      return { playbooks: matched.map((p) => p.id) }
    },
    { connection, prefix, concurrency: deps.alertConcurrency ?? 64 },
  )
  alertsWorker.on('error', onWorkerError('alerts'))
  alertsWorker.on('failed', (job, err) => log.error({ job: job?.id, err: errText(err) }, 'alert not handled'))

  const stepSettings: AdvancedOptions = {
    backoffStrategy: (attemptsMade, _type, _err, job) => {
      const delay = (job?.opts.backoff as { delay?: number } | undefined)?.delay ?? 1000
      return backoffDelay(attemptsMade, delay)
    },
  }
  const runsWorker = new Worker<RunJobData>(
    RUNS_QUEUE,
    async (job) => {
      const playbook = playbookById.get(job.data.playbook)
      if (!playbook) throw new UnrecoverableError(`playbook ${job.data.playbook} is not loaded`)
      if (!isAlert(job.data.alert)) throw new UnrecoverableError('job data is not an alert')
      await startRun(job.data.alert, playbook)
    },
    { connection, prefix, concurrency: deps.runConcurrency ?? 16, settings: stepSettings },
  )
  runsWorker.on('error', onWorkerError('runs'))
  runsWorker.on('failed', (job, err) => log.error({ job: job?.id, err: errText(err) }, 'playbook run not started'))
  const stepsWorker = new Worker<StepJobData>(STEPS_QUEUE, processStep, { connection, prefix, concurrency: deps.stepConcurrency ?? 8, settings: stepSettings })
  stepsWorker.on('error', onWorkerError('steps'))
  // The same processing (retries, dead letters, run log, timeline) on its own queue and workers.
  const containmentWorker = new Worker<StepJobData>(CONTAINMENT_QUEUE, processStep, { connection, prefix, concurrency: deps.containmentConcurrency ?? 16, settings: stepSettings })
  containmentWorker.on('error', onWorkerError('containment'))
  approvals.start()

  const digestQueue = new Queue(DIGEST_QUEUE, { connection, prefix })
  const digestWorker = new Worker(DIGEST_QUEUE, async () => sendDigest(), { connection, prefix, concurrency: 1 })
  digestWorker.on('error', onWorkerError('digest'))
  const pattern = deps.digestPattern === undefined ? '0 7 * * *' : deps.digestPattern
  if (pattern !== null) await digestQueue.upsertJobScheduler('daily-digest', { pattern, tz: 'UTC' }, { name: 'digest', opts: { removeOnComplete: 30, removeOnFail: 30 } })
  else await digestQueue.removeJobScheduler('daily-digest')

  log.info({ playbooks: playbooks.filter((p) => p.enabled).length }, 'response started')
  return {
    playbooks,
    approvals,
    deadLetters,
    runs,
    routes: [approvalsRoutes({ approvals, cursors: deps.cursors }), dlqRoutes({ deadLetters, retry: retryDeadLetter, cursors: deps.cursors })],
    retryDeadLetter,
    decide: (id, input) => approvals.decide(id, input),
    sendDigest,
    containNow,
    async close() {
      closing = true
      await Promise.allSettled([...containing])
      await alertsWorker.close()
      await runsWorker.close()
      await stepsWorker.close()
      await containmentWorker.close()
      await digestWorker.close()
      await approvals.close()
      await stepsQueue.close()
      await containmentQueue.close()
      await runsQueue.close()
      await digestQueue.close()
      connection.disconnect()
    },
  }
}

