import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import https from 'node:https'
import type { IncomingHttpHeaders } from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import tls from 'node:tls'
import { loadConfig, signPayload } from '@vigil/core'
import { startVigil, type VigilHandle } from './runtime.js'
import { createToken } from './tokens.js'
import { isLoopbackHost, tlsServerOptions } from './transport.js'

const dir = mkdtempSync(path.join(tmpdir(), 'vigil-transport-'))
const certs = path.join(dir, 'certs')
const file = (name: string) => path.join(certs, name)
const quiet = new Writable({ write: (_c, _e, done) => done() })

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { stdio: 'pipe' })
}

/** A throwaway CA, and a certificate it signs for `cn` with the given extensions. */
function makeCa(name: string): void {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', `/CN=${name}`,
    '-keyout', file(`${name}.key`), '-out', file(`${name}.crt`))
}
function makeCert(name: string, ca: string, cn: string, ext: string): void {
  writeFileSync(file(`${name}.ext`), ext)
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${cn}`,
    '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`))
  openssl('x509', '-req', '-in', file(`${name}.csr`), '-CA', file(`${ca}.crt`), '-CAkey', file(`${ca}.key`), '-CAcreateserial',
    '-days', '1', '-extfile', file(`${name}.ext`), '-out', file(`${name}.crt`))
}

beforeAll(() => {
  execFileSync('mkdir', ['-p', certs])
  makeCa('server-ca')
  makeCert('server', 'server-ca', 'localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n')
  makeCa('client-ca')
  makeCert('guard', 'client-ca', 'desk-tls', 'extendedKeyUsage=clientAuth\n')
  makeCa('rogue-ca')
  makeCert('rogue', 'rogue-ca', 'desk-tls', 'extendedKeyUsage=clientAuth\n')
})
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

const baseEnv = () => ({
  VIGIL_DATA_DIR: path.join(dir, 'data'),
  REDIS_URL: process.env.REDIS_URL as string,
  VIGIL_LOG_LEVEL: 'warn',
  VIGIL_PORT: '0',
})

