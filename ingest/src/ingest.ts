/**
 * Ingest: `POST /v1/events` (CONTRACT §2) and the batch writer and spool behind it.
 * `createIngest` wires the pieces; each lives in its own module.
 */
import path from 'node:path'
import type { FastifyPluginAsync } from 'fastify'
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { Store, VigilConfig } from '@vigil/core'
import type { SourceRegistry } from './sources.js'
import { BatchWriter, type DurableRows } from './batch-writer.js'
import { Spool } from './spool.js'
import { IdempotencyCache } from './idempotency.js'
import { ReplayCache } from './replay-cache.js'
import { SourceRateLimiter } from './rate-limit.js'
import { createGeoLookup } from './geo.js'
import { normalizeEvent, ROW_COLUMNS, ROW_FORMAT, type RequestContext } from './normalize.js'
import { ingestClock } from './clock.js'
import { ingestRoutes, type IngestCounters } from './routes.js'

export interface IngestDeps {
  config: VigilConfig
  store: Store
  redis: Redis
  logger: Logger
  sources: SourceRegistry
  /** Where ingest registers its metrics (accepted/rejected/duplicate counters, flush latency, spool depth). */
  metrics?: Registry
  /** Spool directory. @defaultValue `<dataDir>/spool` */
  spoolDir?: string
  /**
   * Each batch of events once it is in ClickHouse, as rows of `events` (batch-writer.ts): `vigil
   * up` hands them to the detection engine in process. Not awaited; a throw is only logged.
   */
  onDurable?: (batch: DurableRows) => void
}

export interface Ingest {
  /**
   * Fastify plugin with `POST /v1/events`. Its route declares `config: { permission: 'source' }`:
   * it authenticates the request itself (HMAC), so the server's bearer check must skip it.
   * Register it without a prefix.
   */
  routes: FastifyPluginAsync
  /** Waits until everything accepted so far is in ClickHouse or the spool. */
  flush(): Promise<void>
  /** Stops accepting, flushes, stops the spool replayer. */
  close(): Promise<void>
  /** For health: is ClickHouse writable, how many bytes wait in the spool. */
  status(): { storage: 'ok' | 'spooling'; spoolBytes: number }
  /**
   * Vigil's own audit events (its sign-ins, lockouts, people changes) under source
   * {@link OWN_SOURCE}, so its detectors watch Vigil too. In process and trusted: no
   * signature, but the same validation, masking, enrichment and batch writer as
   * `POST /v1/events`. Resolves once they are durable with how many were stored; an event
   * that does not validate is dropped and named in `rejected`.
   */
  recordOwn(events: readonly Record<string, unknown>[]): Promise<{ accepted: number; rejected: Array<{ index: number; error: string }> }>
}

/** The source id of the events Vigil emits about itself. */
export const OWN_SOURCE = 'vigil'

function metricsFor(registry: Registry | undefined) {
  if (!registry) return { counters: undefined, writer: undefined }
  const registers = [registry]
  const events = new Counter({ name: 'vigil_ingest_events_total', help: 'Events by outcome at ingest', labelNames: ['source', 'result'], registers })
  const requests = new Counter({ name: 'vigil_ingest_requests_total', help: 'Ingest requests by answer code', labelNames: ['code'], registers })
  const flush = new Histogram({
    name: 'vigil_ingest_flush_seconds',
    help: 'Time to make one batch durable',
    labelNames: ['to'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  })
  const flushRows = new Counter({ name: 'vigil_ingest_flushed_rows_total', help: 'Rows made durable', labelNames: ['to'], registers })
  const spool = new Gauge({ name: 'vigil_ingest_spool_bytes', help: 'Bytes waiting in the spool for ClickHouse', registers })
  const buried = new Counter({ name: 'vigil_ingest_spool_dead_batches_total', help: 'Spooled batches ClickHouse refused, set aside', registers })
  const counters: IngestCounters = {
    request: (code) => requests.inc({ code }),
    accepted: (source, n) => n > 0 && events.inc({ source, result: 'accepted' }, n),
    duplicates: (source, n) => n > 0 && events.inc({ source, result: 'duplicate' }, n),
    rejected: (source, n) => n > 0 && events.inc({ source, result: 'rejected' }, n),
  }
  const writer = {
    flushed: (rows: number, seconds: number, to: 'clickhouse' | 'spool') => {
      flush.observe({ to }, seconds)
      flushRows.inc({ to }, rows)
    },
    spoolBytes: (b: number) => spool.set(b),
    buried: (n: number) => buried.inc(n),
  }
  return { counters, writer }
}

export async function createIngest(deps: IngestDeps): Promise<Ingest> {
  const { config, store, redis, logger, sources } = deps
  const m = metricsFor(deps.metrics)
  const spool = new Spool(deps.spoolDir ?? path.join(config.dataDir, 'spool'))
  const writer = new BatchWriter({
    store,
    spool,
    logger,
    table: 'events',
    columns: ROW_COLUMNS,
    format: ROW_FORMAT,
    flushRows: config.ingest.flushRows,
    flushMs: config.ingest.flushMs,
    spoolMaxBytes: config.ingest.spoolMaxBytes,
    ...(m.writer ? { metrics: m.writer } : {}),
    ...(deps.onDurable ? { onDurable: deps.onDurable } : {}),
  })
  let accepting = true
  const geo = createGeoLookup()
  const routes = ingestRoutes({
    config,
    logger,
    sources,
    writer,
    idempotency: new IdempotencyCache(redis, logger),
    replay: new ReplayCache(redis, logger, config.ingest.signatureToleranceSec),
    rateLimiter: new SourceRateLimiter(config.ingest.rateLimitPerSource),
    geo,
    ...(m.counters ? { counters: m.counters } : {}),
    accepting: () => accepting,
  })
  return {
    routes,
    flush: () => writer.flush(),
    async close() {
      accepting = false
      await writer.close()
    },
    status() {
      const s = writer.status()
      return { storage: s.storage, spoolBytes: s.spoolBytes }
    },
    async recordOwn(events) {
      const clock = ingestClock()
      const ctx: RequestContext = { source: OWN_SOURCE, receivedAt: clock.iso, receivedMs: clock.ms, geo }
      const rows: string[] = []
      const values: unknown[][] = []
      const rejected: Array<{ index: number; error: string }> = []
      events.forEach((event, index) => {
        // normalizeEvent moves unknown fields into attrs in place: hand it a copy.
        const n = normalizeEvent({ ...event }, ctx)
        if (n.ok) {
          rows.push(n.row)
          values.push(n.values)
        } else rejected.push({ index, error: n.error })
      })
      if (rows.length > 0) await writer.write(Buffer.from(rows.join('')), rows.length, values)
      m.counters?.accepted(OWN_SOURCE, rows.length)
      return { accepted: rows.length, rejected }
    },
  }
}
