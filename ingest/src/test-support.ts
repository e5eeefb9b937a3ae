/**
 * What ingest's tests share: a real embedded ClickHouse in a temp dir, the real Redis of
 * the test run (REDIS_URL from test/global-setup.ts), a source, and a signed-request helper.
 * Not exported from the package.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import { randomBytes } from 'node:crypto'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import { Redis } from 'ioredis'
import { pino, type Logger } from 'pino'
import { loadConfig, migrate, openStore, signPayload, type Store, type VigilConfig } from '@vigil/core'
import { createSourceRegistry, type SourceRegistry } from './sources.js'
import { createIngest, type Ingest, type IngestDeps } from './ingest.js'
import { loadGeoDatabase } from './geo.js'

export interface Harness {
  dir: string
  config: VigilConfig
  store: Store
  redis: Redis
  sources: SourceRegistry
  ingest: Ingest
  app: FastifyInstance
  logger: Logger
  source: string
  secret: string
  close(): Promise<void>
}

export async function startHarness(env: Record<string, string> = {}, opts: Pick<IngestDeps, 'onDurable'> = {}): Promise<Harness> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-ingest-'))
  const redisUrl = process.env.REDIS_URL
  if (!redisUrl) throw new Error('REDIS_URL is not set: run tests through vitest (test/global-setup.ts starts redis-server)')
  const config = loadConfig({ VIGIL_DATA_DIR: dir, REDIS_URL: redisUrl, VIGIL_MASTER_KEY: randomBytes(32).toString('hex'), ...env }, { cwd: dir })
  const store = await openStore(config)
  await migrate(store)
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 })
  const logger = pino({ level: 'silent' })
  const masterKey = Buffer.from(config.masterKey as string, 'hex')
  const sources = createSourceRegistry({ store, masterKey, config })
  // As `vigil up` does before listening: the first request must not wait for the geo
  // database, or a test timing one-second rate windows would see the window refill.
  loadGeoDatabase()
  const source = `src-${randomBytes(4).toString('hex')}`
  const { secret } = await sources.add(source)
  const ingest = await createIngest({ config, store, redis, logger, sources, ...opts })
  const app = Fastify({ logger: false })
  await app.register(ingest.routes)
  await app.ready()
  return {
    dir,
    config,
    store,
    redis,
    sources,
    ingest,
    app,
    logger,
    source,
    secret,
    async close() {
      await app.close()
      await ingest.close()
      sources.close()
      redis.disconnect()
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export interface SendOptions {
  source?: string
  secret?: string | string[]
  timestamp?: number | string
  contentType?: string
  gzip?: boolean
  signature?: string
  headers?: Record<string, string>
}

export function ndjson(events: unknown[]): string {
  return events.map((e) => JSON.stringify(e)).join('\n') + '\n'
}

/** Signs and posts a body exactly as a trading API would. */
export function send(h: Harness, body: string | Buffer, o: SendOptions = {}): Promise<LightMyRequestResponse> {
  const ts = String(o.timestamp ?? Math.floor(Date.now() / 1000))
  let payload = typeof body === 'string' ? Buffer.from(body) : body
  if (o.gzip) payload = gzipSync(payload)
  const secrets = o.secret === undefined ? [h.secret] : Array.isArray(o.secret) ? o.secret : [o.secret]
  const signature = o.signature ?? secrets.map((s) => signPayload(s, ts, payload)).join(',')
  return h.app.inject({
    method: 'POST',
    url: '/v1/events',
    payload,
    headers: {
      'content-type': o.contentType ?? 'application/x-ndjson',
      'vigil-source': o.source ?? h.source,
      'vigil-timestamp': ts,
      'vigil-signature': signature,
      ...(o.gzip ? { 'content-encoding': 'gzip' } : {}),
      ...o.headers,
    },
  })
}

let seq = 0
/** A valid event; `over` replaces or adds fields. */
export function event(over: Record<string, unknown> = {}): Record<string, unknown> {
  seq++
  return {
    id: `ev-${process.pid}-${Date.now()}-${seq}`,
    ts: new Date().toISOString(),
    action: 'order.new',
    outcome: 'success',
    api_key_id: 'key-1',
    account_id: 'acct-1',
    client_ip: '81.2.69.142',
    http: { method: 'POST', path: '/v1/orders', status: 201, latency_ms: 3.2 },
    order: { symbol: 'AAPL', side: 'buy', type: 'limit', qty: 10, price: 190.5, notional: 1905, currency: 'USD', venue: 'XNAS' },
    ...over,
  }
}

export async function countStored(store: Store, source: string): Promise<number> {
  const rows = await store.query<{ n: string }>('SELECT count() AS n FROM events FINAL WHERE source = {s:String}', { s: source })
  return Number(rows[0]?.n ?? 0)
}
