import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UnrecoverableError } from 'bullmq'
import type { Alert } from '@vigil/core'
import type { ActionContext } from '../action.js'
import { conformanceRun, describeActionConformance } from './conformance.js'
import { revokeKey } from './revoke-key.js'
import { stateActionDeps, type StateActionDeps } from '../testing/state-action-deps.js'

const ctxFor = (alert: Alert, idempotencyKey: string, attempt = 1): ActionContext => ({
  alert,
  incident: null,
  playbook: 'pb',
  step: 1,
  idempotencyKey,
  attempt,
  actor: 'playbook:pb',
  done: [],
})

describeActionConformance(revokeKey, {
  setup: stateActionDeps,
  params: (_run, secret) => ({ reason: `{{alert.rule}}: {{alert.summary}} (${secret})` }),
  invalidParams: [{ reason: '' }, { reason: 7 }, { reason: 'x'.repeat(1001) }, { api_key_id: 'k_other' }, 'revoke'],
  context: (_deps, run) => ctxFor(run.alert, run.idempotencyKey, run.attempt),
  observe: async (deps, run) => ((await deps.keys.get(run.alert.api_key_id!)).status === 'revoked' ? 1 : 0),
  failing: { alert: (a) => ({ ...a, api_key_id: null }), expect: /UnrecoverableError: revoke_key needs an alert with an api_key_id/ },
})

describe('revoke_key', () => {
  let h: StateActionDeps
  beforeAll(async () => {
    h = await stateActionDeps()
  })
  afterAll(async () => {
    await h.close()
  })

  it('revokes with a masked reason, the incident and the alert, in one control version and one audit entry', async () => {
    const run = conformanceRun()
    const r = await revokeKey.run({ ...ctxFor(run.alert, run.idempotencyKey), actor: 'operator:tok_9' }, { reason: 'leaked: {{alert.summary}}' }, h.deps)
    expect(r).toMatchObject({ outcome: 'done', summary: `revoked key ${run.alert.api_key_id}` })
    const state = await h.deps.keys.get(run.alert.api_key_id!)
    expect(state.status).toBe('revoked')
    expect(state.reason).toMatch(/^leaked: 12 failed logins/)
    expect(state.reason).toContain('[masked:')
    for (const s of run.secrets) expect(state.reason).not.toContain(s)
    const v = await h.control.version()
    await revokeKey.run(ctxFor(run.alert, run.idempotencyKey, 2), {}, h.deps)
    expect(await h.control.version()).toBe(v)
    await h.audit.idle()
    const entries = await h.audit.list({ subject: run.alert.api_key_id!, limit: 10 })
    expect(entries.map((e) => [e.action, e.actor])).toEqual([['key.revoke', 'operator:tok_9']])
  })

  it('a key id the store refuses is unrecoverable, not retried', async () => {
    const run = conformanceRun((a) => ({ ...a, api_key_id: 'k\u0000bad' }))
    await expect(revokeKey.run(ctxFor(run.alert, run.idempotencyKey), {}, h.deps)).rejects.toBeInstanceOf(UnrecoverableError)
  })
})
