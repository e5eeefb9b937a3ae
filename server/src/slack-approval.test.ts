/**
 * Issue 4: "approval by a correctly signed Slack interaction, refusal of a forged or stale
 * one" — through the server's real wiring (startResponseSide as `vigil up` runs it), not just
 * the respond route. A critical brute force on a key reaches a playbook whose revoke_key
 * step needs approval; the approval request is posted to a local stand-in for Slack's Web
 * API with Approve / Reject / Acknowledge buttons; clicks come back to
 * POST /v1/slack/interactions signed with Slack's v0 scheme.
 *
 * A forged or stale request, or an Approve from someone not in SLACK_APPROVERS, decides
 * nothing; the approver's click revokes the key with `slack:<user id>` as actor; a replay or
 * a second click revokes nothing more; Acknowledge acknowledges the alert in detect's store.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Queue } from 'bullmq'
import { pino } from 'pino'
import type { Alert } from '@vigil/core'
import { AlertStore, ALERTS_QUEUE, queueAlerts, type Finding } from '@vigil/detect'
import { SLACK_ACTION_IDS, slackSignature } from '@vigil/respond'
import { openTestStore, startTestApp, type TestApp, type TestStore } from './test-support.js'

const SIGNING_SECRET = randomBytes(16).toString('hex')
const APPROVER = 'U0APPROVER'
const BYSTANDER = 'U0BYSTANDER'
const API_KEY = 'ak_live_SLACKAPPROVAL1'
const FORM = 'application/x-www-form-urlencoded'

const PLAYBOOK_ID = 'approved_key_revocation'
const PLAYBOOK = `id: ${PLAYBOOK_ID}
name: Critical brute force - revoke the key once a person approves
description: >-
  Test playbook: open an incident, then revoke the key only after someone in
  SLACK_APPROVERS (or an operator with approvals:write) approves; nobody in time aborts.
enabled: true
created: 2026-11-26
modified: 2026-11-26
trigger:
  rules: [auth.brute_force]
  min_severity: critical
steps:
  - action: open_incident
  - action: revoke_key
    require_approval:
      timeout: 10m
      on_timeout: abort
tests:
  - name: a critical brute force on a key asks before revoking it
    alert:
      rule: auth.brute_force
      severity: critical
      entity: { type: api_key, id: ak_1 }
    expect: run
    steps: [open_incident, revoke_key]
  - name: a high brute force is left alone
    alert:
      rule: auth.brute_force
      severity: high
      entity: { type: api_key, id: ak_1 }
    expect: none
`

/** Slack's Web API as far as chat.postMessage: answers ok and records each body (blocks parsed). */
interface SlackRecorder {
  apiUrl: string
  posts: Array<Record<string, unknown>>
  close(): Promise<void>
}

