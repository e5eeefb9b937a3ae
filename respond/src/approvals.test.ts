import { randomBytes } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isVigilError, type Alert } from '@vigil/core'
import { startRespondHarness, type RespondHarness } from './test-support.js'
import { playbookDir, startEngineHarness, type EngineHarness } from './testing/engine-harness.js'
import { alertFromTest } from './playbooks.js'
import { runIdOf } from './run-log.js'
import { approvalIdOf } from './approvals.js'

const gated = (id: string, timeout: string, onTimeout: string) => `id: ${id}
name: ${id}
description: approval test playbook
created: 2026-11-26
modified: 2026-11-26
trigger:
  rules: [test.${id}]
  min_severity: high
steps:
  - action: open_incident
  - action: revoke_key
    require_approval: { timeout: ${timeout}, on_timeout: ${onTimeout} }
  - action: notify_slack
tests:
  - name: runs
    alert: { rule: test.${id}, severity: high, entity: { type: api_key, id: k1 } }
    expect: run
  - name: other rules do not
    alert: { rule: other.rule, severity: critical, entity: { type: api_key, id: k1 } }
    expect: none
`

let h: RespondHarness
let e: EngineHarness
let folder: { dir: string; remove(): void }
let app: FastifyInstance

beforeAll(async () => {
  h = await startRespondHarness()
  folder = playbookDir({
    'gated.yaml': gated('gated', '1h', 'abort'),
    'gated_proceed.yaml': gated('gated_proceed', '300ms', 'proceed'),
    'gated_skip.yaml': gated('gated_skip', '300ms', 'skip'),
    'gated_abort.yaml': gated('gated_abort', '300ms', 'abort'),
  })
  e = await startEngineHarness(h, { playbooksDir: folder.dir })
  // The server's access hook, as far as these routes need it: who is calling.
  app = Fastify()
  app.addHook('onRequest', async (req) => {
    const id = req.headers['x-test-operator']
    ;(req as unknown as { operator: unknown }).operator = typeof id === 'string' ? { id, name: id } : null
  })
  app.setErrorHandler((err, _req, reply) => {
    if (isVigilError(err)) return reply.status(err.statusCode).send(err.toBody())
    return reply.status(500).send({ error: { code: 'internal_error', message: 'Internal error' } })
  })
  for (const r of e.response.routes) await app.register(r)
  await app.ready()
})
afterAll(async () => {
  await app?.close()
  await e?.close()
  await h?.close()
  folder?.remove()
})

const newAlert = (rule: string): Alert =>
  alertFromTest({ rule, severity: 'high', entity: { type: 'api_key', id: `ak_${randomBytes(4).toString('hex')}` } }, 'approvals', 0, randomBytes(8).toString('hex'))

async function parked(alert: Alert, playbook: string) {
  await e.publish(alert)
  const runId = runIdOf(alert.id, playbook)
  await e.waitFor(async () => ((await e.response.runs.getRun(runId))?.status === 'waiting_approval' ? true : undefined))
  const approval = await e.waitFor(() => e.response.approvals.get(approvalIdOf(`${runId}.1`)))
  return { runId, approval }
}
const status = (runId: string, want: string) => e.waitFor(async () => ((await e.response.runs.getRun(runId))?.status === want ? true : undefined))
const slackPostsFor = (alert: Alert) => e.slack.accepted('chat.postMessage').filter((c) => JSON.stringify(c.body).includes(alert.id))

