/**
 * The `Action` interface: one thing a playbook step does (revoke a key, trip a
 * kill-switch, post to Slack, send an email, call a webhook, open an incident …).
 *
 * Relied on by: the playbook engine (engine.ts), which runs each step as a BullMQ job and
 * calls `run` once per attempt; the playbook schema, which takes each action's `params`
 * schema; and the shared conformance suite (actions/conformance.test.ts) every action must
 * pass.
 *
 * In the contract:
 * - `run` is idempotent under `ctx.idempotencyKey`: running it again after a success (a
 *   retried job, the same alert delivered twice) must not act twice — it answers
 *   `already_done` instead. Actions on state get this from the state stores (`changed:
 *   false`); actions with outside effects (Slack, email, webhook) record the key.
 * - A failure worth retrying throws an ordinary Error; the engine retries with exponential
 *   backoff and jitter, then dead-letters. A failure no retry can mend (bad parameters, a
 *   missing setting) throws `UnrecoverableError` from bullmq.
 * - Errors and `detail` never carry a secret: they go to the incident timeline and logs.
 * Not in the contract: ordering between steps (the engine's), approvals (the engine's).
 */
import type { TSchema, Static } from '@sinclair/typebox'
import type { Alert, VigilConfig } from '@vigil/core'
import type { Logger } from 'pino'
import type { Redis } from 'ioredis'
import type { AuditLog, IncidentStore, IncidentSummary, KeyStateStore, KillSwitchStore } from './seams.js'
import type { ReportStore } from './reports/report-store.js'

/** What every action may use. Built once by the engine. */
export interface ActionDeps {
  config: VigilConfig
  logger: Logger
  redis: Redis
  keys: KeyStateStore
  killswitches: KillSwitchStore
  incidents: IncidentStore
  audit: AuditLog
  /**
   * Resolves the secret references in step params (a webhook's `secret_ref`): playbook files
   * never hold a secret. The server wires it to the source registry (ref = source id).
   * Absent: actions that need a secret fail unrecoverably.
   */
  secrets?: SecretResolver
  /** Stored regulatory reports, for `compile_report`. Absent: that step fails unrecoverably. */
  reports?: ReportStore
}

/** Secrets by reference; `null` when the reference names nothing. */
export interface SecretResolver {
  resolve(ref: string): Promise<string | null>
}

/** What one attempt of one step knows. */
export interface ActionContext {
  alert: Alert
  /** The incident of this playbook run (the engine opens it before any other step), without its timeline. */
  incident: IncidentSummary | null
  playbook: string
  /** Index of the step in its playbook, from 0. */
  step: number
  /** `<alert id>.<playbook id>.<step index>`: the same for every attempt and every redelivery. */
  idempotencyKey: string
  /** From 1. */
  attempt: number
  /** `playbook:<playbook id>`, or the approver when a person approved the step. */
  actor: string
  /** Outcomes of the earlier steps of this run, for messages that say what was already done. */
  done: ReadonlyArray<{ action: string; outcome: ActionOutcome; summary: string }>
}

export type ActionOutcome = 'done' | 'already_done' | 'skipped'

export interface ActionResult {
  outcome: ActionOutcome
  /** One line for people, e.g. "revoked key k_123". */
  summary: string
  /** Kept on the timeline; masked, never a secret. */
  detail?: Record<string, unknown>
}

export interface Action<S extends TSchema = TSchema> {
  /** The name playbooks use, e.g. `revoke_key`. */
  readonly type: string
  /** One line for the docs and `vigil playbooks lint`. */
  readonly description: string
  /** Validated when playbooks load; `run` receives the parsed value. */
  readonly params: S
  /** Changes what a trading API may do (revoke, kill-switch): may sit behind `require_approval`. */
  readonly destructive: boolean
  run(ctx: ActionContext, params: Static<S>, deps: ActionDeps): Promise<ActionResult>
}
