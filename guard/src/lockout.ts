/**
 * Lockout after repeated authentication failures: `maxFailures` within `windowMs` on one
 * subject lock it for `lockMs`. Subjects are `key:<id>` (bad signatures on a known key) and
 * `ip:<address>` (unknown keys from one address — credential stuffing). The transition to
 * locked is reported exactly once (`lockedNow`), even with several instances on one Redis,
 * so the plugin emits one `auth.lockout` event per lockout.
 *
 * The failure count starts at the first failure and lasts `windowMs` (a fixed window from
 * that failure); a successful authentication clears it.
 */
import type { Redis } from 'ioredis'

export interface LockoutPolicy {
  /** Failures that lock the subject. @defaultValue 10 */
  maxFailures: number
  /** How long failures are counted from the first. @defaultValue 300000 (5 min) */
  windowMs: number
  /** How long the subject stays locked. @defaultValue 900000 (15 min) */
  lockMs: number
}

export const DEFAULT_LOCKOUT: LockoutPolicy = { maxFailures: 10, windowMs: 300_000, lockMs: 900_000 }

export interface Lockout {
  /** Milliseconds the subject stays locked; 0 when it is not locked. */
  lockedFor(subject: string, nowMs: number): Promise<number>
  /** Counts a failure; `lockedNow` is true for the one failure that locked the subject. */
  recordFailure(subject: string, nowMs: number): Promise<{ lockedNow: boolean }>
  /** Forgets the subject's failures (after a successful authentication). */
  clear(subject: string): Promise<void>
}

export class MemoryLockout implements Lockout {
  readonly #policy: LockoutPolicy
  readonly #failures = new Map<string, { count: number; until: number }>()
  readonly #locks = new Map<string, number>()

  constructor(policy: LockoutPolicy = DEFAULT_LOCKOUT) {
    this.#policy = policy
  }

  async lockedFor(subject: string, nowMs: number): Promise<number> {
    const until = this.#locks.get(subject)
    if (until === undefined) return 0
    if (until <= nowMs) {
      this.#locks.delete(subject)
      return 0
    }
    return until - nowMs
  }

  async recordFailure(subject: string, nowMs: number): Promise<{ lockedNow: boolean }> {
    let f = this.#failures.get(subject)
    if (!f || f.until <= nowMs) {
      f = { count: 0, until: nowMs + this.#policy.windowMs }
      this.#failures.set(subject, f)
    }
    f.count++
    if (f.count < this.#policy.maxFailures) return { lockedNow: false }
    this.#failures.delete(subject)
    if ((await this.lockedFor(subject, nowMs)) > 0) return { lockedNow: false }
    this.#locks.set(subject, nowMs + this.#policy.lockMs)
    return { lockedNow: true }
  }

  async clear(subject: string): Promise<void> {
    this.#failures.delete(subject)
  }
}

// KEYS: failure counter, lock. ARGV: windowMs, maxFailures, lockMs. Returns 1 when this call locked.
const RECORD = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if n >= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  if redis.call('SET', KEYS[2], '1', 'PX', ARGV[3], 'NX') then return 1 end
end
return 0
`

export class RedisLockout implements Lockout {
  readonly #redis: Redis
  readonly #prefix: string
  readonly #policy: LockoutPolicy

  /** @param prefix prepended to every Redis key, e.g. `vigil-guard:` */
  constructor(opts: { redis: Redis; prefix: string; policy?: LockoutPolicy }) {
    this.#redis = opts.redis
    this.#prefix = opts.prefix
    this.#policy = opts.policy ?? DEFAULT_LOCKOUT
  }

  // Lock expiry is Redis's clock (PX), not the caller's: one instance's skew cannot shorten it.
  async lockedFor(subject: string, _nowMs?: number): Promise<number> {
    const ttl = await this.#redis.pttl(`${this.#prefix}lock:${subject}`)
    return ttl > 0 ? ttl : 0
  }

  async recordFailure(subject: string, _nowMs?: number): Promise<{ lockedNow: boolean }> {
    const r = await this.#redis.eval(
      RECORD,
      2,
      `${this.#prefix}fail:${subject}`,
      `${this.#prefix}lock:${subject}`,
      String(this.#policy.windowMs),
      String(this.#policy.maxFailures),
      String(this.#policy.lockMs),
    )
    return { lockedNow: r === 1 }
  }

  async clear(subject: string): Promise<void> {
    await this.#redis.del(`${this.#prefix}fail:${subject}`)
  }
}
