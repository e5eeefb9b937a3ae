/**
 * Redis for Vigil: the server named by `REDIS_URL`, or else a private `redis-server` this
 * process starts under `<dataDir>/redis` and owns until `stop()` (CONTRACT §6, §7).
 *
 * Relied on by everything that keeps hot state in Redis (replay cache, idempotency keys,
 * rate limits, control-channel fan-out). They get a ready ioredis client and never learn
 * which of the two kinds it talks to, nor its password.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, linkSync, mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import path from 'node:path'
import { Redis, type RedisOptions } from 'ioredis'
import type { VigilConfig } from './config.js'
import { VigilError } from './errors.js'

export interface RedisLogger {
  info(o: object, msg?: string): void
  warn(o: object, msg?: string): void
}

export interface StartRedisOptions {
  logger?: RedisLogger
  /** The redis-server to run for a private instance, a name looked up on PATH or a path. @defaultValue `'redis-server'` */
  binary?: string
  /** How long to wait for Redis to answer before giving up. @defaultValue `10000` */
  readyTimeoutMs?: number
}

export interface RedisHandle {
  /** Connected and ready. For a second connection (e.g. a subscriber) use `redis.duplicate()`. */
  readonly redis: Redis
  /** Where Redis is, for logs and `/v1/health`: never carries a password. */
  readonly url: string
  /** True when this process started the redis-server and `stop()` shuts it down. */
  readonly isPrivate: boolean
  /** Quits the client and, for a private instance, shuts the server down and waits for it. Safe to call twice. */
  stop(): Promise<void>
}

const READY_TIMEOUT_MS = 10_000
const STOP_TIMEOUT_MS = 10_000
const KILL_TIMEOUT_MS = 2_000
const TAIL_BYTES = 2_000

const CLIENT_OPTIONS = {
  lazyConnect: false,
  // Commands fail within a few hundred ms while Redis is down instead of queueing forever,
  // so callers can answer 503 (CONTRACT §2) rather than hang the request.
  maxRetriesPerRequest: 3,
  // Commands issued during the first connect or a brief reconnect wait for it.
  enableOfflineQueue: true,
} satisfies RedisOptions

const silent: RedisLogger = { info() {}, warn() {} }

/** Connects to `REDIS_URL`, or starts the private instance when it is unset. */
export async function startRedis(config: VigilConfig, opts: StartRedisOptions = {}): Promise<RedisHandle> {
  const logger = opts.logger ?? silent
  const readyTimeoutMs = opts.readyTimeoutMs ?? READY_TIMEOUT_MS
  if (config.redisUrl !== undefined) return connectExternal(config.redisUrl, logger, readyTimeoutMs)
  return startPrivate(config.dataDir, logger, opts.binary ?? 'redis-server', readyTimeoutMs)
}

async function connectExternal(url: string, logger: RedisLogger, readyTimeoutMs: number): Promise<RedisHandle> {
  const u = new URL(url)
  const where = `${u.hostname}:${u.port || '6379'}`
  const secrets = [u.password, safeDecode(u.password)].filter(Boolean)
  u.password = ''
  const safeUrl = u.toString()
  const redis = new Redis(url, CLIENT_OPTIONS)
  try {
    await waitReady(redis, readyTimeoutMs, secrets)
  } catch (err) {
    redis.disconnect()
    throw new VigilError('VIGIL_ERR_REDIS_UNAVAILABLE', `${where} (${(err as Error).message})`)
  }
  reportConnectionChanges(redis, logger, where, secrets)
  logger.info({ redis: safeUrl }, 'connected to Redis')
  return { redis, url: safeUrl, isPrivate: false, stop: once(() => quitClient(redis)) }
}

