import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebClient } from '@slack/web-api'
import nodemailer from 'nodemailer'
import { startSlackApiServer, type SlackApiServer } from './slack-api-server.js'
import { startSmtpSink, type SmtpSink } from './smtp-sink.js'

describe('local Slack Web API server', () => {
  let slack: SlackApiServer
  beforeAll(async () => {
    slack = await startSlackApiServer({ token: 'xoxb-test' })
  })
  afterAll(() => slack.close())

  it('records chat.postMessage with its parsed blocks and answers ok with a ts', async () => {
    const web = new WebClient('xoxb-test', { slackApiUrl: slack.apiUrl })
    const res = await web.chat.postMessage({ channel: 'C1', text: 'hi', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'x' } }] })
    expect(res.ok).toBe(true)
    expect(res.ts).toMatch(/^\d+\.\d{6}$/)
    const [call] = slack.accepted('chat.postMessage')
    expect(call?.body.channel).toBe('C1')
    expect(call?.body.blocks).toEqual([{ type: 'section', text: { type: 'mrkdwn', text: 'x' } }])
  })

  it('answers 429 with Retry-After when told, and invalid_auth for a wrong token', async () => {
    slack.reset()
    slack.rateLimitNext(1, 7)
    const r = await fetch(`${slack.apiUrl}chat.postMessage`, { method: 'POST', body: 'channel=C1' })
    expect(r.status).toBe(429)
    expect(r.headers.get('retry-after')).toBe('7')
    expect(await r.json()).toEqual({ ok: false, error: 'ratelimited' })
    const web = new WebClient('xoxb-wrong', { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } })
    await expect(web.chat.postMessage({ channel: 'C1', text: 'x' })).rejects.toMatchObject({ data: { error: 'invalid_auth' } })
    expect(slack.accepted()).toHaveLength(0)
  })
})

describe('SMTP sink', () => {
  let sink: SmtpSink
  beforeAll(async () => {
    sink = await startSmtpSink()
  })
  afterAll(() => sink.close())

  it('receives a nodemailer message and decodes its subject, text and HTML parts', async () => {
    const t = nodemailer.createTransport(sink.url)
    await t.sendMail({
      from: 'vigil@example.test',
      to: 'ops@example.test',
      subject: 'Ünïcode – alert',
      text: 'plain ✓ '.repeat(30),
      html: '<p>html ✓ &lt;b&gt;</p>',
      messageId: '<abc@vigil>',
    })
    const [m] = await sink.waitFor(1)
    expect(m?.subject).toBe('Ünïcode – alert')
    expect(m?.messageId).toBe('<abc@vigil>')
    expect(m?.text).toBe('plain ✓ '.repeat(30))
    expect(m?.html).toBe('<p>html ✓ &lt;b&gt;</p>')
    expect(m?.envelope.to).toEqual(['ops@example.test'])
    t.close()
  })

  it('refuses a message with 451 when told', async () => {
    sink.refuseNext(1)
    const t = nodemailer.createTransport(sink.url)
    await expect(t.sendMail({ from: 'a@b.test', to: 'c@d.test', subject: 's', text: 't' })).rejects.toMatchObject({ responseCode: 451 })
    t.close()
  })
})
