import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UnrecoverableError } from 'bullmq'
import type { Alert } from '@vigil/core'
import type { ActionContext } from '../action.js'
import { conformanceRun, describeActionConformance } from './conformance.js'
import { openIncident } from './open-incident.js'
import { incidentIdForAlert } from '../incidents.js'
import { stateActionDeps, type StateActionDeps } from '../testing/state-action-deps.js'

const ctxFor = (alert: Alert, idempotencyKey: string, attempt = 1): ActionContext => ({
  alert,
  incident: null,
  playbook: 'pb_brute',
  step: 0,
  idempotencyKey,
  attempt,
  actor: 'playbook:pb_brute',
  done: [],
})

describeActionConformance(openIncident, {
  setup: stateActionDeps,
  params: (_run, secret) => ({ title: `Brute force on {{alert.api_key_id}}: {{alert.summary}} ${secret}`, group_window: '1h' }),
  invalidParams: [{ title: '' }, { group_window: 'soon' }, { group_window: 24 }, { title: 'x'.repeat(301) }, { severity: 'high' }],
  context: (_deps, run) => ctxFor(run.alert, run.idempotencyKey, run.attempt),
  observe: async (deps, run) => ((await deps.incidents.get(incidentIdForAlert(run.alert.id))) ? 1 : 0),
})

describe('open_incident', () => {
  let h: StateActionDeps
  beforeAll(async () => {
    h = await stateActionDeps()
  })
  afterAll(async () => {
    await h.close()
  })

  it('opens with a rendered title and tells the engine the incident id', async () => {
    const run = conformanceRun()
    const r = await openIncident.run(ctxFor(run.alert, run.idempotencyKey), { title: 'Brute force on {{alert.api_key_id}}' }, h.deps)
    expect(r.outcome).toBe('done')
    expect(r.detail?.incident_id).toBe(incidentIdForAlert(run.alert.id))
    const inc = await h.deps.incidents.get(r.detail?.incident_id as string)
    expect(inc?.title).toBe(`Brute force on ${run.alert.api_key_id}`)
    expect(inc?.timeline[0]).toMatchObject({ kind: 'opened', actor: 'playbook:pb_brute', playbook: 'pb_brute' })
  })

  it('a second alert on the entity is attached (done), then already_done on retry', async () => {
    const first = conformanceRun()
    const second = conformanceRun((a) => ({ ...a, entity: first.alert.entity, api_key_id: first.alert.api_key_id }))
    await openIncident.run(ctxFor(first.alert, first.idempotencyKey), {}, h.deps)
    const r = await openIncident.run(ctxFor(second.alert, second.idempotencyKey), {}, h.deps)
    expect(r).toMatchObject({ outcome: 'done', detail: { incident_id: incidentIdForAlert(first.alert.id), alerts: 2 } })
    expect(r.summary).toMatch(/^attached the alert to open incident in_/)
    const again = await openIncident.run(ctxFor(second.alert, second.idempotencyKey, 2), {}, h.deps)
    expect(again.outcome).toBe('already_done')
  })

  it('group_window 0s opens a new incident even with one open on the entity', async () => {
    const first = conformanceRun()
    const second = conformanceRun((a) => ({ ...a, entity: first.alert.entity }))
    await openIncident.run(ctxFor(first.alert, first.idempotencyKey), {}, h.deps)
    const r = await openIncident.run(ctxFor(second.alert, second.idempotencyKey), { group_window: '0s' }, h.deps)
    expect(r.outcome).toBe('done')
    expect(r.detail?.incident_id).toBe(incidentIdForAlert(second.alert.id))
  })

  it('a group window that is not a duration (bypassing the schema) is unrecoverable', async () => {
    const run = conformanceRun()
    await expect(openIncident.run(ctxFor(run.alert, run.idempotencyKey), { group_window: 'forever' }, h.deps)).rejects.toBeInstanceOf(UnrecoverableError)
  })
})