async function startPrivate(dataDir: string, logger: RedisLogger, binary: string, readyTimeoutMs: number): Promise<RedisHandle> {
  const dir = path.join(dataDir, 'redis')
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  // The AOF and the password live here; a dir someone made looser is tightened, not trusted.
  chmodSync(dir, 0o700)
  const password = readOrCreatePassword(path.join(dir, 'password'))
  await stopLeftoverInstance(dir, logger)
  // The free port is probed then released, so another process can take it first; a new
  // port is then the whole fix.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    try {
      return await launch({ dir, port, password, binary, logger, readyTimeoutMs })
    } catch (err) {
      if (!(err instanceof PortTaken) || attempt === 3) throw err instanceof PortTaken ? err.vigilError : err
      logger.warn({ port }, 'port taken before redis-server could bind it; trying another')
    }
  }
}

class PortTaken extends Error {
  constructor(readonly vigilError: VigilError) {
    super(vigilError.message)
  }
}

interface LaunchOptions {
  dir: string
  port: number
  password: string
  binary: string
  logger: RedisLogger
  readyTimeoutMs: number
}

async function launch({ dir, port, password, binary, logger, readyTimeoutMs }: LaunchOptions): Promise<RedisHandle> {
  const confFile = path.join(dir, 'redis.conf')
  // A config file rather than arguments: any local user can read a process's argv.
  writeFileSync(confFile, redisConf(dir, port, password), { mode: 0o600 })
  chmodSync(confFile, 0o600)

  // Its own process group, so a Ctrl-C aimed at Vigil does not take Redis down before
  // Vigil's own shutdown has flushed its last writes; stop() ends it instead.
  const child = spawn(binary, [confFile], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  const tail = new OutputTail(TAIL_BYTES, [password])
  // Always drained: a full pipe would block redis-server on its next log line.
  child.stdout?.on('data', (b: Buffer) => tail.push(b))
  child.stderr?.on('data', (b: Buffer) => tail.push(b))

  let running = true
  const childFailed = new Promise<never>((_, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      running = false
      reject(
        err.code === 'ENOENT'
          ? new VigilError('VIGIL_ERR_REDIS_BINARY_MISSING', `"${binary}" could not be run`)
          : new VigilError('VIGIL_ERR_REDIS_UNAVAILABLE', `could not run "${binary}": ${err.code ?? err.message}`),
      )
    })
    child.once('exit', () => {
      running = false
    })
    // 'close', not 'exit': only then has all of the child's output been read into the tail.
    child.once('close', (code, signal) => {
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`
      const err = new VigilError('VIGIL_ERR_REDIS_UNAVAILABLE', `private redis-server ${how}: ${tail.text() || '(no output)'}`)
      reject(/Address already in use/i.test(tail.text()) ? new PortTaken(err) : err)
    })
  })
  childFailed.catch(() => {})

  const redis = new Redis({ ...CLIENT_OPTIONS, host: '127.0.0.1', port, password })
  try {
    await Promise.race([
      waitReady(redis, readyTimeoutMs, [password]).catch((err: Error) => {
        throw new VigilError('VIGIL_ERR_REDIS_UNAVAILABLE', `private redis-server on 127.0.0.1:${port} (${err.message}): ${tail.text() || '(no output)'}`)
      }),
      childFailed,
    ])
    await redis.ping()
  } catch (err) {
    redis.disconnect()
    if (running) await endChild(child)
    throw err
  }

  writeFileSync(path.join(dir, 'port'), `${port}\n`, { mode: 0o600 })
  // Last resort for exits that skip stop() (process.exit, an uncaught exception): a
  // synchronous signal is all an 'exit' handler can do. A SIGKILLed Vigil is covered by
  // stopLeftoverInstance on the next start.
  const onExit = () => {
    if (running) child.kill('SIGTERM')
  }
  process.on('exit', onExit)
  let stopping = false
  child.once('exit', (code, signal) => {
    if (!stopping) logger.warn({ code, signal, output: tail.text() }, 'private redis-server exited unexpectedly')
  })
  reportConnectionChanges(redis, logger, `127.0.0.1:${port}`, [password])
  logger.info({ port, dir, pid: child.pid }, 'private redis-server started')

  const url = `redis://127.0.0.1:${port}`
  return {
    redis,
    url,
    isPrivate: true,
    stop: once(async () => {
      stopping = true
      await quitClient(redis)
      if (running) await endChild(child)
      process.off('exit', onExit)
      rmSync(path.join(dir, 'port'), { force: true })
    }),
  }
}

/** SIGTERM makes redis-server fsync its AOF and exit, like SHUTDOWN, without needing a connection. */
async function endChild(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once('exit', () => resolve())
  })
  child.kill('SIGTERM')
  if (await within(exited, STOP_TIMEOUT_MS)) return
  child.kill('SIGKILL')
  await within(exited, KILL_TIMEOUT_MS)
}

function redisConf(dir: string, port: number, password: string): string {
  return [
    'bind 127.0.0.1',
    `port ${port}`,
    'protected-mode yes',
    'daemonize no',
    `dir ${quote(dir)}`,
    `pidfile ${quote(path.join(dir, 'redis.pid'))}`,
    'appendonly yes',
    'appendfsync everysec',
    // The AOF is the persistence; RDB snapshots on top would only double the disk writes.
    'save ""',
    'logfile ""',
    `requirepass ${quote(password)}`,
    '',
  ].join('\n')
}

/** redis.conf string syntax (sdssplitargs): double quotes with backslash escapes. */
function quote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
}

