import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServer, type Server } from 'node:net'
import { UnrecoverableError } from 'bullmq'
import type { Alert } from '@vigil/core'
import type { ActionContext } from '../action.js'
import type { Incident } from '../seams.js'
import { conformanceRun, describeActionConformance } from './conformance.js'
import { alertEmail, createNotifyEmail, emailSubject, notifyEmail, sendDigest } from './notify-email.js'
import { startSmtpSink, type SmtpSink } from '../testing/smtp-sink.js'
import { outsideActionDeps, type OutsideActionDeps } from '../testing/outside-action-deps.js'

function ctxFor(alert: Alert, idempotencyKey: string, attempt = 1, incident: Incident | null = null, done: ActionContext['done'] = []): ActionContext {
  return { alert, incident, playbook: 'pb', step: 1, idempotencyKey, attempt, actor: 'playbook:pb', done }
}

function incidentFor(alert: Alert, over: Partial<Incident> = {}): Incident {
  const now = new Date().toISOString()
  return {
    id: `inc_${alert.id}`,
    title: `brute force on ${alert.api_key_id}`,
    severity: alert.severity,
    status: 'open',
    entity: alert.entity,
    api_key_id: alert.api_key_id,
    account_id: alert.account_id,
    opened_at: now,
    updated_at: now,
    alert_ids: [alert.id],
    timeline: [],
    ...over,
  }
}

function env(sink: SmtpSink): Record<string, string> {
  return { SMTP_URL: sink.url, EMAIL_FROM: 'vigil@alerts.example.test', EMAIL_TO: 'oncall@example.test,risk@example.test' }
}

describe('notify_email conformance', () => {
  let sink: SmtpSink
  describeActionConformance(notifyEmail, {
    async setup() {
      sink = await startSmtpSink()
      sink.refuseRecipient('nobody@nowhere.test')
      const h = outsideActionDeps(env(sink))
      return {
        deps: h.deps,
        logs: h.logs,
        async close() {
          await h.close()
          await sink.close()
        },
      }
    },
    params: (_run, secret) => ({ subject: `[{{alert.severity}}] {{alert.rule}} ${secret.slice(0, 0)}` }),
    invalidParams: [{ to: [] }, { to: ['not an email'] }, { to: ['a@b.test\r\nBcc: x@y.test'] }, { subject: '' }, { extra: true }, { to: 'a@b.test' }],
    context: (_deps, run) => ctxFor(run.alert, run.idempotencyKey, run.attempt),
    observe: async (_deps, run) => sink.messages.filter((m) => m.text?.includes(run.alert.id)).length,
    failing: {
      params: () => ({ to: ['nobody@nowhere.test'] }),
      expect: /UnrecoverableError: the SMTP server refused the message \(550\)/,
    },
  })
})

