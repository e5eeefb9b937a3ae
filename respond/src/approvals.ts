/**
 * Approval requests for `require_approval` steps: the run parks, a person with
 * approvals:write decides (POST /v1/approvals/:id, or the Slack button), and a delayed job
 * applies the step's `on_timeout` when nobody does.
 *
 * Relied on by: the engine (which asks with `request` and resumes the run through the
 * `resume` callback it gives the constructor), approvals-routes.ts, and the Slack
 * interactivity route, which calls `decide` with actor `slack:<user id>`.
 * In the contract: an approval is decided at most once — a second decision, or one after it
 * expired, throws VIGIL_ERR_APPROVAL_DECIDED; each request and decision is on the incident
 * timeline and each decision in the audit chain. The record is ClickHouse's (`approvals`,
 * append-only); Redis holds only the claim that makes "at most once" atomic and the timeout job.
 */
import { createHash } from 'node:crypto'
import { Queue, Worker, type Job } from 'bullmq'
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { VigilError, maskText, type Store } from '@vigil/core'
import type { AuditLog, IncidentStore } from './seams.js'
import type { OnTimeout } from './playbook-schema.js'
import { chToIso, dateToCh, isoToChText, windowConditions } from './clickhouse-time.js'
import { nextVersion, type StepRef } from './run-log.js'

export const APPROVALS_QUEUE = 'respond-approvals'
export const APPROVAL_STATUSES = ['pending', 'approved', 'rejected', 'expired'] as const
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number]
export const APPROVAL_DECISIONS = ['approve', 'reject'] as const
export type ApprovalDecision = (typeof APPROVAL_DECISIONS)[number]

/** One approval request, as the API answers it. */
export interface Approval extends StepRef {
  id: string
  status: ApprovalStatus
  on_timeout: OnTimeout
  requested_at: string
  expires_at: string
  /** Who may decide: operators whose role holds this permission. */
  permission: 'approvals:write'
  decided_by: string | null
  decided_at: string | null
  note: string | null
}

export interface ApprovalRequest {
  idempotencyKey: string
  runId: string
  playbook: string
  step: number
  action: string
  alertId: string
  incidentId: string | null
  onTimeout: OnTimeout
  timeoutMs: number
}

/** What the engine does once an approval is settled: run the step, stop, skip, … */
export type ResumeRun = (approval: Approval, outcome: 'approved' | 'rejected' | 'expired', actor: string) => Promise<void>

export interface ApprovalsDeps {
  store: Store
  /** A BullMQ-ready connection (maxRetriesPerRequest: null). */
  connection: Redis
  prefix: string
  logger: Logger
  incidents: IncidentStore
  audit: AuditLog
  resume: ResumeRun
  /** Told of each new request, e.g. to post a Slack message with buttons. Failures are logged. */
  onRequested?: (approval: Approval) => Promise<void>
}

const COLUMNS = [
  'id', 'version', 'status', 'idempotency_key', 'run_id', 'playbook', 'step', 'action', 'alert_id', 'incident_id', 'on_timeout', 'requested_at',
  'expires_at', 'decided_by', 'note', 'changed_at',
] as const

const CURRENT = `
SELECT id AS ap_id, argMax(status, version) AS st, argMax(idempotency_key, version) AS ikey, argMax(run_id, version) AS rid,
  argMax(playbook, version) AS pb, argMax(step, version) AS stp, argMax(action, version) AS act, argMax(alert_id, version) AS aid,
  argMax(incident_id, version) AS inc, argMax(on_timeout, version) AS ot, toString(min(requested_at)) AS req,
  toString(argMax(expires_at, version)) AS exp, argMax(decided_by, version) AS dby, argMax(note, version) AS nt,
  toString(max(changed_at)) AS upd
FROM approvals`

interface Row {
  ap_id: string
  st: string
  ikey: string
  rid: string
  pb: string
  stp: number
  act: string
  aid: string
  inc: string
  ot: string
  req: string
  exp: string
  dby: string
  nt: string
  upd: string
}

const toApproval = (r: Row): Approval => {
  const decided = r.st !== 'pending'
  return {
    id: r.ap_id,
    status: r.st as ApprovalStatus,
    idempotency_key: r.ikey,
    run_id: r.rid,
    playbook: r.pb,
    step: Number(r.stp),
    action: r.act,
    alert_id: r.aid,
    incident_id: r.inc || null,
    on_timeout: r.ot as OnTimeout,
    requested_at: chToIso(r.req),
    expires_at: chToIso(r.exp),
    permission: 'approvals:write',
    decided_by: decided ? r.dby || null : null,
    decided_at: decided ? chToIso(r.upd) : null,
    note: decided ? r.nt || null : null,
  }
}

