/**
 * `vigil up --demo` as a new user runs it (issue 5): the built CLI as a real process, with
 * its own private Redis. Within a generous hang guard the demo must show events from source
 * `demo` (shipped by the demo trading API's guard), alerts, a key revoked by a playbook and a
 * kill-switch tripped by one; SIGTERM must then stop it with exit code 0 and leave no
 * process behind (its private redis-server included). Needs `npx turbo run build` first.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { exited, freePort, ROOT, tempDataDir, VIGIL_BIN, vigilJson } from './vigil-process.js'

const dataDir = tempDataDir('vigil-demo-e2e-')
let child: ChildProcess | undefined
let url: string
let viewer: string
let stderr = ''

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function get<T>(pathname: string): Promise<T> {
  const res = await fetch(`${url}${pathname}`, { headers: { authorization: `Bearer ${viewer}` } })
  expect(res.status, pathname).toBe(200)
  return (await res.json()) as T
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}\n${stderr.slice(-4000)}`)
    await sleep(500)
  }
}

/** Pids of live processes whose command line names the data dir (the private Redis does). */
function processesUsing(dir: string): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(dir)) pids.push(Number(entry))
    } catch {
      // gone meanwhile
    }
  }
  return pids
}

beforeAll(async () => {
  const env: NodeJS.ProcessEnv = { ...process.env, VIGIL_DATA_DIR: dataDir, VIGIL_LOG_LEVEL: 'info' }
  // A private Redis, as a new user gets: the test run's shared one carries other tests' queues.
  delete env.REDIS_URL
  viewer = (vigilJson(['tokens', 'create', '--role', 'viewer', '--name', 'demo-e2e'], env) as { token: string }).token
  const port = await freePort()
  child = spawn(process.execPath, [VIGIL_BIN, 'up', '--demo', '--json'], { env: { ...env, VIGIL_PORT: String(port) }, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  let stdout = ''
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString()
  })
  const up = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`vigil up --demo printed nothing in 90 s: ${stderr.slice(-2000)}`)), 90_000)
    const check = setInterval(() => {
      const line = stdout.split('\n').find((l) => l.startsWith('{'))
      if (line) {
        clearTimeout(timer)
        clearInterval(check)
        resolve(JSON.parse(line) as Record<string, unknown>)
      } else if (child!.exitCode !== null) {
        clearTimeout(timer)
        clearInterval(check)
        reject(new Error(`vigil up --demo exited ${child!.exitCode}: ${stderr.slice(-2000)}`))
      }
    }, 100)
  })
  expect(up).toMatchObject({ status: 'up', demo: true, demo_api: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) })
  // The demo trading API is up and guarded: unsigned requests are refused.
  expect((await fetch(`${up.demo_api as string}/health`)).status).toBe(200)
  expect((await fetch(`${up.demo_api as string}/v1/positions`)).status).toBe(401)
  url = up.url as string
  // A fresh Vigil with the demo gets one dashboard account, its password in an owner-only file, never in the log.
  const account = up.demo_account as { email: string; password_file: string }
  expect(account.email).toBe('admin@demo.example')
  expect(statSync(account.password_file).mode & 0o777).toBe(0o600)
  const password = readFileSync(account.password_file, 'utf8').trim()
  expect(password.length).toBeGreaterThanOrEqual(12)
  expect(stderr).not.toContain(password)
  const login = await fetch(`${url}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: account.email, password }) })
  expect(login.status).toBe(200)
  expect(await login.json()).toMatchObject({ next: 'enrol' })
}, 120_000)

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL')
    await exited(child)
  }
  rmSync(dataDir, { recursive: true, force: true })
})

describe('vigil up --demo', () => {
  it('shows guard-shipped events, alerts, a revoked key and a tripped kill-switch, then stops cleanly', async () => {
    const events = await waitFor(
      'request events from source demo',
      async () => {
        const { items } = await get<{ items: Array<{ source: string; http?: unknown; client_ip?: string }> }>('/v1/events?limit=50')
        // The guard sees the simulator's planned client addresses (X-Forwarded-For from
        // loopback), not 127.0.0.1 — which only the test's own unsigned request above has.
        const requests = items.filter((e) => e.source === 'demo' && e.http !== undefined && e.client_ip !== '127.0.0.1')
        return requests.length > 0 ? requests : undefined
      },
      60_000,
    )
    expect(events[0]!.client_ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/)

    const alerts = await waitFor(
      'an alert',
      async () => {
        const { items } = await get<{ items: Array<{ rule: string }> }>('/v1/alerts?limit=100')
        return items.length > 0 ? items : undefined
      },
      120_000,
    )
    expect(alerts[0]!.rule).toMatch(/^[a-z]+\.[a-z_]+$/)

    // The first cycle's brute-force victim (keyTag 1): revoked by critical_credential_attack.
    const revoked = await waitFor(
      'the brute-forced key to be revoked',
      async () => {
        const key = await get<{ status: string; revoked_at: string | null; reason: string | null }>('/v1/keys/ak_bf1_001')
        return key.status === 'revoked' ? key : undefined
      },
      150_000,
    )
    expect(Date.parse(revoked.revoked_at ?? '')).toBeGreaterThan(0)

    // The first cycle's fat finger: critical_trading_anomaly trips the key's kill-switch.
    const ks = await waitFor(
      'a tripped kill-switch',
      async () => {
        const { items } = await get<{ items: Array<{ scope: { type: string; id: string }; status?: string }> }>('/v1/killswitches?limit=50')
        return items.find((k) => k.scope.type === 'api_key' && k.scope.id === 'ak_ff1_001')
      },
      150_000,
    )
    expect(ks.scope).toEqual({ type: 'api_key', id: 'ak_ff1_001' })

    // The guard enforced them: the demo logs each probe the guard refused.
    await waitFor('the guard to enforce the revocation', async () => (/the guard enforced a revocation/.test(stderr) ? true : undefined), 30_000)
    expect(stderr).toMatch(/"refused":"revoked_key"/)

    child!.kill('SIGTERM')
    expect(await exited(child!)).toBe(0)
    expect(stderr).toMatch(/"msg":"stopped"/)
    // Nothing of it is left running (the private redis-server is started on the data dir).
    await waitFor('no process on the data dir', async () => (processesUsing(dataDir).length === 0 ? true : undefined), 10_000)
  }, 420_000)
})
