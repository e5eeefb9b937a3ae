import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UnrecoverableError } from 'bullmq'
import type { Alert } from '@vigil/core'
import type { ActionContext, ActionDeps } from '../action.js'
import type { Incident } from '../seams.js'
import { conformanceRun, describeActionConformance } from './conformance.js'
import { attachAlert } from './attach-alert.js'
import { stateActionDeps, type StateActionDeps } from '../testing/state-action-deps.js'

const ctxFor = (alert: Alert, incident: Incident | null, idempotencyKey: string, attempt = 1): ActionContext => ({
  alert,
  incident,
  playbook: 'pb',
  step: 2,
  idempotencyKey,
  attempt,
  actor: 'playbook:pb',
  done: [],
})

/** An incident opened by another alert on another entity, so grouping does not attach this one. */
async function otherIncident(deps: ActionDeps): Promise<Incident> {
  const other = conformanceRun()
  return (await deps.incidents.openForAlert(other.alert, { actor: 'playbook:pb', playbook: 'pb' })).incident
}

const incidents = new Map<string, Incident>()

describeActionConformance(attachAlert, {
  setup: stateActionDeps,
  params: () => ({}),
  invalidParams: [{ incident_id: 'in_x' }, 'attach', null],
  async context(deps, run) {
    let inc = incidents.get(run.alert.id)
    if (!inc) {
      inc = await otherIncident(deps)
      incidents.set(run.alert.id, inc)
    }
    return ctxFor(run.alert, inc, run.idempotencyKey, run.attempt)
  },
  observe: async (deps, run) => {
    const inc = incidents.get(run.alert.id)
    return inc ? ((await deps.incidents.get(inc.id))?.alert_ids.filter((a) => a === run.alert.id).length ?? 0) : 0
  },
})

describe('attach_alert', () => {
  let h: StateActionDeps
  beforeAll(async () => {
    h = await stateActionDeps()
  })
  afterAll(async () => {
    await h.close()
  })

  it('raises the incident severity and says so; without a run incident it is unrecoverable', async () => {
    const inc = await otherIncident(h.deps)
    const run = conformanceRun((a) => ({ ...a, severity: 'critical' }))
    const r = await attachAlert.run(ctxFor(run.alert, inc, run.idempotencyKey), {}, h.deps)
    expect(r).toMatchObject({ outcome: 'done', detail: { incident_id: inc.id, severity: 'critical', alerts: 2 } })
    await expect(attachAlert.run(ctxFor(run.alert, null, run.idempotencyKey), {}, h.deps)).rejects.toBeInstanceOf(UnrecoverableError)
  })

  it('an incident that does not exist is unrecoverable', async () => {
    const inc = await otherIncident(h.deps)
    const run = conformanceRun()
    await expect(attachAlert.run(ctxFor(run.alert, { ...inc, id: 'in_000000000000000000000000' }, run.idempotencyKey), {}, h.deps)).rejects.toThrow(/incident/)
  })
})
