/**
 * `vigil up --demo` over TLS (issue 5 with issue 6): with a self-signed certificate the demo's
 * guard trusts Vigil's certificate and ships as source `demo`; with client certificates required
 * (`VIGIL_TLS_CLIENT_CA`) the demo is refused at start, naming the setting. One chDB data dir
 * per process, so this file has its own.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { loadConfig } from '@vigil/core'
import { startVigil } from '@vigil/server'

const dir = mkdtempSync(path.join(tmpdir(), 'vigil-demo-tls-'))
const file = (name: string) => path.join(dir, name)
const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' })
const closers: Array<() => Promise<unknown>> = []

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

beforeAll(() => {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=vigil-self',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', file('self.key'), '-out', file('self.crt'))
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=client-ca',
    '-keyout', file('client-ca.key'), '-out', file('client-ca.crt'))
})
afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => undefined)
  rmSync(dir, { recursive: true, force: true })
})

describe('vigil up --demo over TLS', () => {
  const env = (name: string, extra: Record<string, string>) =>
    loadConfig({ VIGIL_DATA_DIR: path.join(dir, name), VIGIL_PORT: '0', VIGIL_LOG_LEVEL: 'warn', REDIS_URL: process.env.REDIS_URL as string, ...extra }, { cwd: dir })

  it('ships the demo over HTTPS to a self-signed Vigil', async () => {
    const demo = await startVigil(env('demo-tls', { VIGIL_TLS_CERT: file('self.crt'), VIGIL_TLS_KEY: file('self.key') }), { demo: true })
    closers.push(() => demo.close())
    expect(demo.url.startsWith('https://')).toBe(true)
    const n = await waitFor('the demo guard\'s events', async () => {
      const rows = await demo.store.query<{ n: string }>("SELECT count() AS n FROM events WHERE source = 'demo'")
      const count = Number(rows[0]?.n ?? 0)
      return count > 0 ? count : undefined
    }, 60_000)
    expect(n).toBeGreaterThan(0)
  }, 120_000)

  it('refuses to start the demo when client certificates are required', async () => {
    await expect(
      startVigil(env('demo-mtls', { VIGIL_TLS_CERT: file('self.crt'), VIGIL_TLS_KEY: file('self.key'), VIGIL_TLS_CLIENT_CA: file('client-ca.crt') }), { demo: true }),
    ).rejects.toMatchObject({ message: expect.stringContaining('VIGIL_TLS_CLIENT_CA') })
  })
})
