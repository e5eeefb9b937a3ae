/**
 * The composition root: `vigil up` in one process (CONTRACT §6). Builds every part from
 * the frozen config in dependency order, listens, and takes it all down again in reverse.
 *
 * Relied on by: the CLI (`vigil up`) and end-to-end tests. The promise kept on close:
 * every event ingest answered 202 for is in ClickHouse or the spool before the process
 * ends, because ingest is flushed after the listener stops and before storage closes.
 */
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { DestinationStream, Logger } from 'pino'
import type { Registry } from 'prom-client'
import {
  createLogger,
  isVigilError,
  loadMasterKey,
  CORE_MIGRATIONS_DIR,
  migrate,
  openStore,
  startRedis,
  storeUnavailable,
  VigilError,
  type RedisHandle,
  type Store,
  type VigilConfig,
} from '@vigil/core'
import { createIngest, createSourceRegistry, loadGeoDatabase, type Ingest, type SourceRegistry } from '@vigil/ingest'
import { DETECT_MIGRATIONS_DIR, rulesRoutes, startDetection, type Detection } from '@vigil/detect'
import { RESPOND_MIGRATIONS_DIR } from '@vigil/respond'
import { Histogram } from 'prom-client'
import { startAdminSocket } from './admin-socket.js'
import { recordLoadedControls } from './control-record.js'
import { buildApp } from './app.js'
import { overviewRoutes } from './overview-route.js'
import { dashboardRoutes } from './dashboard.js'
import { createCursorCodec, deriveCursorKey } from './cursor.js'
import { demoSignIn, startDemo } from './demo-traffic.js'
import { hardeningFromConfig } from './hardening.js'
import { createMetricsRegistry } from './metrics-route.js'
import { SERVER_MIGRATIONS_DIR } from './migrations.js'
import { queuePrefixOf, responseKeyPrefix, startResponseSide, type ResponseSide } from './response-wiring.js'
import { authRoutes } from './auth-routes.js'
import { keyExplorerRoutes } from './key-explorer.js'
import { createPeople, type People } from './people.js'

export interface StartOptions {
  /** Also create (or rotate) source `demo` and run the demo trading API and its traffic against us (@vigil/demo). @defaultValue `false` */
  demo?: boolean
  /** Where log lines go. @defaultValue stdout */
  logDestination?: DestinationStream
  /** Close on SIGINT/SIGTERM, and exit; a second signal exits at once. @defaultValue `false` */
  handleSignals?: boolean
}

export interface VigilHandle {
  /** Where the API listens, e.g. `http://127.0.0.1:8080`. */
  readonly url: string
  readonly app: FastifyInstance
  readonly logger: Logger
  readonly store: Store
  readonly ingest: Ingest
  readonly sources: SourceRegistry
  readonly metrics: Registry
  /** State stores, playbook engine and routes of the response side. */
  readonly respond: ResponseSide
  /** Detection's hand-over of a stored alert (in process, then the `alerts` queue), as its engine calls it. */
  readonly handOverAlert: Detection['handOver']
  /** Where the admin socket listens (`<dataDir>/vigil.sock`); undefined when not served. */
  readonly adminSocket: string | undefined
  /** Where the demo trading API listens (`demo: true`), e.g. `http://127.0.0.1:41234`; undefined without. */
  readonly demoUrl: string | undefined
  /** The dashboard account `--demo` created on a Vigil without people (password in `file`); null otherwise. */
  readonly demoAccount: { email: string; file: string } | null
  /** Stops listening, flushes ingest, stops Redis, closes the store. Safe to call twice. */
  close(): Promise<void>
}

/** chDB locks its data directory; a second process gets this from the engine. */
const LOCKED = /Cannot lock file|Another server instance|already running/i

/**
 * The pid of another live process running the embedded engine on this data dir, if any.
 * The engine keeps `<dir>/status` (`PID: n`) while it runs and removes it on close; after
 * a crash the file stays but its process is gone, and the engine may then start. Checking
 * first also spares the operator the engine's own multi-line complaint on stderr.
 */
function embeddedEngineHolder(config: VigilConfig): number | undefined {
  let text: string
  try {
    text = readFileSync(path.join(config.dataDir, 'clickhouse', 'status'), 'utf8')
  } catch {
    return undefined
  }
  const pid = Number(/^PID:\s*(\d+)/m.exec(text)?.[1])
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined
  try {
    process.kill(pid, 0)
    return pid
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined
  }
}

/** Opens the store, naming the common failure — another process holding the data dir. */
export async function openVigilStore(config: VigilConfig): Promise<Store> {
  if (!config.clickhouse.url) {
    const holder = embeddedEngineHolder(config)
    if (holder !== undefined) throw new VigilError('VIGIL_ERR_STORE_LOCKED', `held by process ${holder}`)
  }
  let store: Store
  try {
    store = await openStore(config)
  } catch (err) {
    throw translateStoreError(err)
  }
  // The embedded engine may open lazily: make the first contact here, where it is explained.
  try {
    await store.query('SELECT 1')
  } catch (err) {
    await store.close().catch(() => {})
    throw translateStoreError(err)
  }
  return store
}

