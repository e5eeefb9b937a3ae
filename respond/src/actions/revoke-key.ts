/**
 * `revoke_key`: revokes the alert's API key, so guards refuse it (CONTRACT §3). Destructive:
 * may sit behind `require_approval`. Idempotent through the key-state store: a key already
 * revoked answers `already_done` and takes no second control version.
 */
import { Type } from '@sinclair/typebox'
import { UnrecoverableError } from 'bullmq'
import type { Action } from '../action.js'
import { renderTemplate } from './template.js'
import { refusalsAreUnrecoverable } from './failures.js'

export const RevokeKeyParams = Type.Object(
  {
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: 'Why, as a template (e.g. "{{alert.rule}}: {{alert.summary}}"). Default names the rule and the alert.' })),
  },
  { additionalProperties: false },
)

export const DEFAULT_REVOKE_REASON = '{{alert.rule}} alert {{alert.id}}'

export const revokeKey: Action<typeof RevokeKeyParams> = {
  type: 'revoke_key',
  description: "Revokes the alert's API key: trading APIs refuse it until it is restored.",
  params: RevokeKeyParams,
  destructive: true,
  async run(ctx, params, deps) {
    const apiKeyId = ctx.alert.api_key_id
    if (!apiKeyId) throw new UnrecoverableError(`revoke_key needs an alert with an api_key_id; alert ${ctx.alert.id} (${ctx.alert.rule}) has none`)
    const reason = renderTemplate(params.reason ?? DEFAULT_REVOKE_REASON, ctx)
    const r = await refusalsAreUnrecoverable('revoke_key', () =>
      deps.keys.revoke(apiKeyId, { reason, actor: ctx.actor, incidentId: ctx.incident?.id ?? null, alertId: ctx.alert.id }),
    )
    const detail = { api_key_id: apiKeyId, status: r.value.status, revoked_at: r.value.revoked_at, reason: r.value.reason, control_version: r.version }
    if (r.changed) return { outcome: 'done', summary: `revoked key ${apiKeyId}`, detail }
    // Revoked for this alert with this step's reason: the step's own revocation, made when the
    // alerts worker picked the alert up (engine.ts, revokeAtPickup).
    const atPickup = r.byAlert === ctx.alert.id && r.value.reason === reason
    return atPickup
      ? { outcome: 'already_done', summary: `key ${apiKeyId} revoked at alert pickup`, detail: { ...detail, at_pickup: true } }
      : { outcome: 'already_done', summary: `key ${apiKeyId} was already revoked`, detail }
  },
}
