import { randomBytes } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Alert } from '@vigil/core'
import { startRespondHarness, type RespondHarness } from './test-support.js'
import { playbookDir, startEngineHarness, type EngineHarness } from './testing/engine-harness.js'
import { alertFromTest } from './playbooks.js'
import { backoffDelay, MAX_BACKOFF_MS } from './engine.js'
import { runIdOf } from './run-log.js'
import type { SecretResolver } from './action.js'
import { isVigilError, verifySignature } from '@vigil/core'

const playbook = (id: string, rule: string, steps: string) => `id: ${id}
name: ${id}
description: engine test playbook
created: 2026-11-26
modified: 2026-11-26
trigger:
  rules: [${rule}]
  min_severity: high
steps:
${steps}
tests:
  - name: runs
    alert: { rule: ${rule}, severity: high, entity: { type: api_key, id: k1 } }
    expect: run
  - name: other rules do not
    alert: { rule: other.rule, severity: critical, entity: { type: api_key, id: k1 } }
    expect: none
`

const PLAYBOOKS = {
  'basic.yaml': playbook('basic', 'test.basic', `  - action: open_incident
  - action: revoke_key
    when: { has: [api_key_id] }
  - action: notify_slack
`),
  'flaky.yaml': playbook('flaky', 'test.flaky', `  - action: open_incident
  - action: notify_slack
    retries: 3
    backoff: 30ms
  - action: revoke_key
`),
  'doomed.yaml': playbook('doomed', 'test.doomed', `  - action: open_incident
  - action: notify_slack
    retries: 1
    backoff: 20ms
  - action: revoke_key
`),
  'unfixable.yaml': playbook('unfixable', 'test.unfixable', `  - action: open_incident
  - action: revoke_key
  - action: notify_slack
`),
  'gated.yaml': playbook('gated', 'test.gated', `  - action: open_incident
  - action: revoke_key
    require_approval: { timeout: 1h, on_timeout: abort }
`),
}

/** The signing secret of source `acme-trading`, as the server's source registry would resolve it. */
const WEBHOOK_SECRET = 'vgs_engineTest0123456789abcdefghij'
const secrets: SecretResolver = { resolve: async (ref) => (ref === 'acme-trading' ? WEBHOOK_SECRET : null) }

let h: RespondHarness
let e: EngineHarness
let folder: { dir: string; remove(): void }
/** A trading API's webhook endpoint: records each call, answers 200. */
let receiver: Server
const webhookCalls: Array<{ headers: IncomingHttpHeaders; body: Buffer }> = []
const SLOW_MS = 1500

beforeAll(async () => {
  h = await startRespondHarness()
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      webhookCalls.push({ headers: req.headers, body: Buffer.concat(chunks) })
      // /slow stands for a slow outside service ahead of containment in a playbook.
      const delay = req.url === '/slow' ? SLOW_MS : 0
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'), delay)
    })
  })
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()))
  const { port } = receiver.address() as AddressInfo
  folder = playbookDir({
    ...PLAYBOOKS,
    'signed.yaml': playbook('signed', 'test.signed', `  - action: open_incident
  - action: webhook
    params: { url: "http://127.0.0.1:${port}/vigil", source: acme-trading }
`),
    'contain.yaml': playbook('contain', 'test.contain', `  - action: open_incident
  - action: webhook
    params: { url: "http://127.0.0.1:${port}/slow", source: acme-trading }
  - action: revoke_key
`),
  })
  e = await startEngineHarness(h, { playbooksDir: folder.dir, secrets })
  // The first run of a process pays for warming up (JIT, chDB caches); later alerts are the norm.
  const warm = newAlert('test.basic')
  await e.publish(warm)
  await runDone(runIdOf(warm.id, 'basic'))
})
afterAll(async () => {
  await e?.close()
  receiver?.closeAllConnections()
  await new Promise((r) => (receiver ? receiver.close(r) : r(undefined)))
  await h?.close()
  folder?.remove()
})

