/**
 * Data-driven severity: a rule's `escalate` steps (rules/detections/*.yaml) raise the
 * severity of a finding whose count or score passes a step's bar, so the response side's
 * `min_severity: critical` playbooks can act on real traffic.
 *
 * Relied on by: the engine, which applies it to every finding right before the alert is
 * written (detectors never see it: they report the rule's own severity); the alert store,
 * which applies the same steps to an open alert's merged count and score when a repeat
 * updates it; backtest, which merges findings on its own. `evidence.escalated`
 * (`{from, to, by}`) is how an analyst sees why an alert is above its rule's severity.
 * Escalation only ever raises a severity, and only of something that already fires.
 */
import { severityRank, type Severity } from '@vigil/core'
import type { EngineRule, EscalationStep, Finding } from './detector.js'

/** What `evidence.escalated` says: the rule's severity, the one given, and the step that gave it. */
export interface Escalation {
  from: Severity
  to: Severity
  /** The step's conditions: `min_count 50`, `min_score 90`, `min_count 50, min_score 90`. */
  by: string
}

/** `min_count 50, min_score 90`: a step's conditions as `evidence.escalated.by` names them. */
export function describeStep(step: EscalationStep): string {
  const parts: string[] = []
  if (step.min_count !== undefined) parts.push(`min_count ${step.min_count}`)
  if (step.min_score !== undefined) parts.push(`min_score ${step.min_score}`)
  return parts.join(', ')
}

function holds(step: EscalationStep, count: number, score: number): boolean {
  // A step with no condition would always hold; lint refuses it, and here it never holds.
  if (step.min_count === undefined && step.min_score === undefined) return false
  return (step.min_count === undefined || count >= step.min_count) && (step.min_score === undefined || score >= step.min_score)
}

/**
 * The highest step of `steps` above `from` whose every condition holds for `count` and
 * `score`, as an escalation from `from`; undefined when none does.
 */
export function escalationFor(steps: readonly EscalationStep[] | undefined, from: Severity, count: number, score: number): Escalation | undefined {
  let best: EscalationStep | undefined
  for (const step of steps ?? []) {
    if (severityRank(step.severity) <= severityRank(best?.severity ?? from)) continue
    if (holds(step, count, score)) best = step
  }
  return best ? { from, to: best.severity, by: describeStep(best) } : undefined
}

/**
 * `f` with its rule's escalation applied: the severity raised and `evidence.escalated` set
 * (the detector's evidence kept as it is). `f` itself when no step holds.
 */
export function escalateFinding(f: Finding, rule: Pick<EngineRule, 'escalate'>): Finding {
  const e = escalationFor(rule.escalate, f.severity, f.count, f.score)
  return e ? { ...f, severity: e.to, evidence: { ...f.evidence, escalated: e } } : f
}