/** `ap_` + 24 hex from the step's key: the same step always asks under the same id. */
export function approvalIdOf(idempotencyKey: string): string {
  return `ap_${createHash('sha256').update(`approval\u0000${idempotencyKey}`).digest('hex').slice(0, 24)}`
}

export class Approvals {
  private readonly queue: Queue
  private worker: Worker | undefined
  private readonly claimPrefix: string

  constructor(private readonly deps: ApprovalsDeps) {
    this.queue = new Queue(APPROVALS_QUEUE, { connection: deps.connection, prefix: deps.prefix })
    this.claimPrefix = `${deps.prefix}:respond:approval-claim:`
  }

  /** Starts the worker that applies `on_timeout` to requests nobody answered. */
  start(): void {
    if (this.worker) return
    this.worker = new Worker(APPROVALS_QUEUE, (job: Job<{ id: string }>) => this.expire(job.data.id), {
      connection: this.deps.connection,
      prefix: this.deps.prefix,
      concurrency: 4,
    })
    this.worker.on('error', (err) => this.deps.logger.error({ err: maskText(String(err)) }, 'approvals worker error'))
  }

  async close(): Promise<void> {
    await this.worker?.close()
    await this.queue.close()
  }

  private async write(a: Approval, status: ApprovalStatus, decidedBy: string, note: string): Promise<void> {
    const row = {
      id: a.id,
      version: nextVersion(),
      status,
      idempotency_key: a.idempotency_key,
      run_id: a.run_id,
      playbook: a.playbook,
      step: a.step,
      action: a.action,
      alert_id: a.alert_id,
      incident_id: a.incident_id ?? '',
      on_timeout: a.on_timeout,
      requested_at: isoToChText(a.requested_at),
      expires_at: isoToChText(a.expires_at),
      decided_by: decidedBy,
      note,
      changed_at: dateToCh(new Date()),
    }
    await this.deps.store.insertNdjson('approvals', COLUMNS, `${JSON.stringify(row)}\n`)
  }

  async get(id: string): Promise<Approval | undefined> {
    if (!/^ap_[0-9a-f]{24}$/.test(id)) return undefined
    const rows = await this.deps.store.query<Row>(`${CURRENT} WHERE id = {id:String} GROUP BY id`, { id })
    return rows[0] ? toApproval(rows[0]) : undefined
  }

  /** Newest first; `before` is the previous page's last (requested_at in ClickHouse text, id). */
  async list(filter: { status?: ApprovalStatus; fromMs?: number; toMs?: number; before?: { at: string; id: string }; limit: number }): Promise<Approval[]> {
    const { conditions: where, params } = windowConditions(filter, { time: 'req', id: 'ap_id' })
    params.limit = filter.limit
    if (filter.status) {
      where.push('st = {status:String}')
      params.status = filter.status
    }
    const rows = await this.deps.store.query<Row>(
      `SELECT * FROM (${CURRENT} GROUP BY id) ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY req DESC, ap_id DESC LIMIT {limit:UInt32}`,
      params,
    )
    return rows.map(toApproval)
  }

  /**
   * Asks for approval of a step, once: asking again for the same step answers the request
   * already made (whatever its status) with `created: false`.
   */
  async request(req: ApprovalRequest): Promise<{ approval: Approval; created: boolean }> {
    const id = approvalIdOf(req.idempotencyKey)
    const existing = await this.get(id)
    if (existing) return { approval: existing, created: false }
    const now = Date.now()
    const approval: Approval = {
      id,
      status: 'pending',
      idempotency_key: req.idempotencyKey,
      run_id: req.runId,
      playbook: req.playbook,
      step: req.step,
      action: req.action,
      alert_id: req.alertId,
      incident_id: req.incidentId,
      on_timeout: req.onTimeout,
      requested_at: new Date(now).toISOString(),
      expires_at: new Date(now + req.timeoutMs).toISOString(),
      permission: 'approvals:write',
      decided_by: null,
      decided_at: null,
      note: null,
    }
    await this.write(approval, 'pending', '', '')
    // The job id makes the timeout once-only even if the request is written twice in a race.
    await this.queue.add('timeout', { id }, { jobId: `${id}.timeout`, delay: req.timeoutMs, removeOnComplete: 1000, removeOnFail: 1000, attempts: 5, backoff: { type: 'exponential', delay: 1000 } })
    if (approval.incident_id) {
      await this.deps.incidents.addTimeline(approval.incident_id, {
        kind: 'approval_requested',
        actor: `playbook:${approval.playbook}`,
        alert_id: approval.alert_id,
        playbook: approval.playbook,
        step: approval.action,
        attempt: null,
        outcome: 'pending',
        detail: { approval_id: id, step_index: approval.step, expires_at: approval.expires_at, on_timeout: approval.on_timeout },
      })
    }
    if (this.deps.onRequested) {
      await this.deps.onRequested(approval).catch((err: unknown) =>
        this.deps.logger.warn({ approval: id, err: maskText(err instanceof Error ? err.message : String(err)) }, 'approval notification failed'),
      )
    }
    return { approval, created: true }
  }

