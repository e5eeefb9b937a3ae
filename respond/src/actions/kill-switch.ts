/**
 * `kill_switch`: trips a kill-switch on a scope (CONTRACT §3), or asks for a reset of the
 * tripped one. Destructive: may sit behind `require_approval`.
 *
 * The scope is literal (`{type: venue, id: XNAS}`) or taken from the alert: `api_key` (its
 * api_key_id), `account` (its account_id), `source` (an alert on a source, or evidence.source),
 * `entity` (the alert's entity, when that is a scope type), `global`.
 * Idempotent through the kill-switch store: a scope already tripped answers `already_done`
 * with the switch already there. `mode: request_reset` only ever asks (the first of the four
 * eyes): it never confirms someone else's request, since a reset needs a second person.
 */
import { Type, type Static } from '@sinclair/typebox'
import { UnrecoverableError } from 'bullmq'
import { maskText, type Alert } from '@vigil/core'
import { KILLSWITCH_SCOPE_TYPES, type KillSwitch, type KillSwitchScope, type KillSwitchScopeType } from '../seams.js'
import type { Action, ActionContext, ActionDeps, ActionResult } from '../action.js'
import { renderTemplate } from './template.js'
import { refusalsAreUnrecoverable } from './failures.js'

export const SCOPE_REFERENCES = ['api_key', 'account', 'source', 'entity', 'global'] as const
export type ScopeReference = (typeof SCOPE_REFERENCES)[number]

export const KillSwitchParams = Type.Object(
  {
    scope: Type.Union(
      [
        Type.Union(
          SCOPE_REFERENCES.map((r) => Type.Literal(r)),
          { description: "Taken from the alert: its api_key_id, account_id, source, entity, or global." },
        ),
        Type.Object(
          {
            type: Type.Union(KILLSWITCH_SCOPE_TYPES.map((t) => Type.Literal(t))),
            id: Type.String({ minLength: 1, maxLength: 128 }),
          },
          { additionalProperties: false, description: 'A literal scope; global has id "*".' },
        ),
      ],
      { description: 'What the switch stops.' },
    ),
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: 'Why, as a template. Default names the rule and the alert.' })),
    mode: Type.Optional(Type.Union([Type.Literal('trip'), Type.Literal('request_reset')], { description: 'trip (default) or request_reset (the first of two people).' })),
  },
  { additionalProperties: false },
)
type Params = Static<typeof KillSwitchParams>

const ENTITY_SCOPES: ReadonlySet<string> = new Set<KillSwitchScopeType>(['api_key', 'account', 'source'])

/** The scope a step means for this alert, or UnrecoverableError when the alert has no such field. */
export function resolveScope(scope: Params['scope'], alert: Alert): KillSwitchScope {
  const missing = (what: string) => new UnrecoverableError(`kill_switch scope ${what}: alert ${alert.id} (${alert.rule}) has none`)
  if (typeof scope === 'object') return scope.type === 'global' ? { type: 'global', id: '*' } : { type: scope.type, id: scope.id }
  switch (scope) {
    case 'global':
      return { type: 'global', id: '*' }
    case 'api_key':
      if (!alert.api_key_id) throw missing('api_key needs an api_key_id')
      return { type: 'api_key', id: alert.api_key_id }
    case 'account':
      if (!alert.account_id) throw missing('account needs an account_id')
      return { type: 'account', id: alert.account_id }
    case 'source': {
      if (alert.entity.type === 'source') return { type: 'source', id: alert.entity.id }
      const src = alert.evidence.source
      if (typeof src === 'string' && src.length > 0) return { type: 'source', id: src }
      throw missing('source needs an alert on a source or evidence.source')
    }
    case 'entity':
      if (!ENTITY_SCOPES.has(alert.entity.type)) throw missing(`entity needs an entity of type api_key, account or source, not ${alert.entity.type}`)
      return { type: alert.entity.type as KillSwitchScopeType, id: alert.entity.id }
  }
}

const scopeText = (s: KillSwitchScope) => (s.type === 'global' ? 'global' : `${s.type} ${maskText(s.id)}`)

function switchDetail(ks: KillSwitch): Record<string, unknown> {
  return { killswitch_id: ks.id, scope: ks.scope, status: ks.status, tripped_at: ks.tripped_at, reason: ks.reason, reset_request: ks.reset_request }
}

async function requestReset(ctx: ActionContext, scope: KillSwitchScope, reason: string, deps: ActionDeps): Promise<ActionResult> {
  const where = scopeText(scope)
  const tripped = (await deps.killswitches.list({ status: 'tripped', limit: 1000 })).find((k) => k.scope.type === scope.type && k.scope.id === scope.id)
  if (!tripped) return { outcome: 'skipped', summary: `no tripped kill-switch on ${where} to reset`, detail: { scope } }
  if (tripped.reset_request) {
    if (tripped.reset_request.by === ctx.actor) {
      return { outcome: 'already_done', summary: `reset of kill-switch ${tripped.id} on ${where} already requested`, detail: switchDetail(tripped) }
    }
    // Asking again as someone else would confirm the reset: that is for a person to do.
    return { outcome: 'skipped', summary: `reset of kill-switch ${tripped.id} on ${where} already requested; a person must confirm it`, detail: switchDetail(tripped) }
  }
  const r = await refusalsAreUnrecoverable('kill_switch', () => deps.killswitches.requestReset(tripped.id, { reason, actor: ctx.actor }))
  return { outcome: 'done', summary: `requested a reset of kill-switch ${tripped.id} on ${where}`, detail: { ...switchDetail(r.killswitch), outcome: r.outcome } }
}

export const killSwitch: Action<typeof KillSwitchParams> = {
  type: 'kill_switch',
  description: 'Trips a kill-switch on a scope (an api key, account, source, symbol, venue or global), or requests its reset.',
  params: KillSwitchParams,
  destructive: true,
  async run(ctx, params, deps) {
    const scope = resolveScope(params.scope, ctx.alert)
    const reason = renderTemplate(params.reason ?? '{{alert.rule}} alert {{alert.id}}', ctx)
    if (params.mode === 'request_reset') return requestReset(ctx, scope, reason, deps)
    const r = await refusalsAreUnrecoverable('kill_switch', () =>
      deps.killswitches.trip(scope, { reason, actor: ctx.actor, incidentId: ctx.incident?.id ?? null, alertId: ctx.alert.id }),
    )
    const detail = { ...switchDetail(r.value), control_version: r.version }
    const where = scopeText(scope)
    return r.changed
      ? { outcome: 'done', summary: `tripped kill-switch ${r.value.id} on ${where}`, detail }
      : { outcome: 'already_done', summary: `kill-switch ${r.value.id} on ${where} was already tripped`, detail }
  },
}
