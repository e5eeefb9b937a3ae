import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UnrecoverableError } from 'bullmq'
import type { Alert } from '@vigil/core'
import type { ActionContext } from '../action.js'
import type { Incident } from '../seams.js'
import { conformanceRun, describeActionConformance } from './conformance.js'
import { createNotifySlack, notifySlack, postApprovalRequest } from './notify-slack.js'
import { SLACK_ACTION_IDS, slackAlertBlocks, type SlackBlock } from './slack-blocks.js'
import { startSlackApiServer, type SlackApiServer } from '../testing/slack-api-server.js'
import { outsideActionDeps, type OutsideActionDeps } from '../testing/outside-action-deps.js'

const TOKEN = 'xoxb-123456789012-abcdefghijklmnopqrstuvwx'

function ctxFor(alert: Alert, idempotencyKey: string, attempt = 1, incident: Incident | null = null, done: ActionContext['done'] = []): ActionContext {
  return { alert, incident, playbook: 'pb', step: 0, idempotencyKey, attempt, actor: 'playbook:pb', done }
}

function incidentFor(alert: Alert): Incident {
  const now = new Date().toISOString()
  return {
    id: `inc_${alert.id}`,
    title: 't',
    severity: alert.severity,
    status: 'open',
    entity: alert.entity,
    api_key_id: alert.api_key_id,
    account_id: alert.account_id,
    opened_at: now,
    updated_at: now,
    alert_ids: [alert.id],
    timeline: [],
  }
}

const allText = (blocks: SlackBlock[]) => JSON.stringify(blocks)

// ---------------------------------------------------------------------------------------
// Conformance, against the local Slack Web API server.
{
  let slack: SlackApiServer
  describeActionConformance(notifySlack, {
    async setup() {
      slack = await startSlackApiServer({ token: TOKEN })
      slack.refuseChannel('C_ARCHIVED', 'is_archived')
      const h = outsideActionDeps({ SLACK_TOKEN: TOKEN, SLACK_CHANNEL: 'C0VIGIL', SLACK_API_URL: slack.apiUrl })
      return {
        deps: h.deps,
        logs: h.logs,
        async close() {
          await h.close()
          await slack.close()
        },
      }
    },
    params: () => ({ mention: '@here' }),
    invalidParams: [{ channel: '' }, { mention: '@everyone-now' }, { buttons: 'yes' }, { extra: 1 }, { channel: 'a b' }],
    context: (_deps, run) => ctxFor(run.alert, run.idempotencyKey, run.attempt),
    observe: async (_deps, run) => slack.accepted('chat.postMessage').filter((c) => JSON.stringify(c.body).includes(run.alert.id)).length,
    failing: {
      params: () => ({ channel: 'C_ARCHIVED' }),
      expect: /UnrecoverableError: Slack refused the message: is_archived/,
    },
  })
}

