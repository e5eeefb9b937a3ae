import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

// These run the real `vigil` shim over server/dist, as an operator would. The test builds
// server itself; core and ingest dist come from the normal build (scripts/setup.sh).
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const bin = path.join(repo, 'server', 'bin', 'vigil.js')

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

let dataDir: string

function baseEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { VIGIL_PORT: _p, VIGIL_DATA_DIR: _d, ...rest } = process.env
  return { ...rest, VIGIL_DATA_DIR: dataDir, VIGIL_LOG_LEVEL: 'warn', ...extra }
}

function vigil(args: string[], extra: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: dataDir, env: baseEnv(extra) })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()))
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

const lines = (s: string) => s.split('\n').filter((l) => l.trim() !== '')

function oneJson(s: string): Record<string, unknown> {
  expect(lines(s), s).toHaveLength(1)
  return JSON.parse(s) as Record<string, unknown>
}

beforeAll(() => {
  execFileSync(process.execPath, [path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(repo, 'server', 'tsconfig.json')], {
    cwd: repo,
    stdio: 'pipe',
  })
  dataDir = mkdtempSync(path.join(tmpdir(), 'vigil-cli-'))
}, 120_000)
afterAll(() => {
  if (dataDir) rmSync(dataDir, { recursive: true, force: true })
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

describe('vigil up', () => {
  let up: ChildProcess | undefined
  afterAll(() => {
    if (up && up.exitCode === null) up.kill('SIGKILL')
  })

  it('runs, holds the data dir against admin commands, and stops cleanly on SIGTERM', async () => {
    up = spawn(process.execPath, [bin, 'up', '--json'], { cwd: dataDir, env: baseEnv({ VIGIL_PORT: '0', VIGIL_LOG_LEVEL: 'warn' }) })
    let stdout = ''
    let stderr = ''
    up.stderr!.on('data', (b: Buffer) => (stderr += b.toString()))
    const started = await new Promise<Record<string, unknown>>((resolve, reject) => {
      up!.stdout!.on('data', (b: Buffer) => {
        stdout += b.toString()
        if (stdout.includes('\n')) resolve(JSON.parse(stdout) as Record<string, unknown>)
      })
      up!.on('exit', (code) => reject(new Error(`vigil up exited ${code}: ${stderr}`)))
    })
    expect(started).toMatchObject({ status: 'up', url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) })

    const health = await fetch(`${started.url}/v1/health`)
    expect(health.status).toBe(200)
    expect(await health.json()).toMatchObject({ clickhouse: 'ok', redis: 'ok' })

    const locked = await vigil(['sources', 'list'])
    expect(locked.code).toBe(1)
    expect(lines(locked.stderr)).toEqual([expect.stringMatching(/^vigil: store_locked: .*in use by another Vigil process/)])

    const exited = new Promise<number | null>((resolve) => up!.on('exit', (code) => resolve(code)))
    up.kill('SIGTERM')
    expect(await exited).toBe(0)
    expect(lines(stdout)).toHaveLength(1)
  }, 60_000)
})
