/**
 * The admin operation behind `vigil rules enable|disable` (rules-cli.ts): the same runtime
 * switch as `POST /v1/rules/:id/enabled` (detect's `switchRule`), on whichever store and audit
 * chain the caller has — a running `vigil up`'s over its admin socket, else the CLI's own.
 * Kept apart from rules-cli.ts so admin-commands.ts can import it without an import cycle.
 */
import { VigilError, type Store } from '@vigil/core'
import { loadRules, RuleStates, switchRule, type RuleAudit, type RuleSummary } from '@vigil/detect'

export interface RuleSwitchInput {
  id: string
  /** 'true' or 'false' (admin inputs are strings). */
  enabled: string
  reason: string
  by: string
}

/** The admin operation `rules/switch`, on whichever store and audit chain the caller has. */
export async function switchRuleCommand(ctx: { store: Store; audit: RuleAudit }, input: RuleSwitchInput): Promise<RuleSummary> {
  if (input.enabled !== 'true' && input.enabled !== 'false') throw new VigilError('VIGIL_ERR_RULE_BAD_CHANGE', 'enabled must be true or false')
  const deps = { store: ctx.store, rules: loadRules(), states: new RuleStates(ctx.store), audit: ctx.audit }
  return switchRule(deps, input.id, { enabled: input.enabled === 'true', reason: input.reason }, input.by)
}
