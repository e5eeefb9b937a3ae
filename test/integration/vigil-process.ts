/**
 * Runs the built `vigil` CLI as a real process for integration tests: a fresh data dir,
 * a free port, the test run's Redis (REDIS_URL) unless told otherwise.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createHmac } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const VIGIL_BIN = path.join(ROOT, 'server/bin/vigil.js')

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port
      s.close(() => resolve(p))
    })
  })
}

export function tempDataDir(prefix = 'vigil-it-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix))
}

export function vigilJson(args: string[], env: NodeJS.ProcessEnv): Record<string, unknown> {
  const r = spawnSync(process.execPath, [VIGIL_BIN, ...args, '--json'], { env, encoding: 'utf8', cwd: ROOT })
  if (r.status !== 0) throw new Error(`vigil ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  return JSON.parse(r.stdout) as Record<string, unknown>
}

export interface Running {
  child: ChildProcess
  url: string
  stderr: () => string
}

export async function startUp(env: NodeJS.ProcessEnv, port: number): Promise<Running> {
  const child = spawn(process.execPath, [VIGIL_BIN, 'up'], { env: { ...env, VIGIL_PORT: String(port) }, cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString()
  })
  const url = `http://127.0.0.1:${port}`
  const end = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`vigil up exited ${child.exitCode}: ${err}`)
    try {
      if ((await fetch(`${url}/v1/health`)).ok) break
    } catch {
      // not yet listening
    }
    if (Date.now() > end) throw new Error(`vigil up not healthy in 60 s: ${err}`)
    await new Promise((r) => setTimeout(r, 200))
  }
  return { child, url, stderr: () => err }
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode)
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)))
}

/** Posts NDJSON to `/v1/events` signed as CONTRACT §2 says, like a trading API. */
export function signedPost(url: string, source: string, secret: string, body: string): Promise<Response> {
  const ts = String(Math.floor(Date.now() / 1000))
  const sig = createHmac('sha256', secret).update(`${ts}.`).update(body).digest('hex')
  return fetch(`${url}/v1/events`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/x-ndjson', 'vigil-source': source, 'vigil-timestamp': ts, 'vigil-signature': `v1=${sig}` },
  })
}
