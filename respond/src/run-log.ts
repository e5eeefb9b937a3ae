/**
 * The engine's record of playbook runs and step outcomes in ClickHouse (`respond_runs`,
 * `respond_steps`, migration 003).
 *
 * Relied on by: engine.ts, for exactly-once beyond Redis: a step whose idempotency key has a
 * success here is never run again (BullMQ's job ids cover the same ground only while Redis
 * remembers the job), and a run parked for approval or dead-lettered resumes from here.
 */
import type { Alert, Store } from '@vigil/core'
import type { ActionOutcome } from './action.js'
import { chToIso, dateToCh } from './clickhouse-time.js'

/** Which step of which run a record is about (approvals and dead letters carry it). */
export interface StepRef {
  /** `<alert id>.<playbook id>.<step index>`: the step's idempotency key. */
  idempotency_key: string
  run_id: string
  playbook: string
  step: number
  action: string
  alert_id: string
  incident_id: string | null
}

export const RUN_STATUSES = ['running', 'waiting_approval', 'done', 'aborted', 'dead_lettered'] as const
export type RunStatus = (typeof RUN_STATUSES)[number]

/** Outcomes after which a step never runs again under its key. */
export const SUCCESS_OUTCOMES: readonly string[] = ['done', 'already_done', 'skipped'] satisfies ActionOutcome[]
export type StepOutcome = ActionOutcome | 'failed' | 'dead_lettered' | 'rejected' | 'aborted'

export interface Run {
  run_id: string
  alert: Alert
  playbook: string
  incident_id: string | null
  status: RunStatus
  updated_at: string
}

export interface StepRecord {
  key: string
  runId: string
  step: number
  action: string
  attempt: number
  outcome: StepOutcome
  summary: string
  /** Masked by the caller. */
  error: string
  actor: string
}

let lastVersion = 0
/** Microseconds since the epoch, strictly increasing within the process. */
export function nextVersion(): number {
  lastVersion = Math.max(Date.now() * 1000, lastVersion + 1)
  return lastVersion
}

/** `<alert id>.<playbook id>` */
export const runIdOf = (alertId: string, playbookId: string) => `${alertId}.${playbookId}`
/** `<alert id>.<playbook id>.<step index>`: BullMQ custom ids must not contain ':'. */
export const stepKeyOf = (runId: string, step: number) => `${runId}.${step}`

const RUN_COLUMNS = ['run_id', 'version', 'alert_id', 'playbook', 'incident_id', 'status', 'alert', 'changed_at'] as const
const STEP_COLUMNS = ['idempotency_key', 'run_id', 'step', 'action', 'attempt', 'outcome', 'summary', 'error', 'actor', 'at'] as const

export class RunLog {
  constructor(private readonly store: Store) {}

  /** Appends a run change; `incidentId` null keeps the one already known. */
  async setRun(alert: Alert, playbook: string, status: RunStatus, incidentId: string | null): Promise<void> {
    const row = {
      run_id: runIdOf(alert.id, playbook),
      version: nextVersion(),
      alert_id: alert.id,
      playbook,
      incident_id: incidentId ?? '',
      status,
      alert: JSON.stringify(alert),
      changed_at: dateToCh(new Date()),
    }
    await this.store.insertNdjson('respond_runs', RUN_COLUMNS, `${JSON.stringify(row)}\n`)
  }

  async getRun(runId: string): Promise<Run | undefined> {
    // Distinct aliases: inside the aggregates a name must mean the column.
    const rows = await this.store.query<{ rid: string; alert_json: string; pb: string; inc: string; st: string; upd: string }>(
      `SELECT run_id AS rid, argMax(alert, version) AS alert_json, argMax(playbook, version) AS pb,
         argMaxIf(incident_id, version, incident_id != '') AS inc, argMax(status, version) AS st, toString(max(changed_at)) AS upd
       FROM respond_runs WHERE run_id = {id:String} GROUP BY run_id`,
      { id: runId },
    )
    const r = rows[0]
    if (!r) return undefined
    return {
      run_id: r.rid,
      alert: JSON.parse(r.alert_json) as Alert,
      playbook: r.pb,
      incident_id: r.inc || null,
      status: r.st as RunStatus,
      updated_at: chToIso(r.upd),
    }
  }

  async recordStep(rec: StepRecord): Promise<void> {
    const row = {
      idempotency_key: rec.key,
      run_id: rec.runId,
      step: rec.step,
      action: rec.action,
      attempt: rec.attempt,
      outcome: rec.outcome,
      summary: rec.summary.slice(0, 2000),
      error: rec.error.slice(0, 2000),
      actor: rec.actor,
      at: dateToCh(new Date()),
    }
    await this.store.insertNdjson('respond_steps', STEP_COLUMNS, `${JSON.stringify(row)}\n`)
  }

  /** The success recorded under `key`, if any (the first one). */
  async successOf(key: string): Promise<{ outcome: ActionOutcome; summary: string; action: string } | undefined> {
    const rows = await this.store.query<{ outcome: string; summary: string; action: string }>(
      `SELECT outcome, summary, action FROM respond_steps
       WHERE idempotency_key = {key:String} AND outcome IN ('done', 'already_done', 'skipped') ORDER BY at LIMIT 1`,
      { key },
    )
    const r = rows[0]
    return r ? { outcome: r.outcome as ActionOutcome, summary: r.summary, action: r.action } : undefined
  }

  /** Every outcome recorded under `key`, oldest first. */
  async stepHistory(key: string): Promise<Array<{ attempt: number; outcome: StepOutcome; summary: string; error: string; actor: string; at: string }>> {
    const rows = await this.store.query<{ attempt: number; outcome: string; summary: string; error: string; actor: string; at_text: string }>(
      `SELECT attempt, outcome, summary, error, actor, toString(at) AS at_text FROM respond_steps WHERE idempotency_key = {key:String} ORDER BY at`,
      { key },
    )
    return rows.map((r) => ({ attempt: Number(r.attempt), outcome: r.outcome as StepOutcome, summary: r.summary, error: r.error, actor: r.actor, at: chToIso(r.at_text) }))
  }

  /** The successful steps of a run so far, in step order (for ActionContext.done). */
  async doneOf(runId: string): Promise<Array<{ step: number; action: string; outcome: ActionOutcome; summary: string }>> {
    const rows = await this.store.query<{ step: number; a: string; o: string; s: string }>(
      `SELECT step, any(action) AS a, argMin(outcome, at) AS o, argMin(summary, at) AS s FROM respond_steps
       WHERE run_id = {run:String} AND outcome IN ('done', 'already_done', 'skipped') GROUP BY step ORDER BY step`,
      { run: runId },
    )
    return rows.map((r) => ({ step: Number(r.step), action: r.a, outcome: r.o as ActionOutcome, summary: r.s }))
  }
}
