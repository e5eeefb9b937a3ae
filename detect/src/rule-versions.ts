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
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { canonicalParamsJson, contentSha256, type ControlSnapshot } from '@vigil/core'
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

export interface RuleSnapshots {
  snapshots: ControlSnapshot[]
  /** Rules whose file no longer says what was loaded (edited since): not snapshotted, with why. */
  skipped: Array<{ id: string; file: string; why: string }>
}

/**
 * The loaded rules as control snapshots. Each file is read again and hashed, and the text
 * hashed is parsed again: a file edited since it was loaded would otherwise be recorded with
 * a hash that is not the one the engine runs, so such a rule is skipped and named instead
 * (the next start records it).
 */
export function ruleControlSnapshots(rules: readonly Rule[], read: (file: string) => string = (f) => readFileSync(f, 'utf8')): RuleSnapshots {
  const snapshots: ControlSnapshot[] = []
  const skipped: RuleSnapshots['skipped'] = []
  for (const rule of rules) {
    const abs = path.isAbsolute(rule.file) ? rule.file : path.join(REPO_ROOT, rule.file)
    let text: string
    try {
      text = read(abs)
    } catch (err) {
      skipped.push({ id: rule.id, file: rule.file, why: `unreadable: ${(err as NodeJS.ErrnoException).code ?? 'error'}` })
      continue
    }
    let now: Rule
    try {
      now = parseRule(text, rule.file)
    } catch (err) {
      if (!(err instanceof RuleError)) throw err
      skipped.push({ id: rule.id, file: rule.file, why: 'edited since it was loaded, and no longer valid' })
      continue
    }
    const params = ruleControlParams(rule)
    if (now.id !== rule.id || canonicalParamsJson(ruleControlParams(now)) !== canonicalParamsJson(params)) {
      skipped.push({ id: rule.id, file: rule.file, why: 'edited since it was loaded' })
      continue
    }
    snapshots.push({ kind: 'rule', id: rule.id, file: rule.file, sha256: contentSha256(text), params })
  }
  return { snapshots, skipped }
}
