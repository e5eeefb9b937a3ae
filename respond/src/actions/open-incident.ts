/**
 * `open_incident`: the first step of every playbook — opens the incident of this alert, or
 * attaches the alert to the incident already open on its entity (within `group_window`).
 * Idempotent through the incident store: the incident's id is derived from the alert, and an
 * alert already in an incident answers `already_done`. The engine reads `detail.incident_id`.
 */
import { Type } from '@sinclair/typebox'
import { UnrecoverableError } from 'bullmq'
import type { Action } from '../action.js'
import { DURATION_PATTERN, parseDuration } from '../playbook-schema.js'
import { renderTemplate } from './template.js'
import { refusalsAreUnrecoverable } from './failures.js'

export const OpenIncidentParams = Type.Object(
  {
    title: Type.Optional(Type.String({ minLength: 1, maxLength: 300, description: 'A template, e.g. "Brute force on {{alert.api_key_id}}". Default names the rule and the entity.' })),
    group_window: Type.Optional(Type.String({ pattern: DURATION_PATTERN, maxLength: 64, description: 'An alert on an entity with an incident opened this recently joins it (default 24h).' })),
  },
  { additionalProperties: false },
)

export const openIncident: Action<typeof OpenIncidentParams> = {
  type: 'open_incident',
  description: 'Opens the incident of the alert, or attaches the alert to the incident already open on its entity.',
  params: OpenIncidentParams,
  destructive: false,
  async run(ctx, params, deps) {
    let groupWindowMs: number | undefined
    if (params.group_window !== undefined) {
      try {
        groupWindowMs = parseDuration(params.group_window)
      } catch (err) {
        throw new UnrecoverableError(`open_incident: ${(err as Error).message}`)
      }
    }
    const title = params.title === undefined ? undefined : renderTemplate(params.title, ctx, 300)
    const r = await refusalsAreUnrecoverable('open_incident', () =>
      deps.incidents.openForAlert(ctx.alert, {
        actor: ctx.actor,
        playbook: ctx.playbook,
        ...(title !== undefined ? { title } : {}),
        ...(groupWindowMs !== undefined ? { groupWindowMs } : {}),
      }),
    )
    const inc = r.incident
    const detail = { incident_id: inc.id, title: inc.title, severity: inc.severity, status: inc.status, alerts: inc.alert_ids.length }
    if (r.created) return { outcome: 'done', summary: `opened incident ${inc.id}`, detail }
    if (r.attached) return { outcome: 'done', summary: `attached the alert to open incident ${inc.id}`, detail }
    return { outcome: 'already_done', summary: `the alert is already in incident ${inc.id}`, detail }
  },
}
