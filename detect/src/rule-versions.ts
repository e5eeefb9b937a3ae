/**
 * Rule files as versions of a control (core/src/control-versions.ts): each loaded rule's
 * file hash and the settings that decide what it detects, for the control-version log that
 * `vigil up` keeps and the hashes `vigil rules test` records with each run.
 *
 * Relied on by: server/src/runtime.ts (records these at start), the `vigil rules test`
 * action (the hashes of the files it tested) and, through the table, the market-access
 * review. The settings listed here are the public meaning of a "threshold change": adding
 * one changes what reports call a change.
 */
import path from 'node:path'
import { snapshotControls, type ControlSnapshots } from '@vigil/core'
import { DEFAULT_RULES_DIR, parseRule, RuleError, type Rule } from './rules.js'

const REPO_ROOT = path.resolve(DEFAULT_RULES_DIR, '..', '..')

/** What a rule version is judged by: severity, switch, windows (ms), thresholds, escalation, allowlist. */
export function ruleControlParams(rule: Rule): Record<string, unknown> {
  return {
    severity: rule.severity,
    enabled: rule.enabled,
    entity: rule.entity,
    version: rule.version,
    window_ms: rule.windowMs,
    lateness_ms: rule.latenessMs,
    suppression_ms: rule.suppressionMs,
    params: rule.params,
    escalate: rule.escalate ?? [],
    allowlist: rule.allowlist ?? null,
  }
}

export type RuleSnapshots = ControlSnapshots

/** The loaded rules as control snapshots; one whose file was edited since it was loaded is skipped and named (core's `snapshotControls`). */
export function ruleControlSnapshots(rules: readonly Rule[], read?: (file: string) => string): RuleSnapshots {
  return snapshotControls(rules, {
    kind: 'rule',
    root: REPO_ROOT,
    params: ruleControlParams,
    parse(text, file) {
      try {
        return parseRule(text, file)
      } catch (err) {
        if (err instanceof RuleError) return undefined
        throw err
      }
    },
    ...(read ? { read } : {}),
  })
}
