/**
 * The guard against a Vigil that requires client certificates on its machine routes
 * (`VIGIL_TLS_CLIENT_CA`, issue 6): with `tls` (its client certificate and Vigil's CA) the
 * shipper's events arrive and the control client follows revocations; without a certificate
 * Vigil refuses the shipper (`client_cert_required`) and nothing is stored. Certificates are
 * made for the test with `openssl`; Vigil runs in this process on embedded ClickHouse
 * (`vigil up --demo` over TLS: demo-tls.test.ts, a process of its own).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { loadConfig } from '@vigil/core'
import { startVigil, type VigilHandle } from '@vigil/server'
import { createControlClient, createShipper, type ControlClient, type GuardTlsOptions } from '@vigil/guard'

const dir = mkdtempSync(path.join(tmpdir(), 'vigil-guard-mtls-'))
const file = (name: string) => path.join(dir, 'certs', name)
const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' })

function makeCa(name: string): void {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', file(`${name}.key`), '-out', file(`${name}.crt`))
}
function makeCert(name: string, ca: string, ext: string): void {
  writeFileSync(file(`${name}.ext`), ext)
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${name}`, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`))
  openssl('x509', '-req', '-in', file(`${name}.csr`), '-CA', file(`${ca}.crt`), '-CAkey', file(`${ca}.key`), '-CAcreateserial', '-days', '1', '-extfile', file(`${name}.ext`), '-out', file(`${name}.crt`))
}

let vigil: VigilHandle
let secret: string
let tls: GuardTlsOptions
const closers: Array<() => Promise<unknown>> = []

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 30_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

const storedIds = async (prefix: string) =>
  (await vigil.store.query<{ id: string }>('SELECT id FROM events WHERE source = {s:String} AND startsWith(id, {p:String}) ORDER BY id', { s: 'desk-tls', p: prefix })).map((r) => r.id)

beforeAll(async () => {
  mkdirSync(path.join(dir, 'certs'), { recursive: true })
  makeCa('server-ca')
  makeCert('vigil', 'server-ca', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n')
  makeCa('client-ca')
  makeCert('guard', 'client-ca', 'extendedKeyUsage=clientAuth\n')
  vigil = await startVigil(
    loadConfig(
      {
        VIGIL_DATA_DIR: path.join(dir, 'data'),
        VIGIL_PORT: '0',
        VIGIL_LOG_LEVEL: 'warn',
        REDIS_URL: process.env.REDIS_URL as string,
        VIGIL_TLS_CERT: file('vigil.crt'),
        VIGIL_TLS_KEY: file('vigil.key'),
        VIGIL_TLS_CLIENT_CA: file('client-ca.crt'),
      },
      { cwd: dir },
    ),
  )
  secret = (await vigil.sources.add('desk-tls', { by: 'guard-mtls test' })).secret
  tls = { cert: readFileSync(file('guard.crt')), key: readFileSync(file('guard.key')), ca: readFileSync(file('server-ca.crt')) }
}, 120_000)

afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => undefined)
  await vigil?.close()
  rmSync(dir, { recursive: true, force: true })
})

const event = (id: string) => ({ id, ts: new Date().toISOString(), action: 'api.request', outcome: 'success', api_key_id: 'ak_tls_1', client_ip: '192.0.2.10' }) as never

describe('the guard and a Vigil that requires client certificates', () => {
  it('ships events with its certificate; without one Vigil refuses them and stores nothing', async () => {
    expect(vigil.url.startsWith('https://')).toBe(true)
    const good = createShipper({ vigilUrl: vigil.url, source: 'desk-tls', secret, dataDir: path.join(dir, 'outbox-good'), flushMs: 50, tls })
    closers.push(() => good.close(1000))
    for (let i = 0; i < 5; i++) good.emit(event(`mtls-ok-${i}`))
    expect(await good.flush(30_000)).toBe(true)
    expect(good.stats()).toMatchObject({ sent: 5, rejected: 0, dropped: 0 })
    expect(await waitFor('the events in storage', async () => ((await storedIds('mtls-ok-')).length === 5 ? true : undefined))).toBe(true)

    // Trusts Vigil's CA but has no certificate of its own.
    const bare = createShipper({ vigilUrl: vigil.url, source: 'desk-tls', secret, dataDir: path.join(dir, 'outbox-bare'), flushMs: 50, retryBaseMs: 50, retryMaxMs: 200, tls: { ca: tls.ca as Buffer } })
    closers.push(() => bare.close(0))
    bare.emit(event('mtls-bare-1'))
    const why = await waitFor('the refusal', () => bare.stats().lastError)
    expect(why).toMatch(/client_cert_required/)
    // Kept for when the certificate is fixed, not dead-lettered.
    expect(bare.stats()).toMatchObject({ sent: 0, rejected: 0, dropped: 0 })
    expect(bare.stats().queued + bare.stats().inFlight + bare.stats().onDisk).toBe(1)
    expect(await storedIds('mtls-bare-')).toEqual([])
  }, 120_000)

  it('follows the control channel with its certificate: a revocation reaches it', async () => {
    const client: ControlClient = createControlClient({ vigilUrl: vigil.url, source: 'desk-tls', secret, tls, pollMs: 1000, reconnectBaseMs: 100 })
    closers.push(() => client.close())
    client.start()
    await client.ready()
    expect(client.isRevoked('ak_tls_2')).toBe(false)
    await vigil.respond.keys.revoke('ak_tls_2', { reason: 'mTLS test', actor: 'test' })
    expect(await waitFor('the revocation at the guard', () => (client.isRevoked('ak_tls_2') ? true : undefined))).toBe(true)
    expect(client.stats().streaming).toBe(true)
  }, 120_000)
})

