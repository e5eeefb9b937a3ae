/**
 * Per-key rate limits: a sliding one-second window (every accepted request in the last
 * 1000 ms counts, so there is no burst at a window edge) and a per-day counter (UTC day),
 * both set by the account's tier. A refused request does not count, so a client that
 * backs off for `Retry-After` seconds gets through.
 *
 * Memory for one instance; Redis (one Lua script, atomic) when several instances share the
 * limit. Both pass the same tests (rate-limit.test.ts).
 */
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'

/** The limits of one account tier. */
export interface TierLimits {
  /** Requests in any 1000 ms. */
  perSecond: number
  /** Requests per UTC day. */
  perDay: number
}

export type RateDecision = { allowed: true } | { allowed: false; window: 'second' | 'day'; retryAfterS: number }

export interface RateLimiter {
  /** Counts one request for the key if it is within its limits. */
  consume(keyId: string, limits: TierLimits, nowMs: number): Promise<RateDecision>
}

const DAY_MS = 86_400_000

function utcDay(nowMs: number): number {
  return Math.floor(nowMs / DAY_MS)
}

function secondsToNextDay(nowMs: number): number {
  return Math.max(1, Math.ceil(((utcDay(nowMs) + 1) * DAY_MS - nowMs) / 1000))
}

function secondsUntilSlotFrees(oldestMs: number, nowMs: number): number {
  return Math.max(1, Math.ceil((oldestMs + 1000 - nowMs) / 1000))
}

export class MemoryRateLimiter implements RateLimiter {
  readonly #windows = new Map<string, number[]>()
  readonly #days = new Map<string, { day: number; count: number }>()

  async consume(keyId: string, limits: TierLimits, nowMs: number): Promise<RateDecision> {
    const day = utcDay(nowMs)
    let d = this.#days.get(keyId)
    if (!d || d.day !== day) {
      d = { day, count: 0 }
      this.#days.set(keyId, d)
    }
    if (d.count >= limits.perDay) return { allowed: false, window: 'day', retryAfterS: secondsToNextDay(nowMs) }
    const stamps = (this.#windows.get(keyId) ?? []).filter((t) => t > nowMs - 1000)
    this.#windows.set(keyId, stamps)
    if (stamps.length >= limits.perSecond) {
      return { allowed: false, window: 'second', retryAfterS: secondsUntilSlotFrees(stamps[0] as number, nowMs) }
    }
    stamps.push(nowMs)
    d.count++
    return { allowed: true }
  }
}

// KEYS: window zset, day counter. ARGV: now, perSecond, perDay, member, day key TTL (ms).
const CONSUME = `
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 1000)
local day = tonumber(redis.call('GET', KEYS[2]) or '0')
if day >= tonumber(ARGV[3]) then return {0, 'day', '0'} end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, 'second', oldest[2]}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], 2000)
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return {1, '', '0'}
`

export class RedisRateLimiter implements RateLimiter {
  readonly #redis: Redis
  readonly #prefix: string

  /** @param prefix prepended to every Redis key, e.g. `vigil-guard:` */
  constructor(opts: { redis: Redis; prefix: string }) {
    this.#redis = opts.redis
    this.#prefix = opts.prefix
  }

  async consume(keyId: string, limits: TierLimits, nowMs: number): Promise<RateDecision> {
    const day = utcDay(nowMs)
    const member = `${nowMs}:${randomBytes(6).toString('base64url')}`
    // The day key outlives its day by an hour so a clock a little behind still finds it.
    const dayTtl = (day + 1) * DAY_MS - nowMs + 3_600_000
    const [ok, window, oldest] = (await this.#redis.eval(
      CONSUME,
      2,
      `${this.#prefix}rl:s:${keyId}`,
      `${this.#prefix}rl:d:${keyId}:${day}`,
      String(nowMs),
      String(limits.perSecond),
      String(limits.perDay),
      member,
      String(Math.ceil(dayTtl)),
    )) as [number, string, string]
    if (ok === 1) return { allowed: true }
    if (window === 'day') return { allowed: false, window: 'day', retryAfterS: secondsToNextDay(nowMs) }
    return { allowed: false, window: 'second', retryAfterS: secondsUntilSlotFrees(Number(oldest), nowMs) }
  }
}
