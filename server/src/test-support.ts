/**
 * Shared set-up for server tests (not built into dist): a throwaway data dir with a
 * migrated embedded store, and an app harness on top of it. chDB is one engine per process
 * and vitest gives each test file its own process, so each file opens one store.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { createLogger, loadConfig, migrate, openStore, type Store, type VigilConfig } from '@vigil/core'
import { createIngest, createSourceRegistry, type Ingest, type SourceRegistry } from '@vigil/ingest'
import { AlertStore, alertsRoutes, loadRules, RuleStates, rulesRoutes } from '@vigil/detect'
import { buildApp } from './app.js'
import { overviewRoutes } from './overview-route.js'
import { createCursorCodec } from './cursor.js'
import { VIGIL_MIGRATIONS } from './runtime.js'
import { createMetricsRegistry } from './metrics-route.js'
import { ROLES, type Role } from './permissions.js'
import { startResponseSide, type ResponseSide } from './response-wiring.js'
import { createToken } from './tokens.js'
import { authRoutes } from './auth-routes.js'
import { createPeople, type People } from './people.js'
import { keyExplorerRoutes } from './key-explorer.js'

export interface TestStore {
  dir: string
  config: VigilConfig
  store: Store
  cleanup(): Promise<void>
}

export async function openTestStore(env: Record<string, string> = {}): Promise<TestStore> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-server-'))
  const config = loadConfig(
    { VIGIL_DATA_DIR: dir, VIGIL_LOG_LEVEL: 'silent', VIGIL_MASTER_KEY: randomBytes(32).toString('hex'), ...env },
    { cwd: dir },
  )
  const store = await openStore(config)
  await migrate(store, VIGIL_MIGRATIONS)
  return {
    dir,
    config,
    store,
    async cleanup() {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** A masking logger whose lines land in `lines`, to check what is (not) logged. */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = []
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'))
      done()
    },
  })
  return { logger: createLogger({ level: 'debug', destination }), lines }
}

export interface TestApp {
  t: TestStore
  app: FastifyInstance
  redis: Redis
  sources: SourceRegistry
  ingest: Ingest
  registry: Registry
  respond: ResponseSide
  /** BullMQ and Redis key prefix of this app's response side: publish on its `alerts` queue with it. */
  prefix: string
  logLines: string[]
  /** A live token per role. */
  tokens: Record<Role, string>
  /** People and sessions behind `/v1/auth/*` and `/v1/users*`. */
  people: People
  /** Builds another app on the same store, Redis and ingest (e.g. with test-only routes). */
  extraApp(opts: { plugins?: FastifyPluginAsync[]; redis?: { ping(): Promise<unknown> }; ingest?: Pick<Ingest, 'routes' | 'status'> }): Promise<FastifyInstance>
  close(): Promise<void>
}

export interface TestAppOptions {
  /** Playbooks the engine loads. @defaultValue `rules/playbooks` of this checkout */
  playbooksDir?: string
  /** The clock of sign-in, sessions and throttling (people.ts). @defaultValue `Date.now` */
  now?: () => number
}

export async function startTestApp(t: TestStore, options: TestAppOptions = {}): Promise<TestApp> {
  const redisUrl = process.env.REDIS_URL
  if (!redisUrl) throw new Error('REDIS_URL is not set: run tests through vitest (test/global-setup.ts starts redis-server)')
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 })
  const { logger, lines } = captureLogger()
  const masterKey = Buffer.from(t.config.masterKey as string, 'hex')
  const sources = createSourceRegistry({ store: t.store, masterKey, config: t.config })
  const registry = createMetricsRegistry()
  const ingest = await createIngest({ config: t.config, store: t.store, redis, logger, sources, metrics: registry })
  const cursorKey = randomBytes(32)
  // Every workspace's routes, so the route × role matrix covers them all.
  const alertStore = new AlertStore(t.store)
  const detectRoutes = alertsRoutes({ alerts: alertStore, cursors: createCursorCodec(cursorKey) })
  const prefix = `t${randomBytes(6).toString('hex')}`
  const respond = await startResponseSide({
    // Slack's route then checks signatures (401) instead of answering slack_not_configured.
    config: { ...t.config, slack: { ...t.config.slack, signingSecret: t.config.slack.signingSecret ?? randomBytes(16).toString('hex') } },
    store: t.store,
    redis,
    logger,
    secretsFor: async (source) => (await sources.secretsFor(source)) ?? undefined,
    alerts: alertStore,
    cursors: createCursorCodec(cursorKey),
    prefix,
    digestPattern: null,
    ...(options.playbooksDir ? { playbooksDir: options.playbooksDir } : {}),
  })
  const people = createPeople({
    store: t.store,
    redis,
    keyPrefix: `${prefix}:`,
    masterKey,
    auth: t.config.auth,
    audit: respond.audit,
    ownEvents: (events) => ingest.recordOwn(events),
    logger,
    ...(options.now ? { now: options.now } : {}),
  })
  const peopleRoutes = authRoutes({ people, absoluteTimeoutSec: t.config.auth.absoluteTimeoutSec })
  const rules = loadRules()
  const dashboardApi = [
    rulesRoutes({ store: t.store, rules, states: new RuleStates(t.store), audit: (entry) => respond.audit.append(entry) }),
    keyExplorerRoutes({ store: t.store, rules }),
  ]
  const app = await buildApp({ logger, store: t.store, redis, ingest, metrics: registry, cursorKey, plugins: [detectRoutes, ...dashboardApi, ...respond.plugins, overviewRoutes({ store: t.store, sources, killswitches: respond.killswitches }), peopleRoutes], sessions: people })
  const tokens = {} as Record<Role, string>
  for (const role of ROLES) tokens[role] = (await createToken(t.store, { role, name: `test ${role}`, ttl: '1h' })).token
  const extras: FastifyInstance[] = []
  return {
    t,
    app,
    redis,
    sources,
    ingest,
    registry,
    respond,
    prefix,
    logLines: lines,
    tokens,
    people,
    async extraApp(opts) {
      const extra = await buildApp({
        logger,
        store: t.store,
        redis: opts.redis ?? redis,
        ingest: opts.ingest ?? { routes: async () => {}, status: () => ingest.status() },
        metrics: registry,
        cursorKey,
        plugins: opts.plugins ?? [],
      })
      extras.push(extra)
      return extra
    },
    async close() {
      for (const extra of extras) await extra.close()
      await app.close()
      await respond.close()
      await ingest.close()
      sources.close()
      redis.disconnect()
    },
  }
}

/** Writes rows straight into `events`, as ingest would have stored them. */
export async function insertEvents(store: Store, rows: Record<string, unknown>[]): Promise<void> {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))]
  await store.insertNdjson('events', columns, rows.map((r) => JSON.stringify(r) + '\n').join(''))
}