describe('where Vigil may listen without TLS', () => {
  it('knows loopback from everything else', () => {
    for (const host of ['127.0.0.1', '127.4.5.6', '::1', '[::1]', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1']) expect(isLoopbackHost(host), host).toBe(true)
    for (const host of ['0.0.0.0', '::', '10.0.0.5', '192.168.1.2', 'vigil.example.com', '128.0.0.1', '::2']) expect(isLoopbackHost(host), host).toBe(false)
  })

  it('refuses a non-loopback host without a certificate, naming the settings', () => {
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'vigil.example.com']) {
      const config = loadConfig({ ...baseEnv(), VIGIL_HOST: host }, { cwd: dir })
      expect(() => tlsServerOptions(config), host).toThrow(/VIGIL_TLS_CERT and VIGIL_TLS_KEY must be set to listen beyond loopback/)
    }
    expect(tlsServerOptions(loadConfig({ ...baseEnv(), VIGIL_HOST: '127.0.0.1' }, { cwd: dir }))).toBeUndefined()
  })

  it('vigil up refuses to start there, before opening anything', async () => {
    const config = loadConfig({ ...baseEnv(), VIGIL_HOST: '0.0.0.0' }, { cwd: dir })
    await expect(startVigil(config, { logDestination: quiet })).rejects.toMatchObject({
      code: 'config_invalid',
      message: expect.stringContaining('VIGIL_TLS_CERT and VIGIL_TLS_KEY must be set to listen beyond loopback (VIGIL_HOST=0.0.0.0)'),
    })
  })

  it('refuses a certificate with the wrong key, and a client CA that is not PEM', () => {
    const mismatched = loadConfig({ ...baseEnv(), VIGIL_TLS_CERT: file('server.crt'), VIGIL_TLS_KEY: file('guard.key') }, { cwd: dir })
    expect(() => tlsServerOptions(mismatched)).toThrow(/VIGIL_TLS_CERT and VIGIL_TLS_KEY are not a PEM certificate and its private key/)
    const badCa = loadConfig(
      { ...baseEnv(), VIGIL_TLS_CERT: file('server.crt'), VIGIL_TLS_KEY: file('server.key'), VIGIL_TLS_CLIENT_CA: file('server.ext') },
      { cwd: dir },
    )
    expect(() => tlsServerOptions(badCa)).toThrow(/VIGIL_TLS_CLIENT_CA is not a PEM certificate bundle/)
  })

  it('takes a client CA only together with a certificate', () => {
    expect(() => loadConfig({ ...baseEnv(), VIGIL_TLS_CLIENT_CA: file('client-ca.crt') }, { cwd: dir })).toThrow(/^Invalid configuration: VIGIL_TLS_CLIENT_CA needs VIGIL_TLS_CERT/)
    const c = loadConfig({ ...baseEnv(), VIGIL_TLS_CERT: file('server.crt'), VIGIL_TLS_KEY: file('server.key') }, { cwd: dir })
    expect(c.publicUrl).toMatch(/^https:\/\//)
    expect(c.apiRateLimit).toEqual({ max: 600, windowSec: 60 })
  })

  it('reads the operator rate limit, refusing a value that is not a positive integer', () => {
    expect(loadConfig({ ...baseEnv(), VIGIL_API_RATE_LIMIT: '50', VIGIL_API_RATE_WINDOW: '10' }, { cwd: dir }).apiRateLimit).toEqual({ max: 50, windowSec: 10 })
    expect(() => loadConfig({ ...baseEnv(), VIGIL_API_RATE_LIMIT: '0' }, { cwd: dir })).toThrow(/^Invalid configuration: VIGIL_API_RATE_LIMIT must be between 1 and/)
    expect(() => loadConfig({ ...baseEnv(), VIGIL_API_RATE_WINDOW: '1m' }, { cwd: dir })).toThrow(/^Invalid configuration: VIGIL_API_RATE_WINDOW must be an integer/)
  })
})

interface Answer {
  status: number
  headers: IncomingHttpHeaders
  body: string
}

describe('vigil up over TLS with client certificates', () => {
  let handle: VigilHandle
  let port: number
  let secret: string
  let token: string
  const ca = () => readFileSync(file('server-ca.crt'))
  const clientCert = (name: 'guard' | 'rogue') => ({ cert: readFileSync(file(`${name}.crt`)), key: readFileSync(file(`${name}.key`)) })

  function request(opts: { method?: string; path: string; headers?: Record<string, string>; body?: string; client?: 'guard' | 'rogue' }): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port,
          method: opts.method ?? 'GET',
          path: opts.path,
          headers: opts.headers ?? {},
          ca: ca(),
          servername: 'localhost',
          agent: false,
          ...(opts.client ? clientCert(opts.client) : {}),
        },
        (res) => {
          let body = ''
          res.setEncoding('utf8')
          res.on('data', (c: string) => (body += c))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
        },
      )
      req.on('error', reject)
      req.end(opts.body)
    })
  }

  function signed(body = ''): Record<string, string> {
    const ts = Math.floor(Date.now() / 1000)
    return { 'vigil-source': 'desk-tls', 'vigil-timestamp': String(ts), 'vigil-signature': signPayload(secret, ts, body) }
  }

  beforeAll(async () => {
    const config = loadConfig(
      { ...baseEnv(), VIGIL_TLS_CERT: file('server.crt'), VIGIL_TLS_KEY: file('server.key'), VIGIL_TLS_CLIENT_CA: file('client-ca.crt') },
      { cwd: dir },
    )
    handle = await startVigil(config, { logDestination: quiet })
    port = Number(new URL(handle.url).port)
    secret = (await handle.sources.add('desk-tls')).secret
    token = (await createToken(handle.store, { role: 'viewer', name: 'transport test' })).token
  }, 60_000)
  afterAll(async () => {
    await handle?.close()
  })

  it('serves https', () => {
    expect(handle.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
  })

  it('refuses a TLS 1.2 client', async () => {
    const outcome = await new Promise<string>((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port, ca: ca(), servername: 'localhost', maxVersion: 'TLSv1.2' })
      socket.once('secureConnect', () => {
        resolve(`connected with ${socket.getProtocol()}`)
        socket.destroy()
      })
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(`refused: ${err.code ?? err.message}`))
    })
    expect(outcome).toMatch(/^refused: /)
    expect(outcome).toMatch(/PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|ALERT/)
  })

  it('accepts a TLS 1.3 client', async () => {
    const protocol = await new Promise<string | null>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, ca: ca(), servername: 'localhost', minVersion: 'TLSv1.3' })
      socket.once('secureConnect', () => {
        resolve(socket.getProtocol())
        socket.destroy()
      })
      socket.once('error', reject)
    })
    expect(protocol).toBe('TLSv1.3')
  })

  it('sends HSTS and upgrade-insecure-requests over TLS', async () => {
    const res = await request({ path: '/v1/health' })
    expect(res.status).toBe(200)
    expect(res.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains')
    expect(res.headers['content-security-policy']).toContain('upgrade-insecure-requests')
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'")
  })

  it('refuses ingest and the control channel without a verified client certificate', async () => {
    const event = JSON.stringify({ id: `ev-${randomBytes(4).toString('hex')}`, ts: new Date().toISOString(), action: 'api.request', outcome: 'success' })
    for (const client of [undefined, 'rogue'] as const) {
      const ingest = await request({
        method: 'POST',
        path: '/v1/events',
        headers: { 'content-type': 'application/json', ...signed(event) },
        body: event,
        ...(client ? { client } : {}),
      })
      expect([ingest.status, JSON.parse(ingest.body).error.code], `ingest with ${client ?? 'no'} certificate`).toEqual([401, 'client_cert_required'])
      expect(ingest.headers['content-security-policy']).toBeDefined()
      const state = await request({ path: '/v1/control/state', headers: signed(), ...(client ? { client } : {}) })
      expect([state.status, JSON.parse(state.body).error.code], `control with ${client ?? 'no'} certificate`).toEqual([401, 'client_cert_required'])
    }
  })

  it('accepts ingest and the control channel with a certificate from the client CA', async () => {
    const event = JSON.stringify({ id: `ev-${randomBytes(4).toString('hex')}`, ts: new Date().toISOString(), action: 'api.request', outcome: 'success' })
    const ingest = await request({ method: 'POST', path: '/v1/events', headers: { 'content-type': 'application/json', ...signed(event) }, body: event, client: 'guard' })
    expect([ingest.status, ingest.body]).toEqual([202, '{"accepted":1,"duplicates":0,"rejected":[]}'])
    const state = await request({ path: '/v1/control/state', headers: signed(), client: 'guard' })
    expect(state.status).toBe(200)
    expect(JSON.parse(state.body)).toMatchObject({ version: expect.any(Number) })
    // The certificate opens the TLS door only: the HMAC signature is still required.
    const unsigned = await request({ path: '/v1/control/state', client: 'guard' })
    expect([unsigned.status, JSON.parse(unsigned.body).error.code]).toEqual([401, 'unauthorized'])
  })

  it('keeps people and Slack routes open to callers without a certificate', async () => {
    expect((await request({ path: '/v1/health' })).status).toBe(200)
    expect((await request({ path: '/v1/events?limit=1', headers: { authorization: `Bearer ${token}` } })).status).toBe(200)
    const slack = await request({ method: 'POST', path: '/v1/slack/interactions', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'payload=%7B%7D' })
    expect(JSON.parse(slack.body).error.code).not.toBe('client_cert_required')
  })
})