/**
 * The password only has to match between redis.conf and the client, both written from it
 * at every start, so an unreadable file is simply replaced. It is kept so that an operator
 * can `redis-cli -p $(cat port) -a $(cat password)`.
 */
function readOrCreatePassword(file: string): string {
  try {
    const text = readFileSync(file, 'utf8').trim()
    if (/^[0-9a-f]{64}$/.test(text)) {
      chmodSync(file, 0o600)
      return text
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const password = randomBytes(32).toString('hex')
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, `${password}\n`, { mode: 0o600, flag: 'w' })
  rmSync(file, { force: true })
  try {
    linkSync(tmp, file)
  } finally {
    unlinkSync(tmp)
  }
  return password
}

/**
 * A redis-server left running by a Vigil that died without stop() still holds the AOF
 * open; a second server on the same dir would corrupt it. We shut the leftover down rather
 * than reuse it: it is no longer our child, so we could not see it exit, read its output or
 * stop it reliably, and it runs the configuration of whichever Vigil version started it.
 * SIGTERM makes it fsync the AOF first, so nothing acknowledged is lost.
 */
async function stopLeftoverInstance(dir: string, logger: RedisLogger): Promise<void> {
  const pidFile = path.join(dir, 'redis.pid')
  let pid: number
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim())
  } catch {
    return
  }
  if (!Number.isSafeInteger(pid) || pid <= 1 || !isRunning(pid) || !isRedisServer(pid)) {
    // Dead, or the pid was reused by an unrelated process after a reboot: not ours to touch.
    rmSync(pidFile, { force: true })
    return
  }
  logger.warn({ pid, dir }, 'stopping the redis-server a previous Vigil left running')
  process.kill(pid, 'SIGTERM')
  if (await waitGone(pid, STOP_TIMEOUT_MS)) return
  process.kill(pid, 'SIGKILL')
  if (await waitGone(pid, KILL_TIMEOUT_MS)) return
  throw new VigilError('VIGIL_ERR_REDIS_UNAVAILABLE', `the redis-server a previous Vigil left running (pid ${pid}) would not stop`)
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    // ESRCH: gone. EPERM: another user's process, so not a redis-server we started.
    return false
  }
  try {
    // An orphan's new parent (init) reaps it when it likes, and some container inits never
    // do; a zombie has already released the AOF.
    return !/^\d+ \(.*\) Z /s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return true
  }
}

