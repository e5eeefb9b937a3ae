import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { createHmac } from 'node:crypto'
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { demoEvent } from './demo-traffic.js'
import { runVigil, vigilEnv, VIGIL_BIN as bin, type CliRun } from './cli-test-support.js'

// These run the real `vigil` shim over server/dist, as an operator would; the run's global
// set-up (test/global-setup.ts) has built every workspace.

type Run = CliRun

let dataDir: string
const extraDirs: string[] = []

const baseEnv = (extra: Record<string, string> = {}) => vigilEnv(dataDir, extra)
const vigil = (args: string[], extra: Record<string, string> = {}): Promise<Run> => runVigil(dataDir, args, extra)

const lines = (s: string) => s.split('\n').filter((l) => l.trim() !== '')

function oneJson(s: string): Record<string, unknown> {
  expect(lines(s), s).toHaveLength(1)
  return JSON.parse(s) as Record<string, unknown>
}

beforeAll(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'vigil-cli-'))
})
afterAll(() => {
  for (const dir of [dataDir, ...extraDirs]) if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('vigil up: configuration errors', () => {
  it('stops with one stderr line naming the setting, exit 2', async () => {
    const r = await vigil(['up'], { VIGIL_PORT: 'abc' })
    expect(r.code).toBe(2)
    expect(lines(r.stderr)).toHaveLength(1)
    expect(r.stderr).toMatch(/^vigil: config_invalid: VIGIL_PORT must be an integer/)
    expect(r.stdout).toBe('')
  })

  it('answers the same error as one JSON object with --json', async () => {
    const r = await vigil(['up', '--json'], { VIGIL_PORT: '70000' })
    expect(r.code).toBe(2)
    const body = oneJson(r.stderr)
    expect(body).toEqual({ error: { code: 'config_invalid', message: expect.stringContaining('VIGIL_PORT') } })
  })

  it('treats unknown commands and options as usage errors', async () => {
    const a = await vigil(['sources', 'add', 'x', '--frobnicate'])
    expect(a.code).toBe(2)
    expect(lines(a.stderr)).toEqual([expect.stringMatching(/^vigil: usage: unknown option '--frobnicate'/)])
    const b = await vigil(['tokens', 'create', '--role', 'viewer', '--json'])
    expect(b.code).toBe(2)
    expect(oneJson(b.stderr)).toEqual({ error: { code: 'usage', message: expect.stringContaining('--name') } })
  })
})

describe('vigil sources', () => {
  let secret = ''
  let rotated = ''

  it('add --json prints one object with the secret', async () => {
    const r = await vigil(['sources', 'add', 'desk-eu', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const body = oneJson(r.stdout)
    expect(body).toEqual({ id: 'desk-eu', secret: expect.stringMatching(/^vgs_[A-Za-z0-9_-]{40,}$/) })
    secret = body.secret as string
  })

  it('add without --json prints the secret once with a warning', async () => {
    const r = await vigil(['sources', 'add', 'desk-us'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/vgs_[A-Za-z0-9_-]{40,}/)
    expect(r.stdout).toContain('will not be shown again')
  })

  it('refuses a duplicate (exit 1) and a bad id (exit 2)', async () => {
    const dup = await vigil(['sources', 'add', 'desk-eu', '--json'])
    expect(dup.code).toBe(1)
    expect(oneJson(dup.stderr)).toMatchObject({ error: { code: 'source_exists' } })
    const bad = await vigil(['sources', 'add', 'no spaces!'])
    expect(bad.code).toBe(2)
    expect(lines(bad.stderr)).toEqual([expect.stringMatching(/^vigil: bad_source_id: /)])
  })

  it('rotate --json prints the new secret', async () => {
    const r = await vigil(['sources', 'rotate', 'desk-eu', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const body = oneJson(r.stdout)
    expect(body).toMatchObject({ id: 'desk-eu', secret: expect.stringMatching(/^vgs_/) })
    rotated = body.secret as string
    expect(rotated).not.toBe(secret)
    const missing = await vigil(['sources', 'rotate', 'nope', '--json'])
    expect(missing.code).toBe(1)
    expect(oneJson(missing.stderr)).toMatchObject({ error: { code: 'source_not_found' } })
  })

  it('list --json never shows a secret', async () => {
    const r = await vigil(['sources', 'list', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const body = oneJson(r.stdout) as { items: Array<Record<string, unknown>> }
    expect(body.items.map((s) => s.id).sort()).toEqual(['desk-eu', 'desk-us'])
    for (const s of body.items) expect(Object.keys(s).sort()).toEqual(['created_at', 'id', 'previous_valid_until', 'rotated_at', 'status'])
    expect(r.stdout).not.toContain(secret)
    expect(r.stdout).not.toContain(rotated)
    expect(r.stdout).not.toContain('vgs_')
  })
})

describe('vigil tokens', () => {
  it('creates, lists and revokes', async () => {
    const created = await vigil(['tokens', 'create', '--role', 'analyst', '--name', 'ci bot', '--ttl', '2h', '--json'])
    expect(created.code, created.stderr).toBe(0)
    const token = oneJson(created.stdout)
    expect(token).toMatchObject({ id: expect.stringMatching(/^tok_/), token: expect.stringMatching(/^vgt_/), role: 'analyst', name: 'ci bot' })

    const list = await vigil(['tokens', 'list', '--json'])
    const items = (oneJson(list.stdout) as { items: Array<Record<string, unknown>> }).items
    expect(items).toContainEqual(expect.objectContaining({ id: token.id, status: 'active', role: 'analyst' }))
    expect(list.stdout).not.toContain(token.token as string)
    expect(list.stdout).not.toContain('vgt_')

    const revoked = await vigil(['tokens', 'revoke', token.id as string, '--json'])
    expect(revoked.code, revoked.stderr).toBe(0)
    expect(oneJson(revoked.stdout)).toEqual({ id: token.id, status: 'revoked', revoked_at: expect.stringMatching(/Z$/) })
  })

  it('rejects a bad role and a bad ttl as usage errors', async () => {
    const role = await vigil(['tokens', 'create', '--role', 'root', '--name', 'x', '--json'])
    expect(role.code).toBe(2)
    expect(oneJson(role.stderr)).toMatchObject({ error: { code: 'bad_role' } })
    const ttl = await vigil(['tokens', 'create', '--role', 'viewer', '--name', 'x', '--ttl', 'forever'])
    expect(ttl.code).toBe(2)
    expect(lines(ttl.stderr)).toEqual([expect.stringMatching(/^vigil: bad_ttl: /)])
    const gone = await vigil(['tokens', 'revoke', 'tok_missing'])
    expect(gone.code).toBe(1)
  })
})

interface Up {
  child: ChildProcess
  started: { status: string; url: string }
  stdout(): string
  stderr(): string
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>
}

/** Starts `vigil up --json` on `dir` and waits for its one line on stdout. */
async function startUp(dir: string, extra: Record<string, string> = {}): Promise<Up> {
  const child = spawn(process.execPath, [bin, 'up', '--json'], { cwd: dir, env: baseEnv({ VIGIL_DATA_DIR: dir, VIGIL_PORT: '0', ...extra }) })
  running.push(child)
  let stdout = ''
  let stderr = ''
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const started = await new Promise<Up['started']>((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      stdout += b.toString()
      if (stdout.includes('\n')) resolve(JSON.parse(stdout) as Up['started'])
    })
    void exited.then((code) => reject(new Error(`vigil up exited ${code}: ${stderr}`)))
  })
  return {
    child,
    started,
    stdout: () => stdout,
    stderr: () => stderr,
    stop() {
      child.kill('SIGTERM')
      return exited
    },
  }
}

const running: ChildProcess[] = []

/** One event signed as CONTRACT §2 asks, the way a trading API would send it. */
function postSigned(url: string, source: string, secret: string): Promise<Response> {
  const body = JSON.stringify(demoEvent(Date.now()))
  const ts = String(Math.floor(Date.now() / 1000))
  const sig = createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')
  return fetch(`${url}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson', 'vigil-source': source, 'vigil-timestamp': ts, 'vigil-signature': `v1=${sig}` },
    body,
  })
}

describe('vigil up', () => {
  afterAll(() => {
    for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })

  it('runs, serves admin commands over its socket, and stops cleanly on SIGTERM', async () => {
    const up = await startUp(dataDir)
    const { url } = up.started
    expect(up.started).toMatchObject({ status: 'up', url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) })

    const health = await fetch(`${url}/v1/health`)
    expect(health.status).toBe(200)
    expect(await health.json()).toMatchObject({ clickhouse: 'ok', redis: 'ok' })

    const sock = path.join(dataDir, 'vigil.sock')
    expect(statSync(sock).isSocket()).toBe(true)
    expect(statSync(sock).mode & 0o777).toBe(0o600)

    // A token made while Vigil runs reads its API at once.
    const created = await vigil(['tokens', 'create', '--role', 'analyst', '--name', 't', '--json'])
    expect(created.code, created.stderr).toBe(0)
    const token = oneJson(created.stdout)
    expect(Object.keys(token)).toEqual(['id', 'token', 'role', 'name', 'expires_at'])
    const events = await fetch(`${url}/v1/events`, { headers: { authorization: `Bearer ${token.token as string}` } })
    expect(events.status).toBe(200)

    // A source added, then rotated, while Vigil runs is accepted at once with its new secret.
    const added = await vigil(['sources', 'add', 's2', '--json'])
    expect(added.code, added.stderr).toBe(0)
    expect(oneJson(added.stdout)).toEqual({ id: 's2', secret: expect.stringMatching(/^vgs_/) })
    const list = await vigil(['sources', 'list', '--json'])
    expect(list.code, list.stderr).toBe(0)
    const items = (oneJson(list.stdout) as { items: Array<Record<string, unknown>> }).items
    expect(items.map((s) => s.id).sort()).toEqual(['desk-eu', 'desk-us', 's2'])
    for (const s of items) expect(Object.keys(s)).toEqual(['id', 'status', 'created_at', 'rotated_at', 'previous_valid_until'])
    const rotated = await vigil(['sources', 'rotate', 's2', '--json'])
    expect(rotated.code, rotated.stderr).toBe(0)
    const rotatedBody = oneJson(rotated.stdout)
    expect(Object.keys(rotatedBody)).toEqual(['id', 'secret', 'previous_valid_until'])
    const accepted = await postSigned(url, 's2', rotatedBody.secret as string)
    expect(accepted.status, await accepted.clone().text()).toBe(202)
    expect(await accepted.json()).toMatchObject({ accepted: 1 })

    // Failures come back as the same one line, with the same exit status.
    const dup = await vigil(['sources', 'add', 's2', '--json'])
    expect(dup.code).toBe(1)
    expect(oneJson(dup.stderr)).toEqual({ error: { code: 'source_exists', message: 'A source with this id already exists: s2' } })
    const role = await vigil(['tokens', 'create', '--role', 'root', '--name', 'x'])
    expect(role.code).toBe(2)
    expect(lines(role.stderr)).toEqual(['vigil: bad_role: Unknown role: "root"'])
    const human = await vigil(['tokens', 'list'])
    expect(human.code, human.stderr).toBe(0)
    expect(human.stdout).toMatch(/^ID +ROLE +NAME +STATUS +EXPIRES\n/)
    expect(human.stdout).not.toContain('vgt_')

    expect(await up.stop()).toBe(0)
    expect(lines(up.stdout())).toHaveLength(1)
    expect(existsSync(sock)).toBe(false)

    // Stopped, the commands open the store themselves and see what was done over the socket.
    const after = await vigil(['tokens', 'list', '--json'])
    expect(after.code, after.stderr).toBe(0)
    expect((oneJson(after.stdout) as { items: Array<Record<string, unknown>> }).items).toContainEqual(
      expect.objectContaining({ id: token.id, status: 'active' }),
    )
  }, 90_000)

  it('serves no socket in a data dir open to others, and the commands report the lock as before', async () => {
    const open = mkdtempSync(path.join(tmpdir(), 'vigil-cli-open-'))
    extraDirs.push(open)
    chmodSync(open, 0o755)
    const up = await startUp(open)
    expect(existsSync(path.join(open, 'vigil.sock'))).toBe(false)
    expect(up.stderr()).toMatch(/admin socket not served.*open to group or others \(mode 0755\); chmod 700 it/)

    const locked = await vigil(['sources', 'list'], { VIGIL_DATA_DIR: open })
    expect(locked.code).toBe(1)
    expect(lines(locked.stderr)).toEqual([expect.stringMatching(/^vigil: store_locked: .*in use by another Vigil process/)])
    const json = await vigil(['tokens', 'create', '--role', 'analyst', '--name', 't', '--json'], { VIGIL_DATA_DIR: open })
    expect(json.code).toBe(1)
    expect(oneJson(json.stderr)).toMatchObject({ error: { code: 'store_locked' } })

    expect(await up.stop()).toBe(0)
  }, 60_000)
})