async function startSlackRecorder(): Promise<SlackRecorder> {
  const posts: Array<Record<string, unknown>> = []
  let seq = 0
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8')
      const body: Record<string, unknown> = {}
      if (req.headers['content-type']?.includes('application/json')) Object.assign(body, JSON.parse(raw || '{}'))
      else for (const [k, v] of new URLSearchParams(raw)) body[k] = k === 'blocks' ? JSON.parse(v) : v
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' })
      if (req.url?.startsWith('/api/chat.postMessage')) {
        posts.push(body)
        seq += 1
        res.end(JSON.stringify({ ok: true, channel: body.channel, ts: `${Math.floor(Date.now() / 1000)}.${String(seq).padStart(6, '0')}` }))
      } else res.end(JSON.stringify({ ok: false, error: 'unknown_method' }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    apiUrl: `http://127.0.0.1:${port}/api/`,
    posts,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

interface Button {
  action_id: string
  value: string
}

function buttonsOf(post: Record<string, unknown>): Button[] {
  const blocks = (post.blocks ?? []) as Array<{ type: string; elements?: Button[] }>
  return blocks.filter((b) => b.type === 'actions').flatMap((b) => b.elements ?? [])
}

/** A block_actions click as Slack sends it: form body with a JSON `payload`. */
function clickBody(user: string, button: Button): string {
  const payload = {
    type: 'block_actions',
    user: { id: user, username: user.toLowerCase(), name: user.toLowerCase() },
    team: { id: 'T0TEAM' },
    // Unique per click, as Slack's are: no two clicks share a body, hence a signature.
    trigger_id: `${Date.now()}.${randomBytes(4).toString('hex')}`,
    actions: [{ type: 'button', block_id: 'vigil.actions', action_id: button.action_id, value: button.value, action_ts: `${Date.now() / 1000}` }],
  }
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString()
}

function signedHeaders(body: string, opts: { ts?: number; secret?: string } = {}): Record<string, string> {
  const ts = String(opts.ts ?? Math.floor(Date.now() / 1000))
  return { 'content-type': FORM, 'x-slack-request-timestamp': ts, 'x-slack-signature': slackSignature(opts.secret ?? SIGNING_SECRET, ts, body) }
}

async function waitFor<T>(check: () => Promise<T | undefined | null | false>, what: string, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const v = await check()
    if (v) return v
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

let t: TestStore
let h: TestApp
let slack: SlackRecorder
let playbooksDir: string
let queue: Queue | undefined
let alert: Alert

beforeAll(async () => {
  slack = await startSlackRecorder()
  playbooksDir = mkdtempSync(path.join(tmpdir(), 'vigil-pb-'))
  writeFileSync(path.join(playbooksDir, `${PLAYBOOK_ID}.yaml`), PLAYBOOK)
  t = await openTestStore({
    SLACK_TOKEN: 'xoxb-test-token',
    SLACK_CHANNEL: '#vigil-test',
    SLACK_API_URL: slack.apiUrl,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_APPROVERS: APPROVER,
  })
  // startResponse loads (and lints) the playbooks: a playbook failing lint fails here.
  h = await startTestApp(t, { playbooksDir })

  // What detect does with a new finding: store the alert, then hand it over on `alerts`.
  const at = Date.now() - 60_000
  const finding: Finding = {
    rule: 'auth.brute_force',
    severity: 'critical',
    score: 90,
    entity: { type: 'api_key', id: API_KEY },
    api_key_id: API_KEY,
    account_id: 'acct-slack',
    client_ip: '203.0.113.9',
    firstSeenMs: at,
    lastSeenMs: at + 30_000,
    windowStartMs: at,
    count: 120,
    summary: `120 failed logins on ${API_KEY} in 30 s`,
    evidence: { value: 120, threshold: 20, sample_event_ids: ['e1'] },
  }
  alert = (await new AlertStore(t.store).upsert(finding, 60_000)).alert
  queue = new Queue(ALERTS_QUEUE, { connection: h.redis.duplicate({ maxRetriesPerRequest: null }), prefix: h.prefix })
  await queueAlerts(queue, pino({ level: 'silent' }))(alert, 'created')
})

afterAll(async () => {
  if (queue) {
    const connection = await queue.client
    await queue.close()
    connection.disconnect()
  }
  await h?.close()
  await t?.cleanup()
  await slack?.close()
  if (playbooksDir) rmSync(playbooksDir, { recursive: true, force: true })
})

const as = (role: keyof TestApp['tokens']) => ({ authorization: `Bearer ${h.tokens[role]}` })
const post = (body: string, headers: Record<string, string>) => h.app.inject({ method: 'POST', url: '/v1/slack/interactions', payload: body, headers })
const errorBody = (code: string) => ({ error: { code, message: expect.any(String) } })

async function approval(id: string): Promise<{ status: string; decided_by: string | null; incident_id: string | null }> {
  const res = await h.app.inject({ url: `/v1/approvals/${id}`, headers: as('viewer') })
  expect(res.statusCode).toBe(200)
  return res.json()
}
async function keyStatus(): Promise<string> {
  const res = await h.app.inject({ url: `/v1/keys/${API_KEY}`, headers: as('viewer') })
  expect(res.statusCode).toBe(200)
  return (res.json() as { status: string }).status
}

describe('approval by a correctly signed Slack interaction, refusal of a forged or stale one', () => {
  let approvalId: string
  let approve: Button
  let acknowledge: Button

  it('the approval-gated step waits, listed at /v1/approvals and posted to Slack with buttons; the key is not revoked yet', async () => {
    const listed = await waitFor(async () => {
      const res = await h.app.inject({ url: '/v1/approvals?status=pending', headers: as('responder') })
      expect(res.statusCode).toBe(200)
      return (res.json() as { items: Array<{ id: string; alert_id: string; action: string; playbook: string }> }).items.find((a) => a.alert_id === alert.id)
    }, 'the pending approval')
    expect(listed).toMatchObject({ action: 'revoke_key', playbook: PLAYBOOK_ID })
    approvalId = listed.id

    const message = await waitFor(async () => slack.posts.find((p) => buttonsOf(p).some((b) => b.action_id === SLACK_ACTION_IDS.approve)), 'the approval request in Slack')
    expect(message.channel).toBe('#vigil-test')
    const buttons = buttonsOf(message)
    expect(buttons.map((b) => b.action_id)).toEqual([SLACK_ACTION_IDS.approve, SLACK_ACTION_IDS.reject, SLACK_ACTION_IDS.acknowledge])
    approve = buttons[0] as Button
    acknowledge = buttons[2] as Button
    expect(JSON.parse(approve.value)).toMatchObject({ alert_id: alert.id, approval_id: approvalId })

    expect((await approval(approvalId)).status).toBe('pending')
    expect(await keyStatus()).toBe('active')
  })

  it('a forged signature is refused 401 and decides nothing', async () => {
    const body = clickBody(APPROVER, approve)
    const res = await post(body, signedHeaders(body, { secret: randomBytes(16).toString('hex') }))
    expect(res.statusCode).toBe(401)
    expect(res.json()).toEqual(errorBody('bad_signature'))
    expect((await approval(approvalId)).status).toBe('pending')
  })

  it('a stale request (10 minutes old, correctly signed for its timestamp) is refused 401 and decides nothing', async () => {
    const body = clickBody(APPROVER, approve)
    const res = await post(body, signedHeaders(body, { ts: Math.floor(Date.now() / 1000) - 600 }))
    expect(res.statusCode).toBe(401)
    expect(res.json()).toEqual(errorBody('stale_timestamp'))
    expect((await approval(approvalId)).status).toBe('pending')
  })

  it('a correctly signed Approve from a Slack user not in SLACK_APPROVERS is refused 403 and decides nothing', async () => {
    const body = clickBody(BYSTANDER, approve)
    const res = await post(body, signedHeaders(body))
    expect(res.statusCode).toBe(403)
    expect(res.json()).toEqual(errorBody('forbidden'))
    expect((await approval(approvalId)).status).toBe('pending')
    expect(await keyStatus()).toBe('active')
  })

  let approvedBody: string
  let approvedHeaders: Record<string, string>

  it("the approver's correctly signed Approve decides it: the key is revoked with the Slack user as actor, on the incident's timeline", async () => {
    approvedBody = clickBody(APPROVER, approve)
    approvedHeaders = signedHeaders(approvedBody)
    const res = await post(approvedBody, approvedHeaders)
    expect(res.statusCode).toBe(200)

    await waitFor(async () => (await keyStatus()) === 'revoked', 'the key to be revoked')
    const decided = await approval(approvalId)
    expect(decided).toMatchObject({ status: 'approved', decided_by: `slack:${APPROVER}` })

    const audit = await h.app.inject({ url: `/v1/audit?action=key.revoke&subject=${API_KEY}`, headers: as('admin') })
    expect(audit.statusCode).toBe(200)
    expect((audit.json() as { items: Array<{ actor: string }> }).items.map((e) => e.actor)).toEqual([`slack:${APPROVER}`])

    const incidentId = decided.incident_id as string
    expect(incidentId).toEqual(expect.any(String))
    const incident = await h.app.inject({ url: `/v1/incidents/${incidentId}`, headers: as('viewer') })
    expect(incident.statusCode).toBe(200)
    const timeline = (incident.json() as { timeline: Array<{ kind: string; actor: string; outcome: string; detail: Record<string, unknown> }> }).timeline
    expect(timeline.filter((e) => e.kind === 'approval_requested')).toEqual([expect.objectContaining({ outcome: 'pending', detail: expect.objectContaining({ approval_id: approvalId }) })])
    expect(timeline.filter((e) => e.kind === 'approval_decided')).toEqual([
      expect.objectContaining({ actor: `slack:${APPROVER}`, outcome: 'approved', detail: expect.objectContaining({ approval_id: approvalId }) }),
    ])
  })

  it('the same signed request replayed is refused 409 replayed; a fresh Approve answers approval_decided; the key is revoked once', async () => {
    const replay = await post(approvedBody, approvedHeaders)
    expect(replay.statusCode).toBe(409)
    expect(replay.json()).toEqual(errorBody('replayed'))

    const again = clickBody(APPROVER, approve)
    const second = await post(again, signedHeaders(again))
    expect(second.statusCode).toBe(409)
    expect(second.json()).toEqual(errorBody('approval_decided'))

    const reject = clickBody(APPROVER, { ...approve, action_id: SLACK_ACTION_IDS.reject })
    const late = await post(reject, signedHeaders(reject))
    expect(late.statusCode).toBe(409)
    expect(late.json()).toEqual(errorBody('approval_decided'))

    expect((await approval(approvalId)).status).toBe('approved')
    expect(await keyStatus()).toBe('revoked')
    const audit = await h.app.inject({ url: `/v1/audit?action=key.revoke&subject=${API_KEY}`, headers: as('admin') })
    expect((audit.json() as { items: unknown[] }).items).toHaveLength(1)
  })

  it("anyone's correctly signed Acknowledge acknowledges the alert in detect's store, with the Slack user as actor", async () => {
    const body = clickBody(BYSTANDER, acknowledge)
    const res = await post(body, signedHeaders(body))
    expect(res.statusCode).toBe(200)
    const got = await h.app.inject({ url: `/v1/alerts/${alert.id}`, headers: as('viewer') })
    expect(got.statusCode).toBe(200)
    expect(got.json()).toMatchObject({ id: alert.id, status: 'acknowledged' })
    const history = await new AlertStore(t.store).history(alert.id)
    expect(history.at(-1)).toMatchObject({ change: 'status', status: 'acknowledged', changed_by: `slack:${BYSTANDER}` })

    const incident = await h.app.inject({ url: `/v1/incidents/${(got.json() as { incident_id: string }).incident_id}`, headers: as('viewer') })
    expect(incident.statusCode).toBe(200)
    expect((incident.json() as { timeline: Array<{ kind: string }> }).timeline.filter((e) => e.kind === 'note')).toEqual([
      expect.objectContaining({ actor: `slack:${BYSTANDER}`, outcome: 'acknowledged', alert_id: alert.id }),
    ])
  })
})
