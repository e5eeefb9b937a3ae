import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { spawn } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { loadConfig, type VigilConfig } from './config.js'
import { isVigilError } from './errors.js'
import { startRedis, type RedisHandle } from './redis.js'

let root: string
/** Every redis-server pid a test saw, killed in afterAll if a failed test left one running. */
const seenPids = new Set<number>()

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'vigil-redis-'))
})
afterAll(() => {
  for (const pid of seenPids) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone, as it should be
    }
  }
  rmSync(root, { recursive: true, force: true })
})

function privateConfig(name: string): VigilConfig {
  return loadConfig({ VIGIL_DATA_DIR: path.join(root, name) }, { cwd: root })
}

async function serverPid(h: RedisHandle): Promise<number> {
  const info = await h.redis.info('server')
  const pid = Number(/process_id:(\d+)/.exec(info)?.[1])
  seenPids.add(pid)
  return pid
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    return !/^\d+ \(.*\) Z /s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p
  } catch (err) {
    return err as Error
  }
  throw new Error('expected a rejection')
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

describe('private redis-server', () => {
  it('starts in a 0700 dir with a 0600 password, requires it, and stops its child', async () => {
    const config = privateConfig('basic')
    const h = await startRedis(config)
    const dir = path.join(config.dataDir, 'redis')
    try {
      expect(h.isPrivate).toBe(true)
      expect(h.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/)
      expect(await h.redis.ping()).toBe('PONG')
      const pid = await serverPid(h)
      const password = readFileSync(path.join(dir, 'password'), 'utf8').trim()
      expect(password).toMatch(/^[0-9a-f]{64}$/)
      expect(statSync(dir).mode & 0o777).toBe(0o700)
      expect(statSync(path.join(dir, 'password')).mode & 0o777).toBe(0o600)
      expect(Number(readFileSync(path.join(dir, 'port'), 'utf8'))).toBe(Number(new URL(h.url).port))
      expect(Number(readFileSync(path.join(dir, 'redis.pid'), 'utf8'))).toBe(pid)
      // The password is not on the command line, where every local user could read it.
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).not.toContain(password)
      expect(await h.redis.config('GET', 'appendonly')).toEqual(['appendonly', 'yes'])
      expect(await h.redis.config('GET', 'bind')).toEqual(['bind', '127.0.0.1'])

      const anonymous = new Redis(h.url, { maxRetriesPerRequest: 0, lazyConnect: true })
      anonymous.on('error', () => {})
      await expect(anonymous.get('x')).rejects.toThrow(/NOAUTH/)
      anonymous.disconnect()

      await h.stop()
      expect(alive(pid)).toBe(false)
      expect(h.redis.status).toBe('end')
      await h.stop()
    } finally {
      await h.stop()
    }
  })

  it('keeps data across stop and start (AOF) and reuses the password', async () => {
    const config = privateConfig('persist')
    const first = await startRedis(config)
    await first.redis.set('vigil:test:persist', 'kept')
    await first.stop()
    const password = readFileSync(path.join(config.dataDir, 'redis', 'password'), 'utf8')
    expect(existsSync(path.join(config.dataDir, 'redis', 'appendonlydir'))).toBe(true)

    const second = await startRedis(config)
    try {
      expect(await second.redis.get('vigil:test:persist')).toBe('kept')
      expect(readFileSync(path.join(config.dataDir, 'redis', 'password'), 'utf8')).toBe(password)
    } finally {
      await second.stop()
    }
  })

  it('shuts down the redis-server a crashed Vigil left running, keeping its data', async () => {
    const config = privateConfig('crashed')
    // A real crash: another Node process starts Redis through startRedis, writes a key and
    // is SIGKILLed, so nothing of its own gets to clean up and its redis-server is orphaned.
    const script = path.join(root, 'crashing-vigil.mts')
    const here = path.dirname(fileURLToPath(import.meta.url))
    writeFileSync(
      script,
      `import { loadConfig } from ${JSON.stringify(path.join(here, 'config.ts'))}
import { startRedis } from ${JSON.stringify(path.join(here, 'redis.ts'))}
const h = await startRedis(loadConfig({ VIGIL_DATA_DIR: ${JSON.stringify(config.dataDir)} }))
await h.redis.set('vigil:test:crash', 'survived')
const info = await h.redis.info('server')
console.log(JSON.stringify({ pid: Number(/process_id:(\\d+)/.exec(info)[1]) }))
setInterval(() => {}, 1000)
`,
    )
    const crashing = spawn(process.execPath, ['--import', 'tsx', script], { cwd: path.resolve(here, '../..'), stdio: ['ignore', 'pipe', 'pipe'] })
    let err = ''
    crashing.stderr.on('data', (b: Buffer) => (err += b.toString()))
    const line = await new Promise<string>((resolve, reject) => {
      let out = ''
      crashing.stdout.on('data', (b: Buffer) => {
        out += b.toString()
        if (out.includes('\n')) resolve(out.split('\n')[0]!)
      })
      crashing.once('exit', (code) => reject(new Error(`crashing Vigil exited early (${code}): ${err}`)))
    })
    const orphan = (JSON.parse(line) as { pid: number }).pid
    seenPids.add(orphan)
    crashing.kill('SIGKILL')
    await new Promise((r) => crashing.once('exit', r))
    expect(alive(orphan)).toBe(true)

    const h = await startRedis(config)
    try {
      expect(alive(orphan)).toBe(false)
      expect(await serverPid(h)).not.toBe(orphan)
      // The orphan shut down cleanly and the new server replayed its AOF.
      expect(await h.redis.get('vigil:test:crash')).toBe('survived')
    } finally {
      await h.stop()
    }
  })

  it('ignores a pidfile whose process is gone or is not redis-server', async () => {
    const config = privateConfig('stale-pidfile')
    const first = await startRedis(config)
    await first.stop()
    const pidFile = path.join(config.dataDir, 'redis', 'redis.pid')
    // Our own pid: alive but not redis-server, as after a reboot that recycled the pid.
    writeFileSync(pidFile, `${process.pid}\n`)
    const second = await startRedis(config)
    await second.stop()
    writeFileSync(pidFile, '999999999\n')
    const third = await startRedis(config)
    await third.stop()
  })

  it('fails with the Debian package name when redis-server is missing', async () => {
    for (const binary of ['vigil-no-such-redis-server', path.join(root, 'nowhere', 'redis-server')]) {
      const err = await rejection(startRedis(privateConfig('missing'), { binary }))
      expect(isVigilError(err) && err.errName).toBe('VIGIL_ERR_REDIS_BINARY_MISSING')
      expect(err.message).toContain('apt-get install redis-server')
    }
  })

  it('reports the output of a redis-server that dies at start, with the password masked', async () => {
    const config = privateConfig('dies')
    const fake = path.join(root, 'dying-redis-server')
    // Echoes its config file as redis-server does with a line it cannot parse.
    writeFileSync(fake, '#!/bin/sh\necho "*** FATAL CONFIG FILE ERROR ***" >&2\ngrep requirepass "$1" >&2\nexit 1\n')
    chmodSync(fake, 0o755)
    const err = await rejection(startRedis(config, { binary: fake }))
    expect(isVigilError(err) && err.errName).toBe('VIGIL_ERR_REDIS_UNAVAILABLE')
    expect(err.message).toContain('FATAL CONFIG FILE ERROR')
    expect(err.message).toContain('requirepass "***"')
    expect(err.message).not.toContain(readFileSync(path.join(config.dataDir, 'redis', 'password'), 'utf8').trim())
  })

  it('gives up on a redis-server that never answers, kills it, and shows its output', async () => {
    const fake = path.join(root, 'silent-redis-server')
    const pidFile = path.join(root, 'silent.pid')
    writeFileSync(fake, `#!/bin/sh\necho $$ > ${JSON.stringify(pidFile)}\necho "still thinking" >&2\nexec sleep 60\n`)
    chmodSync(fake, 0o755)
    const started = Date.now()
    const err = await rejection(startRedis(privateConfig('hangs'), { binary: fake, readyTimeoutMs: 1_000 }))
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(isVigilError(err) && err.errName).toBe('VIGIL_ERR_REDIS_UNAVAILABLE')
    expect(err.message).toMatch(/no answer within 1 s.*still thinking/s)
    const pid = Number(readFileSync(pidFile, 'utf8'))
    seenPids.add(pid)
    expect(alive(pid)).toBe(false)
  })

  it('logs a redis-server that dies under it, and still stops promptly', async () => {
    const warnings: string[] = []
    const logger = { info() {}, warn: (_o: object, msg?: string) => void warnings.push(msg ?? '') }
    const h = await startRedis(privateConfig('killed'), { logger })
    const pid = await serverPid(h)
    process.kill(pid, 'SIGKILL')
    await expect(h.redis.ping()).rejects.toThrow()
    expect(warnings).toContain('private redis-server exited unexpectedly')
    const started = Date.now()
    await h.stop()
    expect(Date.now() - started).toBeLessThan(1_000)
  })
})

