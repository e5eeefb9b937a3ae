/**
 * What report compilers read besides the store, gathered where every workspace is in reach:
 * the audit chain (respond), the clock.skew rule's limits and the rules in force (detect's
 * rule files), the playbooks the engine loaded (respond). respond's reports import none of
 * detect (DESIGN: packages meet in tables and core types), so the server hands these over.
 *
 * Relied on by: response-wiring.ts (the `/v1/reports` routes, the report step and schedules)
 * and the CLI's `vigil reports generate`.
 */
import { DEFAULT_RULES_DIR, loadRules, type Rule } from '@vigil/detect'
import type { AuditLog, ClockLimits, ControlInventoryItem, Playbook, ReportDeps } from '@vigil/respond'

const CLOCK_RULE = 'clock.skew'

/** The clock.skew rule's limits: `max_skew_ms`, and `source_max_skew_ms` per source. */
export function clockLimitsOf(rules: readonly Rule[], origin: string): ClockLimits | undefined {
  const rule = rules.find((r) => r.id === CLOCK_RULE)
  if (!rule) return undefined
  const def = rule.params.max_skew_ms
  const per = rule.params.source_max_skew_ms
  const perSourceMs: Record<string, number> = {}
  if (per && typeof per === 'object' && !Array.isArray(per)) {
    for (const [k, v] of Object.entries(per)) if (typeof v === 'number') perSourceMs[k] = v
  }
  return { defaultMs: typeof def === 'number' ? def : 250, perSourceMs, origin }
}

const paramText = (params: Record<string, unknown>) =>
  Object.keys(params)
    .sort()
    .map((k) => `${k}: ${JSON.stringify(params[k])}`)
    .join('; ')

/** The rules and playbooks in force, as the market-access review lists them. */
export function controlInventory(rules: readonly Rule[], playbooks: readonly Playbook[]): ControlInventoryItem[] {
  return [
    ...rules
      .filter((r) => r.enabled)
      .map((r) => ({ kind: 'rule' as const, id: r.id, name: r.name, settings: `severity ${r.severity}; window ${r.windowMs / 1000} s; ${paramText(r.params)}`, modified: r.modified ?? null })),
    ...playbooks
      .filter((p) => p.enabled)
      .map((p) => ({ kind: 'playbook' as const, id: p.id, name: p.name, settings: `steps: ${p.steps.map((s) => s.action).join(', ')}`, modified: p.modified || null })),
  ]
}

export interface ReportDepsSource {
  audit?: AuditLog
  playbooks?: () => readonly Playbook[]
  /** @defaultValue detect's rules/detections of this checkout */
  rulesDir?: string
}

/**
 * Report deps read fresh at each compilation (rule files may change between reports); a rules
 * directory that does not load leaves the clock limits at their default and the inventory
 * without rules, which the reports then say.
 */
export function reportDepsFrom(src: ReportDepsSource): () => Omit<ReportDeps, 'store'> {
  return () => {
    const dir = src.rulesDir ?? DEFAULT_RULES_DIR
    let rules: Rule[] = []
    try {
      rules = loadRules(dir)
    } catch {
      rules = []
    }
    const clock = clockLimitsOf(rules, `the clock.skew rule (${rules.find((r) => r.id === CLOCK_RULE)?.file ?? 'rules/detections'})`)
    return {
      ...(src.audit ? { audit: src.audit } : {}),
      ...(clock ? { clockLimits: clock } : {}),
      controls: controlInventory(rules, src.playbooks?.() ?? []),
    }
  }
}
