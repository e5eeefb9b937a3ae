/**
 * Once for the whole test run:
 * - brings every workspace's dist up to date (`turbo run build`, cached, so a second run
 *   with nothing changed takes a few seconds), because the tests that run the real `vigil`
 *   program and `vigil up` run the built code; skipped when scripts/test.sh has just built
 *   (VIGIL_TESTS_BUILT=1);
 * - starts one real redis-server (unless REDIS_URL is set) and hands its URL to every test
 *   file as REDIS_URL. Tests isolate themselves with random key prefixes.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

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

function buildWorkspaces(): void {
  if (process.env.VIGIL_TESTS_BUILT === '1') return
  try {
    execFileSync(process.execPath, [path.join(REPO, 'node_modules', 'turbo', 'bin', 'turbo'), 'run', 'build', '--output-logs=errors-only'], { cwd: REPO, stdio: 'pipe' })
  } catch (err) {
    const out = err as { stdout?: Buffer; stderr?: Buffer }
    throw new Error(`the build before the tests failed:\n${out.stdout?.toString() ?? ''}${out.stderr?.toString() ?? ''}`)
  }
}

export async function setup(): Promise<void> {
  buildWorkspaces()
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
