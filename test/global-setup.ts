/**
 * Starts one real redis-server for the whole test run (unless REDIS_URL is set) and hands
 * its URL to every test file as REDIS_URL. Tests isolate themselves with random key prefixes.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

let child: ChildProcess | undefined
let dir: string | undefined

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

export async function setup(): Promise<void> {
  if (process.env.REDIS_URL) return
  const port = await freePort()
  dir = mkdtempSync(path.join(tmpdir(), 'vigil-test-redis-'))
  child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  })
  child.on('error', (err) => {
    throw new Error(`redis-server could not start (apt-get install redis-server): ${err.message}`)
  })
  const deadline = Date.now() + 10_000
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      import('node:net').then(({ connect }) => {
        const c = connect(port, '127.0.0.1', () => {
          c.end()
          resolve(true)
        })
        c.on('error', () => resolve(false))
      })
    })
    if (ok) break
    if (Date.now() > deadline) throw new Error('redis-server did not start within 10 s')
    await new Promise((r) => setTimeout(r, 50))
  }
  process.env.REDIS_URL = `redis://127.0.0.1:${port}`
}

export async function teardown(): Promise<void> {
  child?.kill('SIGTERM')
  if (dir) rmSync(dir, { recursive: true, force: true })
}