describe('REDIS_URL', () => {
  it('connects to the configured server without starting one', async () => {
    const url = process.env.REDIS_URL
    expect(url).toBeTruthy()
    const config = loadConfig({ REDIS_URL: url, VIGIL_DATA_DIR: path.join(root, 'external') }, { cwd: root })
    const h = await startRedis(config)
    try {
      expect(h.isPrivate).toBe(false)
      const key = `vigil:test:${Math.random().toString(36).slice(2)}`
      await h.redis.set(key, 'v', 'EX', 60)
      expect(await h.redis.get(key)).toBe('v')
      expect(existsSync(path.join(config.dataDir, 'redis'))).toBe(false)
    } finally {
      await h.stop()
    }
    expect(h.redis.status).toBe('end')
  })

  it('fails within the timeout when nothing listens, without showing the password', async () => {
    const port = await freePort()
    const config = loadConfig({ REDIS_URL: `redis://vigil:s3cret-pw@127.0.0.1:${port}/0`, VIGIL_DATA_DIR: path.join(root, 'bad-url') }, { cwd: root })
    const started = Date.now()
    const err = await rejection(startRedis(config))
    const took = Date.now() - started
    expect(took).toBeGreaterThanOrEqual(9_500)
    expect(took).toBeLessThan(12_000)
    expect(isVigilError(err) && err.errName).toBe('VIGIL_ERR_REDIS_UNAVAILABLE')
    expect(err.message).toContain(`127.0.0.1:${port}`)
    expect(err.message).toContain('ECONNREFUSED')
    expect(err.message).not.toContain('s3cret-pw')
  })

  it('fails at once on a wrong password, without showing it', async () => {
    // The shared test server has no password, so use a private one as the "remote" server.
    const server = await startRedis(privateConfig('password-protected'))
    try {
      const u = new URL(server.url)
      u.password = 'wrong-pw'
      const config = loadConfig({ REDIS_URL: u.toString(), VIGIL_DATA_DIR: path.join(root, 'bad-pw') }, { cwd: root })
      const started = Date.now()
      const err = await rejection(startRedis(config))
      expect(Date.now() - started).toBeLessThan(5_000)
      expect(isVigilError(err) && err.errName).toBe('VIGIL_ERR_REDIS_UNAVAILABLE')
      expect(err.message).toMatch(/WRONGPASS/)
      expect(err.message).not.toContain('wrong-pw')
    } finally {
      await server.stop()
    }
  })
})