function isRedisServer(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('redis-server')
  } catch {
    // No /proc (macOS, BSD): ask ps.
    try {
      return execFileSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' }).includes('redis-server')
    } catch {
      return false
    }
  }
}

async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (!isRunning(pid)) return true
    await sleep(50)
  }
  return !isRunning(pid)
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

/**
 * Resolves once the client is ready (authenticated, and the server done loading its AOF).
 * Connection errors are retried until the timeout, since a Redis started alongside Vigil
 * may still be coming up; a reply error (wrong password) will not get better and fails at once.
 * Rejects with an Error whose message is safe to show.
 */
function waitReady(redis: Redis, timeoutMs: number, secrets: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    let lastError: Error | undefined
    const finish = (err?: Error) => {
      clearTimeout(timer)
      redis.off('ready', onReady)
      redis.off('error', onError)
      if (err) reject(err)
      else resolve()
    }
    const onReady = () => finish()
    const onError = (err: Error) => {
      lastError = err
      if (err.name === 'ReplyError') finish(new Error(describe(err, secrets)))
    }
    const timer = setTimeout(() => {
      const why = lastError ? `: ${describe(lastError, secrets)}` : ''
      finish(new Error(`no answer within ${Math.round(timeoutMs / 100) / 10} s${why}`))
    }, timeoutMs)
    redis.on('ready', onReady)
    redis.on('error', onError)
    if (redis.status === 'ready') finish()
  })
}

/**
 * Keeps one 'error' listener for the client's life (without one ioredis prints every
 * reconnect failure to the console) and logs outages once each, not once per retry.
 */
function reportConnectionChanges(redis: Redis, logger: RedisLogger, where: string, secrets: readonly string[]): void {
  let healthy = true
  redis.on('error', (err: Error) => {
    if (!healthy) return
    healthy = false
    logger.warn({ redis: where, err: describe(err, secrets) }, 'lost the connection to Redis; retrying')
  })
  redis.on('ready', () => {
    if (healthy) return
    healthy = true
    logger.info({ redis: where }, 'reconnected to Redis')
  })
}

function describe(err: Error, secrets: readonly string[]): string {
  const code = (err as NodeJS.ErrnoException).code
  const text = code && !err.message.includes(code) ? `${code} ${err.message}` : err.message
  return scrub(text.split('\n')[0]!.slice(0, 200), secrets)
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

function scrub(text: string, secrets: readonly string[]): string {
  let out = text
  for (const s of secrets) if (s) out = out.split(s).join('***')
  return out
}

async function quitClient(redis: Redis): Promise<void> {
  if (redis.status === 'end') return
  if (redis.status === 'ready') {
    const ended = new Promise<void>((resolve) => redis.once('end', () => resolve()))
    // QUIT lets replies to commands already sent arrive; a hung server must not stall shutdown.
    redis.quit().catch(() => {})
    if (await within(ended, KILL_TIMEOUT_MS)) return
  }
  // While reconnecting there is no socket and ioredis never emits 'end': cancelling the
  // pending reconnect, which disconnect() does, is all there is to stop.
  redis.disconnect()
}

/** Last bytes a child wrote, for error messages; secrets are masked because redis-server echoes bad config lines. */
class OutputTail {
  private buf = Buffer.alloc(0)
  constructor(
    private readonly max: number,
    private readonly secrets: readonly string[],
  ) {}
  push(b: Buffer): void {
    this.buf = Buffer.concat([this.buf, b])
    if (this.buf.length > this.max) this.buf = this.buf.subarray(this.buf.length - this.max)
  }
  text(): string {
    return scrub(this.buf.toString('utf8').trim(), this.secrets)
  }
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | undefined
  return () => (p ??= fn())
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

/** True if `p` settled within `ms`. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<false>((r) => {
    timer = setTimeout(() => r(false), ms)
  })
  try {
    return await Promise.race([p.then(() => true as const), timedOut])
  } finally {
    clearTimeout(timer)
  }
}
