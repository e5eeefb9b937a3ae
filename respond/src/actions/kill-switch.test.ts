import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UnrecoverableError } from 'bullmq'
import type { Alert } from '@vigil/core'
import type { ActionContext } from '../action.js'
import { conformanceRun, describeActionConformance } from './conformance.js'
import { killSwitch, resolveScope } from './kill-switch.js'
import { stateActionDeps, type StateActionDeps } from '../testing/state-action-deps.js'

const ctxFor = (alert: Alert, idempotencyKey: string, attempt = 1, actor = 'playbook:pb'): ActionContext => ({
  alert,
  incident: null,
  playbook: 'pb',
  step: 1,
  idempotencyKey,
  attempt,
  actor,
  done: [],
})

const trippedOn = async (h: { deps: { killswitches: StateActionDeps['deps']['killswitches'] } }, type: string, id: string) =>
  (await h.deps.killswitches.list({ status: 'tripped', limit: 1000 })).filter((k) => k.scope.type === type && k.scope.id === id)

describeActionConformance(killSwitch, {
  setup: stateActionDeps,
  params: (_run, secret) => ({ scope: 'account' as const, reason: `{{alert.rule}} {{alert.summary}} ${secret}` }),
  invalidParams: [
    { scope: 'planet' },
    { scope: { type: 'planet', id: 'earth' } },
    { scope: { type: 'venue', id: '' } },
    { scope: { type: 'venue', id: 'XNAS', extra: 1 } },
    { scope: 'account', mode: 'reset_now' },
    { scope: 'account', reason: '' },
    { reason: 'no scope' },
  ],
  context: (_deps, run) => ctxFor(run.alert, run.idempotencyKey, run.attempt),
  observe: async (deps, run) => (await trippedOn({ deps }, 'account', run.alert.account_id!)).length,
  failing: { alert: (a) => ({ ...a, account_id: null }), expect: /UnrecoverableError: kill_switch scope account needs an account_id/ },
})

describe('kill_switch', () => {
  let h: StateActionDeps
  beforeAll(async () => {
    h = await stateActionDeps()
  })
  afterAll(async () => {
    await h.close()
  })

  it('resolves scopes from the alert, and refuses what the alert lacks', () => {
    const { alert } = conformanceRun()
    expect(resolveScope('api_key', alert)).toEqual({ type: 'api_key', id: alert.api_key_id })
    expect(resolveScope('account', alert)).toEqual({ type: 'account', id: alert.account_id })
    expect(resolveScope('entity', alert)).toEqual({ type: 'api_key', id: alert.entity.id })
    expect(resolveScope('global', alert)).toEqual({ type: 'global', id: '*' })
    expect(resolveScope({ type: 'venue', id: 'XNAS' }, alert)).toEqual({ type: 'venue', id: 'XNAS' })
    expect(resolveScope('source', { ...alert, entity: { type: 'source', id: 'src_1' } })).toEqual({ type: 'source', id: 'src_1' })
    expect(resolveScope('source', { ...alert, evidence: { source: 'src_2' } })).toEqual({ type: 'source', id: 'src_2' })
    expect(() => resolveScope('source', alert)).toThrow(UnrecoverableError)
    expect(() => resolveScope('entity', { ...alert, entity: { type: 'ip', id: '203.0.113.1' } })).toThrow(/not ip/)
    expect(() => resolveScope('api_key', { ...alert, api_key_id: null })).toThrow(UnrecoverableError)
  })

  it('trips a literal venue scope once, with the incident, and a scope the store refuses is unrecoverable', async () => {
    const run = conformanceRun()
    const venue = `XV${run.alert.id.slice(3)}`
    const r = await killSwitch.run(ctxFor(run.alert, run.idempotencyKey), { scope: { type: 'venue', id: venue } }, h.deps)
    expect(r.outcome).toBe('done')
    expect(r.summary).toMatch(new RegExp(`^tripped kill-switch \\S+ on venue ${venue}$`))
    expect(await trippedOn(h, 'venue', venue)).toHaveLength(1)
    const bad = conformanceRun((a) => ({ ...a, account_id: 'acc\u0001x' }))
    await expect(killSwitch.run(ctxFor(bad.alert, bad.idempotencyKey), { scope: 'account' }, h.deps)).rejects.toBeInstanceOf(UnrecoverableError)
  })

  it('request_reset asks once, never confirms someone else’s request, and skips a scope with nothing tripped', async () => {
    const run = conformanceRun()
    const scope = { scope: 'api_key' as const }
    const none = await killSwitch.run(ctxFor(run.alert, run.idempotencyKey), { ...scope, mode: 'request_reset' }, h.deps)
    expect(none.outcome).toBe('skipped')

    await killSwitch.run(ctxFor(run.alert, `${run.alert.id}.pb.1`), scope, h.deps)
    const [ks] = await trippedOn(h, 'api_key', run.alert.api_key_id!)
    const asked = await killSwitch.run(ctxFor(run.alert, `${run.alert.id}.pb.2`), { ...scope, mode: 'request_reset' }, h.deps)
    expect(asked.outcome).toBe('done')
    expect((await h.deps.killswitches.get(ks!.id))?.reset_request?.by).toBe('playbook:pb')
    const again = await killSwitch.run(ctxFor(run.alert, `${run.alert.id}.pb.2`, 2), { ...scope, mode: 'request_reset' }, h.deps)
    expect(again.outcome).toBe('already_done')
    const other = await killSwitch.run(ctxFor(run.alert, `${run.alert.id}.pb2.0`, 1, 'playbook:pb2'), { ...scope, mode: 'request_reset' }, h.deps)
    expect(other.outcome).toBe('skipped')
    expect((await h.deps.killswitches.get(ks!.id))?.status).toBe('tripped')
  })
})
