/**
 * Ingest: `POST /v1/events` (CONTRACT §2) and the batch writer behind it.
 */
import type { FastifyPluginAsync } from 'fastify'
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { Store, VigilConfig } from '@vigil/core'
import type { SourceRegistry } from './sources.js'

export interface IngestDeps {
  config: VigilConfig
  store: Store
  redis: Redis
  logger: Logger
  sources: SourceRegistry
  /** Where ingest registers its metrics (accepted/rejected/duplicate counters, flush latency, spool depth). */
  metrics?: Registry
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
}

export async function createIngest(_deps: IngestDeps): Promise<Ingest> {
  throw new Error('not implemented yet')
}