function translateStoreError(err: unknown): VigilError {
  if (isVigilError(err)) return err
  const text = err instanceof Error ? `${err.message} ${String((err as { cause?: unknown }).cause ?? '')}` : String(err)
  if (LOCKED.test(text)) return new VigilError('VIGIL_ERR_STORE_LOCKED', undefined, { cause: err })
  return storeUnavailable(err)
}

function listenError(err: unknown, config: VigilConfig): VigilError {
  const code = (err as NodeJS.ErrnoException).code
  const why = code === 'EADDRINUSE' ? 'the address is in use' : code === 'EACCES' ? 'permission denied' : code === 'EADDRNOTAVAIL' ? 'no such local address' : 'failed'
  return new VigilError('VIGIL_ERR_SERVER_LISTEN', `${config.host}:${config.port}: ${why}`, { cause: err })
}

/** The URL a process on this machine reaches us by (unspecified addresses mean loopback). */
function localUrl(app: FastifyInstance, scheme: 'http' | 'https'): string {
  const addr = app.server.address() as AddressInfo
  const host = addr.address === '0.0.0.0' ? '127.0.0.1' : addr.address === '::' ? '::1' : addr.address
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${addr.port}`
}

/** Every workspace's migrations, in the order they depend on each other. */
export const VIGIL_MIGRATIONS = [
  { dir: CORE_MIGRATIONS_DIR, scope: 'core' },
  { dir: DETECT_MIGRATIONS_DIR, scope: 'detect' },
  { dir: RESPOND_MIGRATIONS_DIR, scope: 'respond' },
  { dir: SERVER_MIGRATIONS_DIR, scope: 'server' },
]

/** Starts everything. On failure, whatever had started is stopped again before it throws. */
export async function startVigil(config: VigilConfig, opts: StartOptions = {}): Promise<VigilHandle> {
  // The demo's guard has no client certificate to show a Vigil that asks for one.
  if (opts.demo && config.tls.clientCa !== undefined) throw new VigilError('VIGIL_ERR_CONFIG_INVALID', 'VIGIL_TLS_CLIENT_CA: --demo cannot run with client certificates required (the demo guard has none)')
  const logger = createLogger({ level: config.logLevel, name: 'vigil', ...(opts.logDestination ? { destination: opts.logDestination } : {}) })
  // Undone in reverse order, on a failed start and on close.
  const undo: Array<{ what: string; run: () => Promise<void> | void }> = []
  const unwind = async () => {
    while (undo.length) {
      const step = undo.pop()!
      try {
        await step.run()
      } catch (err) {
        logger.error({ err }, `shutdown: ${step.what} failed`)
      }
    }
  }

  try {
    // Before anything starts: no listener beyond loopback without TLS (transport.ts).
    const hardeningFor = hardeningFromConfig(config)
    const store = await openVigilStore(config)
    undo.push({ what: 'store', run: () => store.close() })
    const applied = await migrate(store, VIGIL_MIGRATIONS)
    if (applied.length) logger.info({ applied }, 'migrations applied')

    const redis: RedisHandle = await startRedis(config, { logger })
    undo.push({ what: 'redis', run: () => redis.stop() })
    logger.info({ redis: redis.url, private: redis.isPrivate }, 'redis ready')

    const masterKey = loadMasterKey(config)
    const sources = createSourceRegistry({ store, masterKey, config })
    undo.push({ what: 'sources', run: () => sources.close() })

    // Only the embedded engine locks the CLI out of the data dir; a ClickHouse server takes
    // the CLI as one more client. Served this early so admin commands work during start-up,
    // and closed after the listener, before the store it writes to.
    // Filled in once the response side has started; admin commands may arrive before.
    const live: { respond?: ResponseSide; people?: People; detection?: Detection } = {}
    const adminSocket = config.clickhouse.url
      ? undefined
      : await startAdminSocket({ config, logger, store, sources, redis: redis.redis, response: () => live.respond, people: () => live.people })
    if (adminSocket) undo.push({ what: 'admin socket', run: () => adminSocket.close() })

    const metrics = createMetricsRegistry()
    // Each batch ingest makes durable goes to detection in process, judged at once (detect
    // stream-rows.ts); batches before detection is up are read from the stream as before.
    const ingest = await createIngest({ config, store, redis: redis.redis, logger, sources, metrics, onDurable: (batch) => live.detection?.offerRows(batch) })
    undo.push({ what: 'ingest', run: () => ingest.close() })

    const cursorKey = deriveCursorKey(masterKey)
    const alertLatency = new Histogram({
      name: 'vigil_detect_event_to_alert_seconds',
      help: 'From the event reaching ingest to its alert being stored',
      labelNames: ['rule'],
      buckets: [0.1, 0.25, 0.5, 0.75, 1, 2, 5, 10],
      registers: [metrics],
    })
    const detection = await startDetection({
      store,
      redis: redis.redis,
      logger,
      queuePrefix: await queuePrefixOf(store),
      cursors: createCursorCodec(cursorKey),
      onLatency: (seconds, rule) => alertLatency.observe({ rule }, seconds),
      // Containment starts in process as the alert is handed over (respond's containNow); the
      // queue remains the hand-over of record. Alerts before the response side is up just queue.
      onHandOver: (alert) => void live.respond?.response.containNow(alert),
    })
    undo.push({ what: 'detection', run: () => detection.close() })
    live.detection = detection

    const respond = await startResponseSide({
      config,
      store,
      redis: redis.redis,
      logger,
      secretsFor: async (source) => (await sources.secretsFor(source)) ?? undefined,
      alerts: detection.alerts,
      cursors: createCursorCodec(cursorKey),
    })
    undo.push({ what: 'response', run: () => respond.close() })
    live.respond = respond
    // Each rule and playbook file loaded, as a version of its control when it changed (control-record.ts).
    await recordLoadedControls({ store, config, logger, rules: detection.rules, playbooks: respond.response.playbooks })
    // People and sign-in (people.ts): audited into respond's chain, own events through ingest.
    const people = createPeople({ store, redis: redis.redis, keyPrefix: await responseKeyPrefix(store), masterKey, auth: config.auth, audit: respond.audit, ownEvents: (e) => ingest.recordOwn(e), logger })
    live.people = people

    const hardening = hardeningFor(redis.redis)
    // The dashboard's rules page (switches audited into respond's chain) and key explorer.
    const dashboardApi = [
      rulesRoutes({ store, rules: detection.rules, states: detection.ruleStates, audit: (entry) => respond.audit.append(entry) }),
      keyExplorerRoutes({ store, rules: detection.rules }),
    ]
    const app = await buildApp({ logger, store, redis: redis.redis, ingest, metrics, cursorKey, plugins: [detection.routes, ...dashboardApi, ...respond.plugins, overviewRoutes({ store, sources, killswitches: respond.killswitches, rules: detection.rules }), authRoutes({ people, absoluteTimeoutSec: config.auth.absoluteTimeoutSec }), dashboardRoutes()], hardening, sessions: people })
    undo.push({ what: 'http', run: () => app.close() })
    // Read the geo database before taking traffic, not while the first batch waits.
    loadGeoDatabase()
    try {
      await app.listen({ host: config.host, port: config.port })
    } catch (err) {
      throw listenError(err, config)
    }
    const url = localUrl(app, hardening.tls ? 'https' : 'http')
    logger.info({ url, store: store.kind }, 'vigil is up')

    let demoUrl: string | undefined
    let demoAccount: { email: string; file: string } | null = null
    if (opts.demo) {
      const demo = await startDemo(sources, url, logger, config.dataDir, config.tls.cert !== undefined ? { certFile: config.tls.cert } : undefined)
      undo.push({ what: 'demo', run: () => demo.stop() })
      demoUrl = demo.url
      demoAccount = await demoSignIn(people, config.dataDir)
      if (demoAccount) logger.info({ dashboard: url, email: demoAccount.email, password_file: demoAccount.file }, 'demo: sign in to the dashboard with the password in password_file (first sign-in enrols an authenticator)')
    }

    let closing: Promise<void> | undefined
    const handle: VigilHandle = {
      url,
      app,
      logger,
      store,
      ingest,
      sources,
      metrics,
      respond,
      handOverAlert: detection.handOver,
      adminSocket: adminSocket?.path,
      demoUrl,
      demoAccount,
      close() {
        closing ??= (async () => {
          logger.info('shutting down')
          await unwind()
          logger.info('stopped')
        })()
        return closing
      },
    }
    if (opts.handleSignals) installSignalHandlers(handle)
    return handle
  } catch (err) {
    await unwind()
    throw err
  }
}

/** Longest a graceful shutdown may take before the process gives up and exits. */
const SHUTDOWN_TIMEOUT_MS = 30_000

function installSignalHandlers(handle: VigilHandle): void {
  let signalled = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      handle.logger.warn({ signal }, 'second signal: exiting without finishing shutdown')
      process.exit(1)
    }
    signalled = true
    handle.logger.info({ signal }, 'signal received')
    const timer = setTimeout(() => {
      handle.logger.error('shutdown took too long: exiting')
      process.exit(1)
    }, SHUTDOWN_TIMEOUT_MS)
    timer.unref()
    handle.close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
}
