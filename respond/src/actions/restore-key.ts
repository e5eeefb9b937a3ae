/**
 * `restore_key`: lifts a revocation of the alert's API key. Destructive (it changes what a
 * trading API accepts), so a playbook puts it behind `require_approval`. Idempotent through
 * the key-state store: an active key answers `already_done`.
 */
import { Type } from '@sinclair/typebox'
import { UnrecoverableError } from 'bullmq'
import type { Action } from '../action.js'
import { renderTemplate } from './template.js'
import { refusalsAreUnrecoverable } from './failures.js'

export const RestoreKeyParams = Type.Object(
  {
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: 'Why, as a template. Default names the rule and the alert.' })),
  },
  { additionalProperties: false },
)

export const restoreKey: Action<typeof RestoreKeyParams> = {
  type: 'restore_key',
  description: "Restores the alert's API key after a revocation: trading APIs accept it again.",
  params: RestoreKeyParams,
  destructive: true,
  async run(ctx, params, deps) {
    const apiKeyId = ctx.alert.api_key_id
    if (!apiKeyId) throw new UnrecoverableError(`restore_key needs an alert with an api_key_id; alert ${ctx.alert.id} (${ctx.alert.rule}) has none`)
    const reason = renderTemplate(params.reason ?? 'restored after {{alert.rule}} alert {{alert.id}}', ctx)
    const r = await refusalsAreUnrecoverable('restore_key', () =>
      deps.keys.restore(apiKeyId, { reason, actor: ctx.actor, incidentId: ctx.incident?.id ?? null, alertId: ctx.alert.id }),
    )
    const detail = { api_key_id: apiKeyId, status: r.value.status, reason, control_version: r.version }
    return r.changed
      ? { outcome: 'done', summary: `restored key ${apiKeyId}`, detail }
      : { outcome: 'already_done', summary: `key ${apiKeyId} was already active`, detail }
  },
}
