/**
 * Sign-in throttling: failed attempts are counted per account and per client IP over a
 * sliding window; reaching the limit locks that account or IP for a fixed time, after which
 * it is released by itself (VIGIL_AUTH_* settings, core/src/config.ts).
 *
 * Relied on by: auth-service.ts, which asks before checking any password (a locked account
 * or IP is refused without one being verified) and reports every failure and success.
 * State is in Redis under `<prefix>auth:` — counters that may be lost without harm. Times
 * are the injected clock's, stored in the values; Redis expiries only clean up after them.
 */
import type { Redis } from 'ioredis'
import type { VigilConfig } from '@vigil/core'

export type ThrottleScope = 'account' | 'ip'

export interface Lockout {
  scope: ThrottleScope
  /** Epoch ms the lock is released at. */
  untilMs: number
}

export interface LoginThrottle {
  /** The lock in force on this account or IP at `nowMs`, if any (the account's first). */
  locked(email: string, ip: string, nowMs: number): Promise<Lockout | undefined>
  /** Counts a failure; returns the locks this failure started (empty when none did). */
  failed(email: string, ip: string, nowMs: number): Promise<Lockout[]>
  /** A success clears the account's failures (not the IP's: one good password there proves little). */
  succeeded(email: string): Promise<void>
}

// Adds one failure at ARGV[1] (ms), drops those older than the window, and when the count
// reaches the limit sets the lock (value: until ms) and forgets the failures. Returns the
// lock's end, or 0. Atomic, so two parallel failures cannot both slip under the limit.
const FAIL = `
local now = tonumber(ARGV[1])
redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local untilMs = now + tonumber(ARGV[4])
  redis.call('SET', KEYS[2], tostring(untilMs), 'PX', ARGV[4])
  redis.call('DEL', KEYS[1])
  return untilMs
end
return 0`

export function createLoginThrottle(deps: { redis: Redis; keyPrefix: string; auth: VigilConfig['auth'] }): LoginThrottle {
  const { redis, auth } = deps
  const windowMs = auth.failureWindowSec * 1000
  const lockMs = auth.lockoutSec * 1000
  const limits: Record<ThrottleScope, number> = { account: auth.maxFailuresPerAccount, ip: auth.maxFailuresPerIp }
  const key = (kind: 'fail' | 'lock', scope: ThrottleScope, id: string) => `${deps.keyPrefix}auth:${kind}:${scope}:${id}`
  let seq = 0

  async function lockOf(scope: ThrottleScope, id: string, nowMs: number): Promise<Lockout | undefined> {
    const until = Number(await redis.get(key('lock', scope, id)))
    return until > nowMs ? { scope, untilMs: until } : undefined
  }

  return {
    async locked(email, ip, nowMs) {
      return (await lockOf('account', email, nowMs)) ?? (await lockOf('ip', ip, nowMs))
    },
    async failed(email, ip, nowMs) {
      const started: Lockout[] = []
      for (const [scope, id] of [['account', email], ['ip', ip]] as const) {
        // Members must differ or two failures in one millisecond would count once.
        const member = `${nowMs}:${process.pid}:${seq++}`
        const until = Number(await redis.eval(FAIL, 2, key('fail', scope, id), key('lock', scope, id), String(nowMs), String(windowMs), String(limits[scope]), String(lockMs), member))
        if (until > 0) started.push({ scope, untilMs: until })
      }
      return started
    },
    async succeeded(email) {
      await redis.del(key('fail', 'account', email))
    },
  }
}
