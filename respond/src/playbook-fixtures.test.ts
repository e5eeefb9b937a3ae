/**
 * The default playbooks' own `tests` run through the engine (as detect runs each rule's
 * fixtures): each alert goes onto the `alerts` queue, and the actions that ran must be those
 * the test names, in order; an alert a test says must not start the playbook starts no run.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRespondHarness, type RespondHarness } from './test-support.js'
import { ACTIONS } from './actions/index.js'
import { startEngineHarness, type EngineHarness } from './testing/engine-harness.js'
import { DEFAULT_PLAYBOOKS_DIR, alertFromTest, loadPlaybooks } from './playbooks.js'
import { runIdOf } from './run-log.js'

const playbooks = loadPlaybooks(DEFAULT_PLAYBOOKS_DIR, ACTIONS)

let h: RespondHarness
let e: EngineHarness
beforeAll(async () => {
  h = await startRespondHarness()
  e = await startEngineHarness(h)
})
afterAll(async () => {
  await e?.close()
  await h?.close()
})

describe.each(playbooks.map((p) => [p.id, p] as const))('default playbook %s', (_id, playbook) => {
  it.each(playbook.tests.map((t, i) => [t.name, t, i] as const))('%s', async (_name, t, i) => {
    const alert = alertFromTest(t.alert, playbook.id, i, randomBytes(8).toString('hex'))
    await e.publish(alert)
    const runId = runIdOf(alert.id, playbook.id)
    if (t.expect === 'none') {
      await e.waitFor(async () => ((await e.alerts.getJobState(alert.id)) === 'completed' ? true : undefined))
      expect(await e.response.runs.getRun(runId)).toBeUndefined()
      return
    }
    await e.waitFor(async () => ((await e.response.runs.getRun(runId))?.status === 'done' ? true : undefined))
    const ran = await h.store.query<{ action: string }>(
      `SELECT action FROM respond_steps WHERE run_id = {r:String} AND outcome IN ('done', 'already_done') ORDER BY step`,
      { r: runId },
    )
    expect(ran.map((r) => r.action)).toEqual(t.steps ?? playbook.steps.map((s) => s.action))
  })
})