describe('notify_email', () => {
  let sink: SmtpSink
  let h: OutsideActionDeps
  const action = createNotifyEmail({ timeoutMs: 2000 })

  beforeAll(async () => {
    sink = await startSmtpSink()
    h = outsideActionDeps(env(sink))
  })
  afterAll(async () => {
    await h.close()
    await sink.close()
  })

  it('a real SMTP server receives one message with text and HTML parts, escaped, masked, with dashboard links', async () => {
    const run = conformanceRun((a) => ({
      ...a,
      summary: `injection in <script>alert(1)</script> "quoted" & 'single' ${a.summary}`,
      entity: { type: 'ip', id: '<img src=x onerror=alert(1)>' },
      evidence: { ...a.evidence, user_agent: '"><svg onload=alert(2)>' },
    }))
    const incident = incidentFor(run.alert)
    const done = [{ action: 'revoke_key', outcome: 'done' as const, summary: 'revoked key <b>k</b>' }]
    const before = sink.messages.length
    const r = await action.run(ctxFor(run.alert, run.idempotencyKey, 1, incident, done), {}, h.deps)
    expect(r.outcome).toBe('done')
    const [m] = (await sink.waitFor(before + 1)).slice(before)
    if (!m) throw new Error('no message')
    expect(m.envelope.to.sort()).toEqual(['oncall@example.test', 'risk@example.test'])
    expect(m.envelope.from).toBe('vigil@alerts.example.test')
    expect(m.subject).toMatch(/^\[Vigil high\] auth\.brute_force: injection in <script>/)
    expect(m.messageId).toMatch(/^<vigil\.[0-9a-f]{32}@alerts\.example\.test>$/)
    expect(m.text).toContain(run.alert.id)
    expect(m.text).toContain(`https://vigil.example.test/alerts/${run.alert.id}`)
    expect(m.text).toContain(`https://vigil.example.test/incidents/${incident.id}`)
    expect(m.text).toContain('revoke_key done')
    expect(m.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &quot;quoted&quot; &amp; &#39;single&#39;')
    expect(m.html).toContain('&lt;img src=x onerror=alert(1)&gt;')
    expect(m.html).not.toMatch(/<script|<img|<svg|<b>k/)
    expect(m.html).toContain('<th align="left">attempts</th><td><code>12</code></td>')
    expect(m.html).toContain(`href="https://vigil.example.test/alerts/${run.alert.id}"`)
    for (const s of run.secrets) {
      expect(m.raw).not.toContain(s)
      expect(m.html).not.toContain(s)
      expect(m.text).not.toContain(s)
    }
    expect(r.detail).toEqual({ message_id: m.messageId, recipients: 2 })
  })

  it('a subject template cannot inject a header, and params.to overrides EMAIL_TO', async () => {
    const run = conformanceRun((a) => ({ ...a, summary: 'x\r\nBcc: attacker@evil.test\r\n\r\nbody' }))
    const before = sink.messages.length
    await action.run(ctxFor(run.alert, run.idempotencyKey), { to: ['sec@example.test'], subject: 'ALERT {{alert.summary}} {{unknown}}' }, h.deps)
    const [m] = (await sink.waitFor(before + 1)).slice(before)
    expect(m?.envelope.to).toEqual(['sec@example.test'])
    expect(m?.headers.bcc).toBeUndefined()
    expect(m?.subject).toBe('ALERT x Bcc: attacker@evil.test body {{unknown}}')
    expect(emailSubject('{{alert.rule}} {{alert.summary}}', { ...run.alert, summary: '{{alert.rule}}' }, null)).toBe('auth.brute_force {{alert.rule}}')
  })

  it('a 4xx deferral is retryable and the retry sends once; the Message-ID is the same for the same key', async () => {
    const run = conformanceRun()
    const before = sink.messages.length
    sink.refuseNext(1)
    const err = await action.run(ctxFor(run.alert, run.idempotencyKey), {}, h.deps).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(Error)
    expect(err).not.toBeInstanceOf(UnrecoverableError)
    expect((err as Error).message).toMatch(/451/)
    expect(sink.messages.length).toBe(before)
    expect((await action.run(ctxFor(run.alert, run.idempotencyKey, 2), {}, h.deps)).outcome).toBe('done')
    expect((await action.run(ctxFor(run.alert, run.idempotencyKey, 3), {}, h.deps)).outcome).toBe('already_done')
    expect(sink.messages.length).toBe(before + 1)
  })

  it('an unreachable SMTP server is retryable and the error carries no password of the SMTP URL', async () => {
    const closed: Server = createServer()
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()))
    const port = (closed.address() as { port: number }).port
    await new Promise<void>((r) => closed.close(() => r()))
    const bad = outsideActionDeps({ ...env(sink), SMTP_URL: `smtp://vigil:hunter2secretpw@127.0.0.1:${port}` })
    try {
      const run = conformanceRun()
      const err = await action.run(ctxFor(run.alert, run.idempotencyKey), {}, bad.deps).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(Error)
      expect(err).not.toBeInstanceOf(UnrecoverableError)
      expect(`${(err as Error).message} ${(err as Error).stack}`).not.toContain('hunter2secretpw')
      expect(bad.logs()).not.toContain('hunter2secretpw')
    } finally {
      await bad.close()
    }
  })

  it('missing SMTP_URL, EMAIL_FROM or recipients → skipped, naming the setting', async () => {
    const run = conformanceRun()
    for (const [e, name] of [
      [{ EMAIL_FROM: 'v@x.test', EMAIL_TO: 'a@x.test' }, 'SMTP_URL'],
      [{ SMTP_URL: sink.url, EMAIL_TO: 'a@x.test' }, 'EMAIL_FROM'],
      [{ SMTP_URL: sink.url, EMAIL_FROM: 'v@x.test' }, 'EMAIL_TO'],
    ] as const) {
      const d = outsideActionDeps(e)
      const r = await notifyEmail.run(ctxFor(run.alert, run.idempotencyKey), {}, d.deps)
      expect(r).toMatchObject({ outcome: 'skipped' })
      expect(r.summary).toContain(name)
      await d.close()
    }
  })

  it('sendDigest mails medium/low incidents once per period, escaped, with links', async () => {
    const a = conformanceRun().alert
    const incidents = [
      incidentFor({ ...a, severity: 'medium' }, { id: 'inc_b', title: 'geo <b>new</b> country', opened_at: '2026-11-24T10:00:00.000Z' }),
      incidentFor({ ...a, severity: 'low' }, { id: 'inc_a', title: 'rate abuse', opened_at: '2026-11-24T08:00:00.000Z' }),
    ].map(({ timeline: _t, ...rest }) => rest)
    const period = { since: '2026-11-24T00:00:00Z', until: `2026-11-25T00:00:00.${Date.now() % 1000}Z` }
    const before = sink.messages.length
    const r1 = await sendDigest(h.deps, { ...period, incidents })
    const r2 = await sendDigest(h.deps, { ...period, incidents })
    expect(r1.outcome).toBe('done')
    expect(r2.outcome).toBe('already_done')
    const got = (await sink.waitFor(before + 1)).slice(before)
    expect(got).toHaveLength(1)
    const m = got[0]
    expect(m?.subject).toBe('Vigil daily digest: 2 incidents (2026-11-24)')
    expect(m?.html).toContain('geo &lt;b&gt;new&lt;/b&gt; country')
    expect(m?.html).toContain('href="https://vigil.example.test/incidents/inc_a"')
    // Oldest first.
    expect(m?.text?.indexOf('rate abuse')).toBeLessThan(m?.text?.indexOf('geo <b>new</b>') ?? -1)
    const empty = await sendDigest(h.deps, { since: '2026-11-25T00:00:00Z', until: `2026-11-26T00:00:00.${Date.now() % 1000}Z`, incidents: [] })
    expect(empty.outcome).toBe('done')
  })

  it('alertEmail lists what was done and says so when nothing was', () => {
    const run = conformanceRun()
    expect(alertEmail(run.alert, null, [], { publicUrl: 'https://v.test' }).text).toContain('- nothing yet')
  })
})
