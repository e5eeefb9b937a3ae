/**
 * Idempotency per (source, id): a retry of an event id within the window is answered as a
 * duplicate and not stored again (CONTRACT §1).
 *
 * Ids are checked before the write and remembered only after the write is durable. The
 * other order (remember first) would lose an event whose write failed or whose process died
 * before the write: its retry would be called a duplicate. Two concurrent retries of one id
 * may both pass the check; storage collapses them by (source, api_key_id, ts, id), so they
 * are still never counted twice. When Redis is down, the check says "new" and storage does
 * the collapsing alone.
 */
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'

const REMEMBER = `
for i, k in ipairs(KEYS) do redis.call('SET', k, '1', 'EX', ARGV[1]) end
return #KEYS`

export class IdempotencyCache {
  readonly #redis: Redis
  readonly #ttlSec: number
  readonly #logger: Logger
  readonly #prefix: string

  constructor(redis: Redis, logger: Logger, opts: { ttlSec?: number; prefix?: string } = {}) {
    this.#redis = redis
    this.#logger = logger
    this.#ttlSec = opts.ttlSec ?? 600
    this.#prefix = opts.prefix ?? 'vigil:idem:'
  }

  #key(source: string, id: string): string {
    return `${this.#prefix}${source.length}:${source}:${id}`
  }

  /** For each id, whether it was stored within the window. */
  async seen(source: string, ids: readonly string[]): Promise<boolean[]> {
    if (ids.length === 0) return []
    try {
      const vals = await this.#redis.mget(ids.map((id) => this.#key(source, id)))
      return vals.map((v) => v !== null)
    } catch (err) {
      this.#logger.warn({ error: (err as Error).message }, 'idempotency check skipped: Redis unavailable')
      return ids.map(() => false)
    }
  }

  /** Records ids that are now durable. Best effort: storage still collapses repeats. */
  async remember(source: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return
    try {
      await this.#redis.eval(REMEMBER, ids.length, ...ids.map((id) => this.#key(source, id)), String(this.#ttlSec))
    } catch (err) {
      this.#logger.warn({ error: (err as Error).message }, 'idempotency record skipped: Redis unavailable')
    }
  }
}
