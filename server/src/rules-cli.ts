/**
 * `vigil rules disable <id> --reason …` and `vigil rules enable <id> --reason …`: the same
 * runtime switch as `POST /v1/rules/:id/enabled` (detect's `switchRule`), run like `vigil
 * users` — over a running `vigil up`'s admin socket when there is one, else on the store the
 * CLI opens — audited on either path, with `cli:<user>` as the actor. Every engine process
 * picks the switch up from `rule_changes` within about a second.
 */
import type { Command } from 'commander'
import type { AdminInput, AdminOperation, AdminOutput } from './admin-commands.js'

export interface RulesCliDeps {
  run<K extends AdminOperation>(operation: K, input: AdminInput<K>): Promise<AdminOutput<K>>
  emit(json: boolean, outcome: { json: object; human: string }): unknown
  actor(): string
}

export function registerRuleSwitchCommands(rules: Command, deps: RulesCliDeps): void {
  for (const [verb, enabled] of [['disable', false], ['enable', true]] as const) {
    rules
      .command(`${verb} <id>`)
      .description(`${verb} a detection rule at runtime in every engine process (admin socket of vigil up, else the store); audited`)
      .requiredOption('--reason <text>', 'why (1-1000 characters), kept with the switch and in the audit chain')
      .option('--json', 'print one JSON object')
      .action(async (id: string, opts: { reason: string; json?: boolean }) => {
        const rule = await deps.run('rules/switch', { id, enabled: String(enabled), reason: opts.reason, by: deps.actor() })
        deps.emit(opts.json === true, { json: rule, human: `Rule ${rule.id} ${rule.enabled ? 'enabled' : 'disabled'}: ${opts.reason}\n` })
      })
  }
}
