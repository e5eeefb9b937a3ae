/**
 * The Detector interface: one per rule of CONTRACT §5, all driven by the same engine.
 *
 * In the contract (relied on by the engine, backtests and the conformance test):
 * - `detect` receives the events that ARRIVED since the last call (arrival order, any event
 *   time — late history included) and returns findings. It may read storage (rollups,
 *   history) but never writes it: the engine owns alerts.
 * - Same stored data and same events in → same findings out. A finding's `windowStartMs` is
 *   derived from event times only, never from the clock, so two engines (or a retry) make
 *   the same alert id.
 * - Every threshold comes from `rule.params`; nothing that decides firing is a constant in code.
 * - State between calls lives only in the engine's `ctx.memory` (memory.ts), and only to skip
 *   storage reads that cannot change a finding: with or without memory, the same findings.
 *   `ctx.memory` is absent in backtests and may be cold at any time (restart, second process).
 * Out of the contract: how a detector reads storage.
 */
import type { Store } from '@vigil/core'
import type { DetectorMemory } from './memory.js'

export type { Severity, EntityType } from '@vigil/core'
import type { Severity, EntityType } from '@vigil/core'

/** One step of a rule's `escalate` list: the severity given when every condition holds. */
export interface EscalationStep {
  severity: Severity
  /** Holds when the finding's (for an open alert: all its repeats') count is at least this. */
  min_count?: number
  /** Holds when the finding's (for an open alert: its highest) score is at least this. */
  min_score?: number
}

/** What the engine needs of a rule; the rule file (rules/detections) carries more. */
export interface EngineRule {
  id: string
  severity: Severity
  entity: EntityType
  enabled: boolean
  windowMs: number
  latenessMs: number
  suppressionMs: number
  params: Record<string, unknown>
  /**
   * Steps that raise a finding's severity above `severity` by its count or score (the
   * rule's `escalate`); the engine applies them, detectors never do. See escalation.ts.
   */
  escalate?: readonly EscalationStep[]
  allowlist?: {
    ips?: readonly string[]
    api_keys?: readonly string[]
    accounts?: readonly string[]
    countries?: readonly string[]
    sources?: readonly string[]
  }
}

/** One event as the detectors see it (a row of detect_stream). */
export interface StreamEvent {
  receivedAt: string
  /** Epoch ms of the event time, fractional. */
  tsMs: number
  ts: string
  source: string
  id: string
  action: string
  outcome: string
  reason: string
  api_key_id: string
  account_id: string
  user_id: string
  /** '' when absent; IPv4 shown dotted. */
  client_ip: string
  http_path: string
  attrs: Record<string, string>
  order_qty: number | null
  order_notional: number | null
  order_symbol: string
  /** ISO 4217 of the order (`order.currency`), '' when not given. */
  order_currency: string
  geo_country: string
  geo_city: string
  geo_lat: number | null
  geo_lon: number | null
  clock_skew_ms: number
}

export interface Finding {
  rule: string
  severity: Severity
  /** 0-100: how far past the threshold. */
  score: number
  entity: { type: EntityType; id: string }
  api_key_id?: string
  account_id?: string
  client_ip?: string
  /** Event time of the first and last event that made the finding. */
  firstSeenMs: number
  lastSeenMs: number
  /** Start of the event-time window that fired; part of the alert id. */
  windowStartMs: number
  /** How many events (or windows) the finding covers. */
  count: number
  summary: string
  /** The numbers that fired: value, baseline, threshold, score, sample event ids, … */
  evidence: { value?: number; baseline?: number; threshold?: number; z?: number; sample_event_ids: string[]; [k: string]: unknown }
  /** Arrival time of the newest event behind the finding, for event-to-alert latency. */
  eventReceivedAt?: string
}

export interface DetectorContext {
  store: Store
  rule: EngineRule
  /** The engine's memory between ticks (memory.ts); absent in a backtest. */
  memory?: DetectorMemory
}

export interface Detector {
  readonly ruleId: string
  detect(events: readonly StreamEvent[], ctx: DetectorContext): Promise<Finding[]>
  /**
   * Called once by an engine before its first batch, with the arrival time (epoch ms) its
   * cursor resumes from: fills memory from storage so that later ticks can skip reads.
   * Optional; a failure only leaves the memory cold.
   */
  warmUp?(ctx: DetectorContext & { memory: DetectorMemory; resumeFromMs: number }): Promise<void>
  /**
   * Called by an engine every few seconds beside its passes (never inside one, never awaited by
   * one), with the arrival time (epoch ms) of the newest event it has judged: may read into
   * memory what coming passes will need (the baselines of the window about to begin), so they
   * read nothing. It must only add what a pass's own read would give; a pass that finds nothing
   * prepared reads as before. Optional; a failure only leaves the memory cold.
   */
  prepare?(ctx: DetectorContext & { memory: DetectorMemory; nowMs: number }): Promise<void>
}