const newAlert = (rule: string, over: Partial<Alert> = {}): Alert => {
  const key = `ak_${randomBytes(4).toString('hex')}`
  return { ...alertFromTest({ rule, severity: 'high', entity: { type: 'api_key', id: key } }, 'engine', 0, randomBytes(8).toString('hex')), ...over }
}

const slackPostsFor = (alert: Alert) => e.slack.accepted('chat.postMessage').filter((c) => JSON.stringify(c.body).includes(alert.id))
const runDone = (runId: string, status = 'done') => e.waitFor(async () => ((await e.response.runs.getRun(runId))?.status === status ? true : undefined))

describe('backoff', () => {
  it('doubles per attempt with equal jitter, capped', () => {
    expect(backoffDelay(1, 1000, () => 0)).toBe(500)
    expect(backoffDelay(1, 1000, () => 1)).toBe(1000)
    expect(backoffDelay(3, 1000, () => 1)).toBe(4000)
    expect(backoffDelay(3, 1000, () => 0)).toBe(2000)
    expect(backoffDelay(40, 1000, () => 1)).toBe(MAX_BACKOFF_MS)
    const seen = new Set(Array.from({ length: 20 }, () => backoffDelay(2, 1000)))
    expect(seen.size).toBeGreaterThan(1)
  })
})