describe('notify_slack', () => {
  let slack: SlackApiServer
  let h: OutsideActionDeps
  const action = createNotifySlack({ maxRateLimitWaitMs: 3_000 })

  beforeAll(async () => {
    slack = await startSlackApiServer({ token: TOKEN })
    h = outsideActionDeps({ SLACK_TOKEN: TOKEN, SLACK_CHANNEL: 'C0VIGIL', SLACK_API_URL: slack.apiUrl })
  })
  afterAll(async () => {
    await h.close()
    await slack.close()
  })

  it('on 429 waits Retry-After, then posts exactly one message', async () => {
    slack.reset()
    slack.rateLimitNext(1, 1)
    const run = conformanceRun()
    const t0 = Date.now()
    const r = await action.run(ctxFor(run.alert, run.idempotencyKey), {}, h.deps)
    const took = Date.now() - t0
    expect(r.outcome).toBe('done')
    expect(took).toBeGreaterThanOrEqual(950)
    expect(slack.calls.map((c) => c.status)).toEqual([429, 200])
    expect(slack.accepted('chat.postMessage')).toHaveLength(1)
    expect(r.detail).toMatchObject({ channel: 'C0VIGIL', ts: slack.accepted()[0]?.answer.ts })
  })

  it('a Retry-After beyond the wait budget fails the attempt (retryable), posts nothing, and the retry posts once', async () => {
    slack.reset()
    slack.rateLimitNext(1, 3600)
    const run = conformanceRun()
    const t0 = Date.now()
    const err = await action.run(ctxFor(run.alert, run.idempotencyKey), {}, h.deps).catch((e: unknown) => e)
    // It gave up instead of sleeping the hour Slack asked for.
    expect(Date.now() - t0).toBeLessThan(30_000)
    expect(err).toBeInstanceOf(Error)
    expect(err).not.toBeInstanceOf(UnrecoverableError)
    expect((err as Error).message).toMatch(/rate limited/)
    expect(slack.accepted()).toHaveLength(0)
    // The failed attempt released its claim: the engine's retry posts.
    const again = await action.run(ctxFor(run.alert, run.idempotencyKey, 2), {}, h.deps)
    expect(again.outcome).toBe('done')
    expect(slack.accepted('chat.postMessage')).toHaveLength(1)
  })

  it('Slack errors: a refused channel is unrecoverable, an internal error is retryable, a hang-up is retryable; none leaks the token', async () => {
    const run = conformanceRun()
    slack.reset()
    slack.failNext(1, { error: 'channel_not_found' })
    const e1 = await action.run(ctxFor(run.alert, run.idempotencyKey), {}, h.deps).catch((e: unknown) => e)
    expect(e1).toBeInstanceOf(UnrecoverableError)
    expect((e1 as Error).message).toContain('channel_not_found')

    slack.failNext(1, { error: 'internal_error' })
    const e2 = await action.run(ctxFor(run.alert, run.idempotencyKey), {}, h.deps).catch((e: unknown) => e)
    expect(e2).toBeInstanceOf(Error)
    expect(e2).not.toBeInstanceOf(UnrecoverableError)

    slack.failNext(1, { status: 503, error: 'service_unavailable' })
    const e3 = await action.run(ctxFor(run.alert, run.idempotencyKey), {}, h.deps).catch((e: unknown) => e)
    expect((e3 as Error).message).toMatch(/HTTP 503/)

    slack.failNext(1, { hangUp: true })
    const e4 = await action.run(ctxFor(run.alert, run.idempotencyKey), {}, h.deps).catch((e: unknown) => e)
    expect(e4).not.toBeInstanceOf(UnrecoverableError)

    for (const e of [e1, e2, e3, e4]) expect(`${(e as Error).message}${(e as Error).stack}`).not.toContain(TOKEN)
    expect(h.logs()).not.toContain(TOKEN)
    const ok = await action.run(ctxFor(run.alert, run.idempotencyKey), {}, h.deps)
    expect(ok.outcome).toBe('done')
  })

  it('two concurrent attempts of one step post once', async () => {
    slack.reset()
    slack.rateLimitNext(1, 1)
    const run = conformanceRun()
    const [a, b] = await Promise.allSettled([
      action.run(ctxFor(run.alert, run.idempotencyKey, 1), {}, h.deps),
      action.run(ctxFor(run.alert, run.idempotencyKey, 2), {}, h.deps),
    ])
    expect([a.status, b.status].sort()).toEqual(['fulfilled', 'rejected'])
    expect(slack.accepted('chat.postMessage')).toHaveLength(1)
  })

  it('channel override and mention reach Slack; the token is sent as a bearer header', async () => {
    slack.reset()
    const run = conformanceRun()
    await action.run(ctxFor(run.alert, run.idempotencyKey), { channel: 'C0CRIT', mention: '@here' }, h.deps)
    const [call] = slack.accepted('chat.postMessage')
    expect(call?.body.channel).toBe('C0CRIT')
    expect(call?.headers.authorization).toBe(`Bearer ${TOKEN}`)
    expect(JSON.stringify(call?.body.blocks)).toContain('<!here>')
    // The planted secrets of the alert never reach Slack.
    for (const s of run.secrets) expect(JSON.stringify(call?.body)).not.toContain(s)
  })

  it('without SLACK_TOKEN or a channel the step is skipped, not failed', async () => {
    const bare = outsideActionDeps({})
    try {
      const run = conformanceRun()
      const r = await notifySlack.run(ctxFor(run.alert, run.idempotencyKey), {}, bare.deps)
      expect(r.outcome).toBe('skipped')
      expect(r.summary).toMatch(/not configured/)
      const tokenOnly = outsideActionDeps({ SLACK_TOKEN: TOKEN, SLACK_API_URL: slack.apiUrl })
      expect((await notifySlack.run(ctxFor(run.alert, run.idempotencyKey), {}, tokenOnly.deps)).outcome).toBe('skipped')
      await tokenOnly.close()
    } finally {
      await bare.close()
    }
  })

  it('postApprovalRequest posts Approve / Reject buttons carrying the approval id, once per approval', async () => {
    slack.reset()
    const run = conformanceRun()
    const incident = incidentFor(run.alert)
    const req = { approvalId: 'apr_123', alert: run.alert, incident, step: { action: 'revoke_key', description: 'revoke the key' } }
    const first = await postApprovalRequest(h.deps, req)
    const second = await postApprovalRequest(h.deps, req)
    expect(first?.posted).toBe(true)
    expect(second).toEqual({ posted: false, channel: first?.channel, ts: first?.ts })
    const calls = slack.accepted('chat.postMessage')
    expect(calls).toHaveLength(1)
    const blocks = calls[0]?.body.blocks as SlackBlock[]
    const actions = blocks.find((b) => b.type === 'actions')
    if (actions?.type !== 'actions') throw new Error('no actions block')
    const approve = actions.elements.find((e) => e.action_id === SLACK_ACTION_IDS.approve)
    const reject = actions.elements.find((e) => e.action_id === SLACK_ACTION_IDS.reject)
    expect(JSON.parse(approve?.value ?? '{}')).toEqual({ alert_id: run.alert.id, incident_id: incident.id, approval_id: 'apr_123' })
    expect(JSON.parse(reject?.value ?? '{}')).toMatchObject({ approval_id: 'apr_123' })
    expect(approve?.confirm).toBeDefined()
    expect(await postApprovalRequest(outsideActionDeps({}).deps, req)).toBeNull()
  })
})

