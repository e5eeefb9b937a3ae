/**
 * Replay protection: a signature is accepted once (`409 replayed` the second time,
 * CONTRACT §2). Signatures are remembered for twice the timestamp tolerance, after which the
 * timestamp check alone refuses the request.
 *
 * Shared through Redis so every ingest process sees every signature. When Redis is down
 * the check falls back to an in-process cache — one process is still protected, and ingest
 * keeps serving rather than failing closed on a dependency that holds nothing durable.
 */
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { LRUCache } from 'lru-cache'

export class ReplayCache {
  readonly #redis: Redis
  readonly #logger: Logger
  readonly #ttlSec: number
  readonly #local: LRUCache<string, true>
  #degraded = false

  constructor(redis: Redis, logger: Logger, toleranceSec: number) {
    this.#redis = redis
    this.#logger = logger
    this.#ttlSec = toleranceSec * 2
    // Bounded by maxSize (one per entry) rather than max: the same million entries, but
    // lru-cache preallocates every array for `max` up front (≈ 0.2 s and tens of MB at start).
    this.#local = new LRUCache<string, true>({ maxSize: 1_000_000, sizeCalculation: () => 1, ttl: this.#ttlSec * 1000 })
  }

  /** True when this signature is new (and records it); false when it was seen before. */
  async firstUse(source: string, signatureHex: string): Promise<boolean> {
    const key = `vigil:replay:${source.length}:${source}:${signatureHex}`
    // The local cache also catches a replay that arrives while Redis is briefly away.
    if (this.#local.has(key)) return false
    this.#local.set(key, true)
    try {
      const r = await this.#redis.set(key, '1', 'EX', this.#ttlSec, 'NX')
      if (this.#degraded) {
        this.#degraded = false
        this.#logger.info('replay cache back on Redis')
      }
      return r === 'OK'
    } catch (err) {
      if (!this.#degraded) {
        this.#degraded = true
        this.#logger.warn({ error: (err as Error).message }, 'replay cache degraded to this process: Redis unavailable')
      }
      return true
    }
  }
}