describe('playbook engine', () => {
  it('an alert gets the response its playbook names: incident first, every attempt and outcome on the timeline', async () => {
    // How fast is measured by `npm run bench -- respond`, not asserted here.
    const alert = newAlert('test.basic')
    await e.publish(alert)
    const runId = runIdOf(alert.id, 'basic')
    await runDone(runId)

    expect((await e.keys.get(alert.api_key_id as string)).status).toBe('revoked')
    expect(slackPostsFor(alert)).toHaveLength(1)
    const run = await e.response.runs.getRun(runId)
    expect(run?.incident_id).toMatch(/^in_/)
    const timeline = await e.timelineOf(runId)
    const steps = timeline.filter((t) => t.kind.startsWith('step_')).map((t) => `${t.kind}:${t.step}:${t.outcome ?? ''}`)
    expect(steps.slice(0, 2)).toEqual(['step_attempt:open_incident:', 'step_done:open_incident:done'])
    // revoke_key is containment: the key is revoked when the alert is picked up, and the step,
    // queued at run start beside the chain (so it may interleave with notify_slack), records it.
    expect(steps.filter((s) => s.includes(':revoke_key:'))).toEqual(['step_attempt:revoke_key:', 'step_done:revoke_key:already_done'])
    expect(steps.filter((s) => s.includes(':notify_slack:'))).toEqual(['step_attempt:notify_slack:', 'step_done:notify_slack:done'])
    expect(steps).toHaveLength(6)
    expect(timeline.filter((t) => t.kind === 'step_done').every((t) => t.actor === 'playbook:basic' && t.attempt === 1)).toBe(true)
  })

  it('a webhook step signs with the secret the engine was given (ResponseDeps.secrets)', async () => {
    const alert = newAlert('test.signed')
    await e.publish(alert)
    await runDone(runIdOf(alert.id, 'signed'))
    const calls = webhookCalls.filter((c) => c.body.toString().includes(alert.id))
    expect(calls).toHaveLength(1)
    const [call] = calls
    expect(call?.headers['vigil-source']).toBe('acme-trading')
    expect(verifySignature([WEBHOOK_SECRET], String(call?.headers['vigil-timestamp']), call?.body as Buffer, String(call?.headers['vigil-signature']))).toBe(true)
  })

  it('a step whose condition does not hold is skipped and recorded', async () => {
    const alert = newAlert('test.basic', { api_key_id: null, entity: { type: 'ip', id: '203.0.113.9' } })
    await e.publish(alert)
    const runId = runIdOf(alert.id, 'basic')
    await runDone(runId)
    const skipped = (await e.timelineOf(runId)).filter((t) => t.step === 'revoke_key')
    expect(skipped).toHaveLength(1)
    expect(skipped[0]).toMatchObject({ kind: 'step_done', outcome: 'skipped', detail: { reason: 'the alert has no api_key_id' } })
    expect(slackPostsFor(alert)).toHaveLength(1)
  })

  it('the same alert delivered twice (and again after its run) acts once: one revocation, one message', async () => {
    const alert = newAlert('test.basic')
    await Promise.all([e.publish(alert), e.publish(alert, `${alert.id}-again`)])
    const runId = runIdOf(alert.id, 'basic')
    await runDone(runId)
    await e.publish(alert, `${alert.id}-third`)
    await e.waitFor(async () => ((await e.alerts.getJobState(`${alert.id}-third`)) === 'completed' ? true : undefined))
    // Give a wrongly started second run every chance to act before counting.
    await new Promise((r) => setTimeout(r, 300))

    expect(slackPostsFor(alert)).toHaveLength(1)
    const revocations = (await e.audit.list({ limit: 1000 })).filter((a) => a.action === 'key.revoke' && a.subject === alert.api_key_id)
    expect(revocations).toHaveLength(1)
    const rows = await h.store.query<{ n: string }>(
      `SELECT count() AS n FROM respond_steps WHERE run_id = {r:String} AND outcome IN ('done', 'already_done')`,
      { r: runId },
    )
    expect(Number(rows[0]?.n)).toBe(3)
    const attempts = (await e.timelineOf(runId)).filter((t) => t.kind === 'step_attempt')
    expect(attempts).toHaveLength(3)
  })

  it('a failing step is retried with backoff until it succeeds, each attempt on the timeline', async () => {
    const alert = newAlert('test.flaky')
    e.slack.failNext(2, { status: 500, error: 'internal_error' })
    await e.publish(alert)
    const runId = runIdOf(alert.id, 'flaky')
    await runDone(runId)
    const slackSteps = (await e.timelineOf(runId)).filter((t) => t.step === 'notify_slack').map((t) => `${t.kind}#${t.attempt}`)
    expect(slackSteps).toEqual(['step_attempt#1', 'step_failed#1', 'step_attempt#2', 'step_failed#2', 'step_attempt#3', 'step_done#3'])
    expect(slackPostsFor(alert)).toHaveLength(1)
    expect((await e.keys.get(alert.api_key_id as string)).status).toBe('revoked')
    expect(await e.response.deadLetters.list({ limit: 100 })).toEqual([])
  })

  it('retries exhausted: dead letter, an incident note, the run stops; dlq retry succeeds once the service recovers', async () => {
    const alert = newAlert('test.doomed')
    e.slack.failNext(2, { status: 500, error: 'internal_error' })
    await e.publish(alert)
    const runId = runIdOf(alert.id, 'doomed')
    await runDone(runId, 'dead_lettered')

    const [dead] = await e.response.deadLetters.list({ status: 'dead', limit: 10 })
    expect(dead).toMatchObject({ run_id: runId, playbook: 'doomed', step: 1, action: 'notify_slack', attempts: 2, status: 'dead', alert_id: alert.id })
    expect(dead?.error.length).toBeGreaterThan(0)
    expect(dead?.error).not.toContain('xoxb-test-token')
    const timeline = await e.timelineOf(runId)
    const note = timeline.find((t) => t.kind === 'step_dead_lettered')
    expect(note).toMatchObject({ outcome: 'dead_lettered', attempt: 2, detail: { dead_letter_id: dead?.id } })
    expect(String(note?.detail.note)).toContain(`vigil respond dlq retry ${dead?.id}`)
    // The run stopped; containment (revoke_key, revoked at pickup and recorded by its step) did not wait for the dead step.
    expect(await e.response.runs.successOf(`${runId}.2`)).toMatchObject({ outcome: 'already_done', summary: expect.stringContaining('revoked at alert pickup') })

    const retried = await e.response.retryDeadLetter(dead?.id as string, 'operator:tok_1')
    expect(retried.status).toBe('retried')
    await runDone(runId)
    expect(slackPostsFor(alert)).toHaveLength(1)
    expect((await e.keys.get(alert.api_key_id as string)).status).toBe('revoked')
    const after = await e.timelineOf(runId)
    expect(after.find((t) => t.kind === 'step_retried')).toMatchObject({ actor: 'operator:tok_1', detail: { dead_letter_id: dead?.id } })
    expect(after.filter((t) => t.step === 'notify_slack' && t.kind === 'step_done')).toHaveLength(1)
    expect((await e.audit.list({ limit: 1000 })).some((a) => a.action === 'respond.dlq_retry' && a.subject === dead?.id)).toBe(true)

    await expect(e.response.retryDeadLetter(dead?.id as string, 'operator:tok_1')).rejects.toSatisfy((err) => isVigilError(err) && err.statusCode === 409 && err.code === 'dead_letter_retried')
    await expect(e.response.deadLetters.markRetried(dead?.id as string, 'operator:tok_1')).rejects.toSatisfy((err) => isVigilError(err) && err.code === 'dead_letter_retried')
    await expect(e.response.retryDeadLetter('dl_000000000000000000000000', 'operator:tok_1')).rejects.toSatisfy(
      (err) => isVigilError(err) && err.code === 'dead_letter_not_found',
    )
    await expect(e.response.retryDeadLetter('../../etc', 'operator:tok_1')).rejects.toSatisfy((err) => isVigilError(err) && err.code === 'dead_letter_not_found')
  })

  it('containment does not wait for earlier steps: the key is revoked once, before a slow step ends, with its attempt and outcome on the timeline', async () => {
    const alert = newAlert('test.contain')
    const runId = runIdOf(alert.id, 'contain')
    const started = Date.now()
    await e.publish(alert)
    await e.waitFor(async () => ((await e.keys.get(alert.api_key_id as string)).status === 'revoked' ? true : undefined))
    // The webhook ahead of it (SLOW_MS) has not finished yet.
    expect(Date.now() - started).toBeLessThan(SLOW_MS)
    expect(await e.response.runs.successOf(`${runId}.1`)).toBeUndefined()
    await runDone(runId)

    const revocations = (await e.audit.list({ limit: 1000 })).filter((a) => a.action === 'key.revoke' && a.subject === alert.api_key_id)
    expect(revocations).toHaveLength(1)
    const rows = await h.store.query<{ n: string }>(`SELECT count() AS n FROM respond_steps WHERE idempotency_key = {k:String}`, { k: `${runId}.2` })
    expect(Number(rows[0]?.n)).toBe(1)
    const timeline = await e.timelineOf(runId)
    const revoke = timeline.filter((t) => t.step === 'revoke_key').map((t) => `${t.kind}#${t.attempt}:${t.outcome ?? ''}`)
    expect(revoke).toEqual(['step_attempt#1:', 'step_done#1:already_done'])
    expect(timeline.filter((t) => t.kind === 'step_done').map((t) => t.step).sort()).toEqual(['open_incident', 'revoke_key', 'webhook'])
    expect((await e.keys.get(alert.api_key_id as string)).incident_id).toBe((await e.response.runs.getRun(runId))?.incident_id)
  })

  it('containment at hand-over (containNow) revokes before anything is queued, once; the queued alert then runs the rest and finds it done', async () => {
    const alert = newAlert('test.contain')
    const key = alert.api_key_id as string
    const runId = runIdOf(alert.id, 'contain')
    await e.response.containNow(alert)
    expect((await e.keys.get(key)).status).toBe('revoked')
    // Nothing was queued: no run exists yet.
    expect(await e.response.runs.getRun(runId)).toBeUndefined()
    // Handed over again (a retried tick), and picked up from the queue: no second version.
    await Promise.all([e.response.containNow(alert), e.response.containNow(alert)])
    await e.publish(alert)
    await runDone(runId)
    const versions = await h.store.query<{ n: string }>(`SELECT count() AS n FROM control_log WHERE subject = {k:String}`, { k: key })
    expect(Number(versions[0]?.n)).toBe(1)
    const revocations = (await e.audit.list({ limit: 1000 })).filter((a) => a.action === 'key.revoke' && a.subject === key)
    expect(revocations).toHaveLength(1)
    expect(revocations[0]?.detail).toMatchObject({ alert_id: alert.id })
    expect(await e.response.runs.successOf(`${runId}.2`)).toMatchObject({ outcome: 'already_done', summary: expect.stringContaining('revoked at alert pickup') })
  })

  it('containNow never throws and acts on nothing it should not: no key, no playbook, approval first, or not an alert', async () => {
    const noKey = newAlert('test.contain', { api_key_id: null, entity: { type: 'ip', id: '203.0.113.77' } })
    const unmatched = newAlert('other.rule')
    const gated = newAlert('test.gated')
    const before = await e.control.version()
    await expect(e.response.containNow(noKey)).resolves.toBeUndefined()
    await expect(e.response.containNow(gated)).resolves.toBeUndefined()
    await expect(e.response.containNow(unmatched)).resolves.toBeUndefined()
    await expect(e.response.containNow({ id: 'x', rule: 'test.contain' } as unknown as Alert)).resolves.toBeUndefined()
    await expect(e.response.containNow(null as unknown as Alert)).resolves.toBeUndefined()
    expect(await e.control.version()).toBe(before)
    expect((await e.keys.get(unmatched.api_key_id as string)).status).toBe('active')
    expect((await e.keys.get(gated.api_key_id as string)).status).toBe('active')
  })

  it('an unrecoverable failure goes straight to the dead letters, after one attempt', async () => {
    const alert = newAlert('test.unfixable', { api_key_id: null, entity: { type: 'ip', id: '198.51.100.7' } })
    await e.publish(alert)
    const runId = runIdOf(alert.id, 'unfixable')
    await runDone(runId, 'dead_lettered')
    const dead = (await e.response.deadLetters.list({ limit: 100 })).find((d) => d.run_id === runId)
    expect(dead).toMatchObject({ action: 'revoke_key', attempts: 1 })
    expect(dead?.error).toContain('api_key_id')
    expect(slackPostsFor(alert)).toHaveLength(0)
  })

  it('alerts no playbook matches, and queue data that is not an alert, start nothing', async () => {
    const alert = newAlert('nothing.matches')
    await e.publish(alert)
    await e.alerts.add('alert', { id: 'x', rule: 'test.basic', severity: 'urgent' }, { jobId: 'not-an-alert' })
    await e.waitFor(async () => ((await e.alerts.getJobState(alert.id)) === 'completed' ? true : undefined))
    await e.waitFor(async () => ((await e.alerts.getJobState('not-an-alert')) === 'failed' ? true : undefined))
    for (const pb of ['basic', 'flaky', 'doomed', 'unfixable', 'contain']) expect(await e.response.runs.getRun(runIdOf(alert.id, pb))).toBeUndefined()
  })

  it('the daily digest emails the medium and low incidents of the last day, once per period', async () => {
    const medium = newAlert('nothing.matches', { severity: 'medium' })
    await e.incidents.openForAlert(medium, { actor: 'system', playbook: null })
    const before = e.smtp.messages.length
    const now = Date.now() + 3_600_000
    const sent = await e.response.sendDigest(now)
    expect(sent.sent).toBe(true)
    expect(sent.incidents).toBeGreaterThanOrEqual(1)
    const [mail] = (await e.smtp.waitFor(before + 1)).slice(before)
    expect(mail?.text).toContain(medium.entity.id)
    // The high incidents of the earlier tests are not in it.
    expect(mail?.text).not.toContain('[high]')
    expect((await e.response.sendDigest(now)).sent).toBe(false)
    expect(e.smtp.messages.length).toBe(before + 1)
  })
})
