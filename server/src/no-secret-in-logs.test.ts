/**
 * The promise of core/src/logger.ts, held for the whole product: `vigil up` runs with known
 * secrets (a source secret, an operator token, the master key, Slack's token and signing
 * secret, the SMTP password inside SMTP_URL, a ClickHouse password), takes a realistic mix
 * of requests, failures and a brute-force campaign whose playbook calls Slack and email
 * (the mail server refuses the login), logs at the most verbose level, and no line may carry any of those
 * secrets, nor their base64, base64url or hex forms.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http'
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { loadConfig, signPayload } from '@vigil/core'
import { startVigil, type VigilHandle } from './runtime.js'
import { createToken } from './tokens.js'

const dir = mkdtempSync(path.join(tmpdir(), 'vigil-nolog-'))
const lines: string[] = []
const capture = new Writable({
  write(chunk: Buffer, _enc, done) {
    lines.push(chunk.toString('utf8'))
    done()
  },
})

const masterKey = randomBytes(32).toString('hex')
const slackToken = `xoxb-${randomBytes(6).toString('hex')}-${randomBytes(12).toString('hex')}`
const slackSigningSecret = randomBytes(16).toString('hex')
const smtpPassword = `Smtp-${randomBytes(12).toString('base64url')}`
const clickhousePassword = `ch-${randomBytes(12).toString('hex')}`

/** Stands in for Slack: records who called with what token, accepts the message. */
let slack: HttpServer
const slackAuth: string[] = []
/** Stands in for a mail server: offers AUTH, records the attempt, refuses it. */
let smtp: TcpServer
const smtpAuth: string[] = []

let handle: VigilHandle
let sourceSecret: string
let token: string

function listen(server: HttpServer | TcpServer): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)))
}

beforeAll(async () => {
  slack = createHttpServer((req, res) => {
    slackAuth.push(String(req.headers.authorization ?? ''))
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"ok":true,"channel":"C0SOC","ts":"1700000000.000100"}')
    })
  })
  smtp = createTcpServer((socket) => {
    socket.setEncoding('utf8')
    socket.write('220 mail.test ESMTP\r\n')
    let buf = ''
    socket.on('data', (chunk: string) => {
      buf += chunk
      let i: number
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i)
        buf = buf.slice(i + 2)
        if (/^(EHLO|HELO)/i.test(line)) socket.write('250-mail.test\r\n250 AUTH PLAIN LOGIN\r\n')
        else if (/^AUTH/i.test(line)) {
          smtpAuth.push(line)
          socket.write('535 5.7.8 Authentication credentials invalid\r\n')
        } else if (/^QUIT/i.test(line)) socket.end('221 bye\r\n')
        else socket.write('503 5.5.1 Bad sequence\r\n')
      }
    })
    socket.on('error', () => {})
  })
  const [slackPort, smtpPort] = await Promise.all([listen(slack), listen(smtp)])

  const config = loadConfig(
    {
      VIGIL_DATA_DIR: dir,
      VIGIL_PORT: '0',
      REDIS_URL: process.env.REDIS_URL as string,
      VIGIL_LOG_LEVEL: 'trace',
      VIGIL_MASTER_KEY: masterKey,
      CLICKHOUSE_PASSWORD: clickhousePassword,
      SLACK_TOKEN: slackToken,
      SLACK_CHANNEL: 'C0SOC',
      SLACK_API_URL: `http://127.0.0.1:${slackPort}/api/`,
      SLACK_SIGNING_SECRET: slackSigningSecret,
      SMTP_URL: `smtp://vigil:${smtpPassword}@127.0.0.1:${smtpPort}`,
      EMAIL_FROM: 'vigil@example.com',
      EMAIL_TO: 'soc@example.com',
    },
    { cwd: dir },
  )
  handle = await startVigil(config, { logDestination: capture })
  sourceSecret = (await handle.sources.add('desk-logs')).secret
  token = (await createToken(handle.store, { role: 'admin', name: 'log test' })).token
}, 60_000)

