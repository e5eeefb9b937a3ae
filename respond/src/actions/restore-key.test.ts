import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Alert } from '@vigil/core'
import type { ActionContext } from '../action.js'
import { conformanceRun, describeActionConformance } from './conformance.js'
import { restoreKey } from './restore-key.js'
import { revokeKey } from './revoke-key.js'
import { stateActionDeps, type StateActionDeps } from '../testing/state-action-deps.js'

const ctxFor = (alert: Alert, idempotencyKey: string, attempt = 1): ActionContext => ({
  alert,
  incident: null,
  playbook: 'pb',
  step: 2,
  idempotencyKey,
  attempt,
  actor: 'operator:tok_approver',
  done: [],
})

let suite: StateActionDeps
describeActionConformance(restoreKey, {
  async setup() {
    suite = await stateActionDeps()
    return suite
  },
  params: (_run, secret) => ({ reason: `false positive, ticket says ${secret}` }),
  invalidParams: [{ reason: '' }, { reason: null }, { reason: 'y'.repeat(1001) }, { force: true }],
  // A key to restore: revoked once, before the first attempt.
  async context(deps, run) {
    if (run.attempt === 1 && run.alert.api_key_id) await deps.keys.revoke(run.alert.api_key_id!, { reason: 'setup', actor: 'system' })
    return ctxFor(run.alert, run.idempotencyKey, run.attempt)
  },
  // Restorations of this key in the control log.
  async observe(_deps, run) {
    await suite.control.idle()
    const rows = await suite.harness.store.query<{ n: string }>(
      `SELECT toString(count()) AS n FROM control_log WHERE kind = 'key_restored' AND subject = {k:String}`,
      { k: run.alert.api_key_id! },
    )
    return Number(rows[0]?.n ?? 0)
  },
  failing: { alert: (a) => ({ ...a, api_key_id: null }), expect: /UnrecoverableError: restore_key needs an alert with an api_key_id/ },
})

describe('restore_key', () => {
  let h: StateActionDeps
  beforeAll(async () => {
    h = await stateActionDeps()
  })
  afterAll(async () => {
    await h.close()
  })

  it('undoes revoke_key; a key never revoked is already_done and takes no control version', async () => {
    const run = conformanceRun()
    const key = run.alert.api_key_id!
    const before = await h.control.version()
    expect((await restoreKey.run(ctxFor(run.alert, run.idempotencyKey), {}, h.deps)).outcome).toBe('already_done')
    expect(await h.control.version()).toBe(before)
    await revokeKey.run(ctxFor(run.alert, `${run.alert.id}.pb.1`), {}, h.deps)
    expect((await h.deps.keys.get(key)).status).toBe('revoked')
    const r = await restoreKey.run(ctxFor(run.alert, run.idempotencyKey, 2), { reason: 'checked with the customer' }, h.deps)
    expect(r).toMatchObject({ outcome: 'done', summary: `restored key ${key}` })
    expect((await h.deps.keys.get(key)).status).toBe('active')
    expect(await h.control.version()).toBe(before + 2)
  })
})
