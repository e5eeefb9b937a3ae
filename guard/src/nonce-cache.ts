/**
 * The replay cache: a nonce may be used once per key within the timestamp window. An entry
 * lives as long as the window (a request older than that is refused as stale anyway), so
 * memory stays proportional to the legitimate request rate. Only nonces of requests whose
 * signature verified are stored: an unauthenticated caller cannot fill the cache.
 *
 * Memory for one instance; Redis when several instances serve the same keys.
 */
import type { Redis } from 'ioredis'

export interface NonceCache {
  /** True the first time this nonce is claimed for this key within `ttlMs`; false for a replay. */
  claim(keyId: string, nonce: string, ttlMs: number): Promise<boolean>
}

export class MemoryNonceCache implements NonceCache {
  readonly #seen = new Map<string, number>()
  readonly #now: () => number

  constructor(opts: { now?: () => number } = {}) {
    this.#now = opts.now ?? Date.now
  }

  async claim(keyId: string, nonce: string, ttlMs: number): Promise<boolean> {
    const now = this.#now()
    this.#sweep(now)
    const id = `${keyId}\n${nonce}`
    const until = this.#seen.get(id)
    if (until !== undefined && until > now) return false
    // Re-insert so the map stays in expiry order (the TTL is the same for every entry).
    this.#seen.delete(id)
    this.#seen.set(id, now + ttlMs)
    return true
  }

  /** Entries held now (for tests and metrics). */
  get size(): number {
    return this.#seen.size
  }

  #sweep(now: number): void {
    for (const [id, until] of this.#seen) {
      if (until > now) break
      this.#seen.delete(id)
    }
  }
}

export class RedisNonceCache implements NonceCache {
  readonly #redis: Redis
  readonly #prefix: string

  /** @param prefix prepended to every Redis key, e.g. `vigil-guard:` */
  constructor(opts: { redis: Redis; prefix: string }) {
    this.#redis = opts.redis
    this.#prefix = opts.prefix
  }

  async claim(keyId: string, nonce: string, ttlMs: number): Promise<boolean> {
    // The key id's length keeps ("a:b", "c") and ("a", "b:c") apart.
    const ok = await this.#redis.set(`${this.#prefix}nonce:${keyId.length}:${keyId}:${nonce}`, '1', 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX')
    return ok === 'OK'
  }
}