afterAll(async () => {
  await handle?.close()
  await new Promise((r) => slack?.close(r))
  await new Promise((r) => smtp?.close(r))
  rmSync(dir, { recursive: true, force: true })
})

function signed(body: string, secret = sourceSecret, ts = Math.floor(Date.now() / 1000)): Record<string, string> {
  return { 'vigil-source': 'desk-logs', 'vigil-timestamp': String(ts), 'vigil-signature': signPayload(secret, ts, body) }
}

async function call(method: string, url: string, headers: Record<string, string> = {}, body?: string): Promise<number> {
  const res = await fetch(`${handle.url}${url}`, { method, headers, ...(body !== undefined ? { body } : {}) })
  await res.arrayBuffer()
  return res.status
}

/** Every form a secret could take on its way into a line. */
function formsOf(secret: string, { hexKey = false } = {}): string[] {
  const bytes = hexKey ? Buffer.from(secret, 'hex') : Buffer.from(secret, 'utf8')
  const forms = [secret, bytes.toString('base64').replace(/=+$/, ''), bytes.toString('base64url'), Buffer.from(secret, 'utf8').toString('hex')]
  if (hexKey) forms.push(bytes.toString('hex').toUpperCase())
  return forms
}

describe('no secret in any log line', () => {
  it('holds across requests, failures and a playbook that calls Slack and a mail server that refuses it', async () => {
    const auth = { authorization: `Bearer ${token}` }
    const json = { 'content-type': 'application/json' }
    const ndjson = { 'content-type': 'application/x-ndjson' }
    const now = Date.now()

    // Ingest: good events carrying secrets in their fields (masked before storing and logging).
    const leaky = JSON.stringify({
      id: 'leak-1',
      ts: new Date(now).toISOString(),
      action: 'api.request',
      outcome: 'success',
      http: { method: 'GET', path: `/v1/orders?token=${token}`, status: 200 },
      attrs: { note: `password=${smtpPassword}`, header: `Authorization: Bearer ${slackToken}` },
    })
    expect(await call('POST', '/v1/events', { ...json, ...signed(leaky) }, leaky)).toBe(202)
    // A brute-force campaign on one key from one IP: critical, so the credential playbook
    // revokes the key and calls Slack, then email, whose server refuses the login.
    const campaign = Array.from({ length: 45 }, (_, i) =>
      JSON.stringify({
        id: `bf-${i}`,
        ts: new Date(now - 45_000 + i * 1000).toISOString(),
        action: 'auth.login',
        outcome: 'failure',
        reason: 'bad_signature',
        api_key_id: 'ak_logs_victim',
        client_ip: '203.0.113.9',
      }),
    ).join('\n')
    expect(await call('POST', '/v1/events', { ...ndjson, ...signed(campaign) }, campaign)).toBe(202)
    // Ingest failures: forged, stale, replayed, malformed (with a secret in it), wrong type.
    expect(await call('POST', '/v1/events', { ...json, ...signed(leaky, `vgs_${randomBytes(16).toString('hex')}`) }, leaky)).toBe(401)
    expect(await call('POST', '/v1/events', { ...json, ...signed(leaky, sourceSecret, Math.floor(now / 1000) - 3600) }, leaky)).toBe(401)
    const once = signed(leaky.replace('leak-1', 'leak-2'))
    expect(await call('POST', '/v1/events', { ...json, ...once }, leaky.replace('leak-1', 'leak-2'))).toBe(202)
    expect(await call('POST', '/v1/events', { ...json, ...once }, leaky.replace('leak-1', 'leak-2'))).toBe(409)
    const malformed = `{"secret": "${sourceSecret}", `
    expect(await call('POST', '/v1/events', { ...json, ...signed(malformed) }, malformed)).toBe(400)
    expect(await call('POST', '/v1/events', { 'content-type': 'text/plain', ...signed(sourceSecret) }, sourceSecret)).toBe(415)

    // Operator API: a good read, a token in the query string, a wrong and a missing token,
    // a secret pasted into a path and into a reason, an unknown path and a wrong method.
    expect(await call('GET', '/v1/events?limit=5', auth)).toBe(200)
    expect(await call('GET', `/v1/events?access_token=${token}`)).toBe(401)
    expect(await call('GET', '/v1/incidents', { authorization: `Bearer vgt_${randomBytes(20).toString('base64url')}` })).toBe(401)
    expect(await call('GET', `/v1/keys/${encodeURIComponent(sourceSecret)}`, auth)).toBeLessThan(500)
    expect(await call('POST', '/v1/keys/ak_logs_other/revoke', { ...auth, ...json }, JSON.stringify({ reason: `leaked: ${slackToken}` }))).toBe(200)
    expect(await call('POST', '/v1/killswitches', { ...auth, ...json }, `{"scope": {"type": "nope"}, "reason": "${smtpPassword}"}`)).toBe(400)
    expect(await call('GET', `/nowhere/${masterKey}`)).toBe(404)
    expect(await call('DELETE', '/v1/health')).toBe(405)
    expect(await call('GET', '/v1/health')).toBe(200)
    expect(await call('GET', '/metrics', auth)).toBe(200)

    // Control channel and Slack callbacks: good, forged.
    expect(await call('GET', '/v1/control/state', signed(''))).toBe(200)
    expect(await call('GET', '/v1/control/state', signed('', slackSigningSecret))).toBe(401)
    const click = `payload=${encodeURIComponent(JSON.stringify({ token: slackToken, type: 'block_actions' }))}`
    expect(
      await call('POST', '/v1/slack/interactions', { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(Math.floor(now / 1000)), 'x-slack-signature': `v0=${'0'.repeat(64)}` }, click),
    ).toBe(401)

    // The playbook reached Slack and the mail server with the real credentials.
    for (let i = 0; i < 600 && (slackAuth.length === 0 || smtpAuth.length === 0); i++) await new Promise((r) => setTimeout(r, 100))
    expect(slackAuth).toContain(`Bearer ${slackToken}`)
    expect(smtpAuth.join('\n')).toMatch(/^AUTH (PLAIN|LOGIN)/)
    // Wait for the refused email to be logged, then stop, so shutdown lines are read too.
    const emailFailed = () => lines.some((l) => l.includes('"action":"notify_email"'))
    for (let i = 0; i < 600 && !emailFailed(); i++) await new Promise((r) => setTimeout(r, 100))
    expect(emailFailed()).toBe(true)
    await handle.close()

    const text = lines.join('')
    expect(lines.length).toBeGreaterThan(30)
    // The log did see the failures it must describe without their secrets.
    expect(text).toContain('"component":"slack"')
    expect(text).toMatch(/"action":"notify_email".*535/)
    expect(text).toContain('"msg":"stopped"')
    const secrets: Array<[string, string[]]> = [
      ['source secret', formsOf(sourceSecret)],
      ['operator token', formsOf(token)],
      ['master key', formsOf(masterKey, { hexKey: true })],
      ['Slack token', formsOf(slackToken)],
      ['Slack signing secret', formsOf(slackSigningSecret)],
      ['SMTP password', formsOf(smtpPassword)],
      ['ClickHouse password', formsOf(clickhousePassword)],
    ]
    for (const [name, forms] of secrets) {
      for (const form of forms) {
        const hit = lines.find((l) => l.includes(form))
        // The failure names the line with the secret cut out, so the report does not leak it either.
        expect(hit === undefined ? undefined : `${name} in: ${hit.replaceAll(form, `<${name}>`).slice(0, 400)}`, name).toBeUndefined()
      }
    }
  }, 120_000)
})
