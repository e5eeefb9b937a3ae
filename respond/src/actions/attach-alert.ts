/**
 * `attach_alert`: attaches the alert to the run's incident (the one open_incident opened),
 * e.g. after a step that decided this alert belongs with it. Idempotent through the incident
 * store: an alert already attached answers `already_done`.
 */
import { Type } from '@sinclair/typebox'
import { UnrecoverableError } from 'bullmq'
import type { Action } from '../action.js'
import { refusalsAreUnrecoverable } from './failures.js'

export const AttachAlertParams = Type.Object({}, { additionalProperties: false })

export const attachAlert: Action<typeof AttachAlertParams> = {
  type: 'attach_alert',
  description: "Attaches the alert to the run's incident, raising the incident's severity to the alert's if higher.",
  params: AttachAlertParams,
  destructive: false,
  async run(ctx, _params, deps) {
    const incident = ctx.incident
    if (!incident) throw new UnrecoverableError(`attach_alert needs the run's incident (open_incident first); alert ${ctx.alert.id} has none`)
    const r = await refusalsAreUnrecoverable('attach_alert', () => deps.incidents.attachAlert(incident.id, ctx.alert, ctx.actor))
    const detail = { incident_id: r.incident.id, severity: r.incident.severity, alerts: r.incident.alert_ids.length }
    return r.attached
      ? { outcome: 'done', summary: `attached alert ${ctx.alert.id} to incident ${r.incident.id}`, detail }
      : { outcome: 'already_done', summary: `alert ${ctx.alert.id} was already in incident ${r.incident.id}`, detail }
  },
}