  // Redis SET NX makes "decided once" atomic across processes and concurrent clicks; the
  // ClickHouse status is checked first, so a decision survives a Redis that lost its keys.
  private async claim(id: string, what: string): Promise<boolean> {
    const ok = await this.deps.connection.set(`${this.claimPrefix}${id}`, what, 'EX', 8 * 86_400, 'NX')
    return ok === 'OK'
  }

  /**
   * A person's decision. approve → the step runs with `actor` as its actor; reject → the run
   * stops. Throws VIGIL_ERR_APPROVAL_NOT_FOUND, or VIGIL_ERR_APPROVAL_DECIDED when it was
   * decided or expired already.
   */
  async decide(id: string, input: { decision: ApprovalDecision; actor: string; note?: string }): Promise<Approval> {
    if (!(APPROVAL_DECISIONS as readonly string[]).includes(input.decision)) throw new VigilError('VIGIL_ERR_API_BAD_REQUEST', 'decision must be approve or reject')
    const note = maskText((input.note ?? '').slice(0, 1000))
    const current = await this.get(id)
    if (!current) throw new VigilError('VIGIL_ERR_APPROVAL_NOT_FOUND')
    if (current.status !== 'pending') throw new VigilError('VIGIL_ERR_APPROVAL_DECIDED', current.status)
    if (Date.parse(current.expires_at) <= Date.now()) throw new VigilError('VIGIL_ERR_APPROVAL_DECIDED', 'expired')
    const status: ApprovalStatus = input.decision === 'approve' ? 'approved' : 'rejected'
    if (!(await this.claim(id, status))) throw new VigilError('VIGIL_ERR_APPROVAL_DECIDED')
    await this.write(current, status, input.actor, note)
    const decided: Approval = { ...current, status, decided_by: input.actor, decided_at: new Date().toISOString(), note: note || null }
    await this.settle(decided, status, input.actor)
    return decided
  }

  /** The timeout job: applies on_timeout unless someone decided first. */
  async expire(id: string): Promise<void> {
    const current = await this.get(id)
    if (!current || current.status !== 'pending') return
    if (!(await this.claim(id, 'expired'))) return
    await this.write(current, 'expired', 'system', `nobody answered: ${current.on_timeout}`)
    await this.settle({ ...current, status: 'expired', decided_by: 'system', decided_at: new Date().toISOString(), note: `nobody answered: ${current.on_timeout}` }, 'expired', 'system')
  }

  private async settle(a: Approval, outcome: 'approved' | 'rejected' | 'expired', actor: string): Promise<void> {
    await this.queue.remove(`${a.id}.timeout`).catch(() => 0)
    await this.deps.audit.append({
      actor,
      action: 'approval.decide',
      subject: a.id,
      detail: { outcome, playbook: a.playbook, step: a.step, action: a.action, alert_id: a.alert_id, incident_id: a.incident_id, ...(a.note ? { note: a.note } : {}) },
    })
    if (a.incident_id) {
      await this.deps.incidents.addTimeline(a.incident_id, {
        kind: 'approval_decided',
        actor,
        alert_id: a.alert_id,
        playbook: a.playbook,
        step: a.action,
        attempt: null,
        outcome,
        detail: { approval_id: a.id, step_index: a.step, ...(outcome === 'expired' ? { on_timeout: a.on_timeout } : {}), ...(a.note ? { note: a.note } : {}) },
      })
    }
    await this.deps.resume(a, outcome, actor)
  }
}