describe('slackAlertBlocks', () => {
  const publicUrl = 'https://vigil.example.test/'

  it('says what fired, on which key and account, the numbers, what was done, and links to the dashboard', () => {
    const run = conformanceRun()
    const incident = incidentFor(run.alert)
    const done = [{ action: 'revoke_key', outcome: 'done' as const, summary: `revoked key ${run.alert.api_key_id}` }]
    const blocks = slackAlertBlocks(run.alert, incident, done, { publicUrl })
    const text = allText(blocks)
    expect(blocks[0]).toMatchObject({ type: 'header', text: { type: 'plain_text' } })
    expect(text).toContain('HIGH · auth.brute_force')
    expect(text).toContain(`\`${run.alert.api_key_id}\``)
    expect(text).toContain(`\`${run.alert.account_id}\``)
    expect(text).toContain('`attempts=12`')
    expect(text).toContain('score 0.9')
    expect(text).toContain('*Already done*')
    expect(text).toContain('revoked key')
    expect(text).toContain(`<https://vigil.example.test/alerts/${run.alert.id}|Alert ${run.alert.id}>`)
    expect(text).toContain(`<https://vigil.example.test/incidents/${incident.id}|Incident ${incident.id}>`)
    const actions = blocks.find((b) => b.type === 'actions')
    expect(actions).toMatchObject({ elements: [{ action_id: SLACK_ACTION_IDS.acknowledge }] })
    for (const s of run.secrets) expect(text).not.toContain(s)
    const section = blocks.find((b) => b.type === 'section' && b.fields)
    expect(section?.type === 'section' && section.fields!.length).toBeLessThanOrEqual(10)
  })

  it('escapes markdown, links and mentions in attacker-influenced fields', () => {
    const run = conformanceRun((a) => ({
      ...a,
      summary: 'GET /*bold*/<!channel> <https://evil.test|click> & _x_',
      entity: { type: 'ip', id: '`code` <@U123> *b*' },
      api_key_id: 'k_<!here>',
      account_id: 'acc|>',
      client_ip: '203.0.113.9',
      id: 'al_<x>|y',
    }))
    const blocks = slackAlertBlocks(run.alert, null, [{ action: 'x', outcome: 'done', summary: '<!channel> done' }], { publicUrl, mention: '@nobody<!channel>' })
    const text = allText(blocks)
    expect(text).not.toContain('<!channel>')
    expect(text).not.toContain('<!here>')
    expect(text).not.toContain('<@U123>')
    expect(text).not.toContain('<https://evil.test')
    expect(text).toContain('&lt;!here&gt;')
    // The summary is plain_text: nothing in it is formatted.
    expect(blocks.find((b) => b.type === 'section' && b.text?.type === 'plain_text' && b.text.text.includes('/*bold*/&lt;!channel&gt;'))).toBeDefined()
    // Entity id inside inline code, its backticks replaced so the code span cannot be closed.
    expect(text).toContain('`ˋcodeˋ &lt;@U123&gt; *b*`')
    // The alert id in a link is percent-encoded in the URL and cannot end the link label.
    expect(text).toContain('/alerts/al_%3Cx%3E%7Cy|Alert al_&lt;x&gt;¦y>')
  })

  it('renders at most Slack limits for hostile lengths', () => {
    const run = conformanceRun((a) => ({ ...a, summary: 'A'.repeat(10_000), entity: { type: 'api_key', id: 'k'.repeat(5000) }, rule: 'r'.repeat(400) }))
    const blocks = slackAlertBlocks(run.alert, null, [], { publicUrl })
    for (const b of blocks) {
      if (b.type === 'header') expect(b.text.text.length).toBeLessThanOrEqual(150)
      if (b.type === 'section' && b.text) expect(b.text.text.length).toBeLessThanOrEqual(3000)
      if (b.type === 'section' && b.fields) for (const f of b.fields) expect(f.text.length).toBeLessThanOrEqual(2000)
    }
  })

  it('buttons can be turned off; @here and a user mention render as Slack mentions', () => {
    const run = conformanceRun()
    expect(slackAlertBlocks(run.alert, null, [], { publicUrl, buttons: false }).some((b) => b.type === 'actions')).toBe(false)
    expect(allText(slackAlertBlocks(run.alert, null, [], { publicUrl, mention: '@here' }))).toContain('<!here>')
    expect(allText(slackAlertBlocks(run.alert, null, [], { publicUrl, mention: '@U0ABCDEF' }))).toContain('<@U0ABCDEF>')
  })
})
