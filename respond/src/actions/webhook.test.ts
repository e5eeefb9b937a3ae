import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { UnrecoverableError } from 'bullmq'
import { verifySignature, type Alert } from '@vigil/core'
import type { ActionContext, SecretResolver } from '../action.js'
import { conformanceRun, describeActionConformance } from './conformance.js'
import { webhook, type WebhookBody } from './webhook.js'
import { outsideActionDeps, type OutsideActionDeps } from '../testing/outside-action-deps.js'

const SECRET = 'vgs_4KxQ9pL2mN7vB3cR8tY1wZ6hJ0dF5gS'
const secrets: SecretResolver = { resolve: async (ref) => (ref === 'acme-trading' ? SECRET : null) }

interface Received {
  path: string
  headers: IncomingHttpHeaders
  body: Buffer
}

/** The trading API's endpoint: records each request and answers what the test queued. */
async function startReceiver(): Promise<{ url: string; received: Received[]; answer: Array<number | 'hang'>; close(): Promise<void> }> {
  const received: Received[] = []
  const answer: Array<number | 'hang'> = []
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) })
      const next = answer.shift() ?? 200
      if (next === 'hang') return
      if (next >= 300 && next < 400) res.setHeader('location', 'https://elsewhere.test/')
      res.writeHead(next, { 'content-type': 'application/json' })
      res.end('{"ok":true}')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/vigil/alerts`,
    received,
    answer,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}

function ctxFor(alert: Alert, idempotencyKey: string, attempt = 1): ActionContext {
  return { alert, incident: null, playbook: 'notify_trading_api', step: 2, idempotencyKey, attempt, actor: 'playbook:notify_trading_api', done: [] }
}

describe('webhook conformance', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>
  describeActionConformance(webhook, {
    async setup() {
      receiver = await startReceiver()
      const h = outsideActionDeps({}, { secrets })
      return {
        deps: h.deps,
        logs: h.logs,
        async close() {
          await h.close()
          await receiver.close()
        },
      }
    },
    params: () => ({ url: receiver.url, source: 'acme-trading', timeout: '2s' }),
    invalidParams: [
      {},
      { url: 'ftp://x.test/', source: 'acme-trading' },
      { url: 'http://x.test/', source: 'bad source id' },
      { url: 'http://x.test/', source: 'a', secret: 'inline secrets are not accepted' },
      { url: 'http://x.test/', source: 'a', timeout: 'soon' },
    ],
    context: (_deps, run) => ctxFor(run.alert, run.idempotencyKey, run.attempt),
    observe: async (_deps, run) => receiver.received.filter((r) => r.headers['idempotency-key'] === run.idempotencyKey).length,
    failing: {
      params: () => ({ url: receiver.url, source: 'acme-trading', secret_ref: 'unknown-source' }),
      expect: /UnrecoverableError: webhook: no signing secret for secret_ref "unknown-source"/,
    },
  })
})

describe('webhook', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>
  let h: OutsideActionDeps
  beforeAll(async () => {
    receiver = await startReceiver()
    h = outsideActionDeps({}, { secrets })
  })
  afterAll(async () => {
    await h.close()
    await receiver.close()
  })
  const params = () => ({ url: `${receiver.url}?token=abcdefSECRETQUERY123456`, source: 'acme-trading', timeout: '1s' })

  it('signs like CONTRACT §2: the receiver verifies Vigil-Signature with verifySignature, and gets the alert summary and Idempotency-Key', async () => {
    receiver.received.length = 0
    const run = conformanceRun()
    const r = await webhook.run(ctxFor(run.alert, run.idempotencyKey), params(), h.deps)
    expect(r.outcome).toBe('done')
    const [req] = receiver.received
    if (!req) throw new Error('nothing received')
    expect(req.headers['content-type']).toBe('application/json')
    expect(req.headers['vigil-source']).toBe('acme-trading')
    const ts = String(req.headers['vigil-timestamp'])
    expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(5)
    expect(verifySignature([SECRET], ts, req.body, String(req.headers['vigil-signature']))).toBe(true)
    expect(verifySignature(['another-secret'], ts, req.body, String(req.headers['vigil-signature']))).toBe(false)
    expect(req.headers['idempotency-key']).toBe(run.idempotencyKey)
    const body = JSON.parse(req.body.toString('utf8')) as WebhookBody
    expect(body).toMatchObject({ type: 'vigil.alert', alert: { id: run.alert.id, rule: 'auth.brute_force', api_key_id: run.alert.api_key_id }, playbook: 'notify_trading_api', step: 2, idempotency_key: run.idempotencyKey })
    expect(body).not.toHaveProperty('alert.evidence')
    for (const s of run.secrets) expect(req.body.toString('utf8')).not.toContain(s)
    // Neither the secret, the signature nor the URL's query comes back.
    const out = JSON.stringify(r)
    expect(out).not.toContain(SECRET)
    expect(out).not.toContain(String(req.headers['vigil-signature']).slice(3))
    expect(out).not.toContain('SECRETQUERY')
    expect(h.logs()).not.toContain(SECRET)
  })

  it('500 then 200: the first attempt throws a retryable error, the retry is done, a third is already_done', async () => {
    receiver.received.length = 0
    receiver.answer.push(500)
    const run = conformanceRun()
    const e = await webhook.run(ctxFor(run.alert, run.idempotencyKey, 1), params(), h.deps).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(Error)
    expect(e).not.toBeInstanceOf(UnrecoverableError)
    expect((e as Error).message).toContain('HTTP 500')
    expect((e as Error).message).not.toContain('SECRETQUERY')
    expect((await webhook.run(ctxFor(run.alert, run.idempotencyKey, 2), params(), h.deps)).outcome).toBe('done')
    expect((await webhook.run(ctxFor(run.alert, run.idempotencyKey, 3), params(), h.deps)).outcome).toBe('already_done')
    expect(receiver.received).toHaveLength(2)
    // Both attempts carried the same body and key, each freshly signed.
    expect(receiver.received[0]?.body.equals(receiver.received[1]?.body ?? Buffer.alloc(0))).toBe(true)
    expect(receiver.received.map((x) => x.headers['idempotency-key'])).toEqual([run.idempotencyKey, run.idempotencyKey])
  })

  it('400 is unrecoverable; 408 and 429 are retryable; a redirect is unrecoverable and not followed', async () => {
    const cases: Array<[number, boolean]> = [
      [400, true],
      [401, true],
      [404, true],
      [408, false],
      [429, false],
      [503, false],
      [302, true],
    ]
    for (const [status, unrecoverable] of cases) {
      receiver.received.length = 0
      receiver.answer.push(status)
      const run = conformanceRun()
      const e = await webhook.run(ctxFor(run.alert, run.idempotencyKey), params(), h.deps).catch((x: unknown) => x)
      expect(e instanceof UnrecoverableError, `HTTP ${status}`).toBe(unrecoverable)
      expect((e as Error).message).toContain(`HTTP ${status}`)
      expect(receiver.received).toHaveLength(1)
    }
  })

  it('a timeout and a refused connection are retryable', async () => {
    receiver.answer.push('hang')
    const run = conformanceRun()
    const t0 = Date.now()
    const e = await webhook.run(ctxFor(run.alert, run.idempotencyKey), params(), h.deps).catch((x: unknown) => x)
    // Cut at the 1 s timeout, not left hanging (generous: the machine is shared).
    expect(Date.now() - t0).toBeLessThan(20_000)
    expect(e).not.toBeInstanceOf(UnrecoverableError)
    expect((e as Error).message).toMatch(/timed out after 1000 ms/)

    const gone = await startReceiver()
    await gone.close()
    const e2 = await webhook.run(ctxFor(run.alert, `${run.idempotencyKey}x`), { url: gone.url, source: 'acme-trading' }, h.deps).catch((x: unknown) => x)
    expect(e2).toBeInstanceOf(Error)
    expect(e2).not.toBeInstanceOf(UnrecoverableError)
    expect((e2 as Error).message).toMatch(/could not be reached/)
  })

  it('without a secret resolver, or for an unknown secret_ref, fails unrecoverably before calling', async () => {
    receiver.received.length = 0
    const bare = outsideActionDeps({})
    const run = conformanceRun()
    await expect(webhook.run(ctxFor(run.alert, run.idempotencyKey), params(), bare.deps)).rejects.toBeInstanceOf(UnrecoverableError)
    await expect(webhook.run(ctxFor(run.alert, run.idempotencyKey), { ...params(), secret_ref: 'nope' }, h.deps)).rejects.toBeInstanceOf(UnrecoverableError)
    expect(receiver.received).toHaveLength(0)
    await bare.close()
  })
})