describe('require_approval', () => {
  it('parks the run; approve runs the step with the approver as actor, then the run goes on', async () => {
    const alert = newAlert('test.gated')
    const { runId, approval } = await parked(alert, 'gated')
    expect(approval).toMatchObject({ status: 'pending', step: 1, action: 'revoke_key', permission: 'approvals:write', on_timeout: 'abort' })
    expect((await e.keys.get(alert.api_key_id as string)).status).toBe('active')
    // The Slack approval request (buttons) went out for it.
    expect(e.slack.accepted('chat.postMessage').some((c) => JSON.stringify(c.body).includes(approval.id))).toBe(true)

    const decided = await e.response.decide(approval.id, { decision: 'approve', actor: 'operator:tok_a', note: 'confirmed with the desk' })
    expect(decided).toMatchObject({ status: 'approved', decided_by: 'operator:tok_a', note: 'confirmed with the desk' })
    await status(runId, 'done')
    expect((await e.keys.get(alert.api_key_id as string)).status).toBe('revoked')
    const timeline = await e.timelineOf(runId)
    expect(timeline.find((t) => t.kind === 'approval_requested')).toMatchObject({ outcome: 'pending', detail: { approval_id: approval.id } })
    expect(timeline.find((t) => t.kind === 'approval_decided')).toMatchObject({ actor: 'operator:tok_a', outcome: 'approved' })
    expect(timeline.find((t) => t.kind === 'step_done' && t.step === 'revoke_key')).toMatchObject({ actor: 'operator:tok_a', outcome: 'done' })
    expect(timeline.find((t) => t.kind === 'step_done' && t.step === 'notify_slack')).toMatchObject({ actor: 'playbook:gated' })
    expect((await e.audit.list({ limit: 1000 })).some((a) => a.action === 'approval.decide' && a.subject === approval.id && a.actor === 'operator:tok_a')).toBe(true)

    // Decided twice, or by a second click racing the first: refused.
    await expect(e.response.decide(approval.id, { decision: 'reject', actor: 'operator:tok_b' })).rejects.toSatisfy((err) => isVigilError(err) && err.code === 'approval_decided')
  })

  it('reject stops the run with a timeline entry; the step never runs', async () => {
    const alert = newAlert('test.gated')
    const { runId, approval } = await parked(alert, 'gated')
    await e.response.decide(approval.id, { decision: 'reject', actor: 'slack:U123' })
    await status(runId, 'aborted')
    expect((await e.keys.get(alert.api_key_id as string)).status).toBe('active')
    const timeline = await e.timelineOf(runId)
    expect(timeline.find((t) => t.kind === 'run_stopped')).toMatchObject({ actor: 'slack:U123', outcome: 'rejected' })
    expect(timeline.some((t) => t.step === 'notify_slack' && t.kind === 'step_done')).toBe(false)
  })

  it('two decisions racing on one approval: exactly one wins', async () => {
    const { approval } = await parked(newAlert('test.gated'), 'gated')
    const racing = await Promise.allSettled([
      e.response.decide(approval.id, { decision: 'reject', actor: 'slack:U1' }),
      e.response.decide(approval.id, { decision: 'approve', actor: 'operator:tok_c' }),
      e.response.decide(approval.id, { decision: 'approve', actor: 'operator:tok_d' }),
    ])
    expect(racing.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    for (const r of racing) if (r.status === 'rejected') expect(isVigilError(r.reason) && r.reason.code).toBe('approval_decided')
  })

  it('on timeout: proceed runs the step, skip goes on without it, abort stops; deciding afterwards is refused', async () => {
    const [a1, a2, a3] = [newAlert('test.gated_proceed'), newAlert('test.gated_skip'), newAlert('test.gated_abort')]
    const [p1, p2, p3] = await Promise.all([parked(a1, 'gated_proceed'), parked(a2, 'gated_skip'), parked(a3, 'gated_abort')])
    await Promise.all([status(p1.runId, 'done'), status(p2.runId, 'done'), status(p3.runId, 'aborted')])

    expect((await e.keys.get(a1.api_key_id as string)).status).toBe('revoked')
    expect((await e.keys.get(a2.api_key_id as string)).status).toBe('active')
    expect((await e.keys.get(a3.api_key_id as string)).status).toBe('active')
    expect(slackPostsFor(a1).length).toBeGreaterThan(0)
    expect((await e.timelineOf(p2.runId)).find((t) => t.step === 'revoke_key' && t.kind === 'step_done')).toMatchObject({ outcome: 'skipped' })
    expect((await e.timelineOf(p3.runId)).find((t) => t.kind === 'run_stopped')).toMatchObject({ actor: 'system', outcome: 'aborted' })
    for (const p of [p1, p2, p3]) {
      expect(await e.response.approvals.get(p.approval.id)).toMatchObject({ status: 'expired', decided_by: 'system' })
      await expect(e.response.decide(p.approval.id, { decision: 'approve', actor: 'operator:late' })).rejects.toSatisfy((err) => isVigilError(err) && err.code === 'approval_decided')
    }
  })

  it('an unknown or malformed approval id is not found', async () => {
    for (const id of ['ap_000000000000000000000000', "ap_' OR 1=1 --", '']) {
      await expect(e.response.decide(id, { decision: 'approve', actor: 'operator:x' })).rejects.toSatisfy((err) => isVigilError(err) && err.code === 'approval_not_found')
    }
  })
})

describe('approval and dead-letter routes', () => {
  it('GET /v1/approvals lists pending ones; POST decides as the calling operator; bad bodies are 400', async () => {
    const alert = newAlert('test.gated')
    const { runId, approval } = await parked(alert, 'gated')
    const list = await app.inject({ method: 'GET', url: '/v1/approvals?limit=1000', headers: { 'x-test-operator': 'tok_r' } })
    expect(list.statusCode).toBe(200)
    expect((list.json() as { items: Array<{ id: string }> }).items.map((a) => a.id)).toContain(approval.id)
    expect((await app.inject({ method: 'GET', url: '/v1/approvals?status=maybe' })).statusCode).toBe(400)
    expect((await app.inject({ method: 'GET', url: '/v1/approvals?evil=1' })).statusCode).toBe(400)

    for (const payload of [{ decision: 'yes' }, { decision: 'approve', note: 5 }, { decision: 'approve', extra: 1 }, [1], { decision: 'approve', note: 'x'.repeat(1001) }]) {
      const bad = await app.inject({ method: 'POST', url: `/v1/approvals/${approval.id}`, headers: { 'x-test-operator': 'tok_r' }, payload })
      expect(bad.statusCode).toBe(400)
    }
    const ok = await app.inject({ method: 'POST', url: `/v1/approvals/${approval.id}`, headers: { 'x-test-operator': 'tok_r' }, payload: { decision: 'approve', note: 'ok' } })
    expect(ok.statusCode).toBe(200)
    expect(ok.json()).toMatchObject({ status: 'approved', decided_by: 'operator:tok_r' })
    const again = await app.inject({ method: 'POST', url: `/v1/approvals/${approval.id}`, headers: { 'x-test-operator': 'tok_r' }, payload: { decision: 'reject' } })
    expect(again.statusCode).toBe(409)
    expect(again.json()).toMatchObject({ error: { code: 'approval_decided' } })
    await status(runId, 'done')
    const missing = await app.inject({ method: 'POST', url: '/v1/approvals/ap_000000000000000000000000', headers: { 'x-test-operator': 'tok_r' }, payload: { decision: 'approve' } })
    expect(missing.statusCode).toBe(404)
  })

  it('routes declare their permissions', async () => {
    const routes = new Map<string, unknown>()
    const probe = Fastify()
    probe.addHook('onRoute', (r) => {
      routes.set(`${String(r.method)} ${r.url}`, (r.config as { permission?: unknown } | undefined)?.permission)
    })
    for (const r of e.response.routes) await probe.register(r)
    await probe.ready()
    expect(routes.get('GET /v1/approvals')).toBe('incidents:read')
    expect(routes.get('POST /v1/approvals/:id')).toBe('approvals:write')
    expect(routes.get('GET /v1/respond/dlq')).toBe('respond:admin')
    expect(routes.get('POST /v1/respond/dlq/:id/retry')).toBe('respond:admin')
    await probe.close()
  })

  it('GET /v1/respond/dlq pages with a cursor; POST retry of an unknown one is 404', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/respond/dlq?limit=1' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ items: [], next: null })
    expect((await app.inject({ method: 'GET', url: '/v1/respond/dlq?limit=0' })).statusCode).toBe(400)
    expect((await app.inject({ method: 'GET', url: '/v1/respond/dlq?from=yesterday' })).statusCode).toBe(400)
    const retry = await app.inject({ method: 'POST', url: '/v1/respond/dlq/dl_000000000000000000000000/retry', headers: { 'x-test-operator': 'tok_r' } })
    expect(retry.statusCode).toBe(404)
    expect(retry.json()).toMatchObject({ error: { code: 'dead_letter_not_found' } })
  })
})
