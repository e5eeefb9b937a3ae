/**
 * People's sessions: a short-lived access token (a JWT, HS256, at most 10 minutes) sent as
 * `Authorization: Bearer`, and a rotating refresh token kept by the browser in an httpOnly
 * cookie. Each sign-in starts a *family*; every refresh replaces the family's refresh token,
 * and presenting one that was already replaced (a stolen copy, or the thief's after the
 * owner refreshed) ends the whole family. A family also ends when unused for the idle
 * timeout, at the absolute timeout after sign-in, on logout, and on "sign out everywhere".
 *
 * Relied on by: auth-service.ts and access-control.ts, which checks on every request that
 * the access token's family is still alive — so logout and sign-out-everywhere take effect
 * at once, not when the access token expires. The JWT key is derived from the master key
 * (never a constant), so tokens survive a restart and die with a new master key.
 * Families live in Redis (`<prefix>auth:family:<id>`); refresh tokens only as SHA-256.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import { jwtVerify, SignJWT } from 'jose'
import { safeEqual, type VigilConfig } from '@vigil/core'
import { isRole, type Role } from './permissions.js'

/** `enrol`: signed in with a password but no second factor yet; can do nothing but enrol. */
export type SessionStage = 'enrol' | 'full'

export interface SessionClaims {
  email: string
  role: Role
  stage: SessionStage
  /** The family id. */
  sessionId: string
}

export interface IssuedSession {
  access_token: string
  /** Seconds. */
  expires_in: number
  refresh_token: string
  sessionId: string
}

export type RefreshOutcome =
  | { ok: true; session: IssuedSession; email: string }
  /** `reused`: an old token of a live family was presented; the family is now ended. */
  | { ok: false; why: 'unknown' | 'expired' | 'idle' | 'reused'; email?: string; sessionId?: string }

export interface SessionStore {
  /** Starts a family for a person who has just signed in. */
  start(email: string, role: Role, stage: SessionStage, nowMs: number): Promise<IssuedSession>
  /**
   * Replaces the refresh token with a new one and issues a fresh access token. `current`
   * says who the person is now (role, still active): the caller reads it from the store, so a
   * role change or a disable takes effect here at the latest (null: end the family).
   */
  refresh(token: string, nowMs: number, current: (email: string) => Promise<{ role: Role; enrolled: boolean } | null>): Promise<RefreshOutcome>
  /** Who an access token speaks for, or null (bad signature, expired, family ended). */
  verifyAccess(token: string, nowMs: number): Promise<SessionClaims | null>
  /** Moves a family from `enrol` to `full` and issues a new access token for it. */
  upgrade(sessionId: string, role: Role, nowMs: number): Promise<IssuedSession | null>
  /** The family a refresh token names, ended; its email, if it was alive. */
  endByRefreshToken(token: string): Promise<string | undefined>
  /** Ends one family. */
  end(sessionId: string): Promise<void>
  /** Ends every family of a person; how many there were. */
  endAll(email: string): Promise<number>
  /** The ids of a person's families (some may have just timed out). */
  list(email: string): Promise<string[]>
}

/**
 * Sessions, throttling and step-2 tickets live in Redis: when it cannot answer, callers get
 * `503 redis_unavailable` rather than an internal error. True for what ioredis throws then.
 */
export function isRedisOutage(err: unknown): boolean {
  if (!(err instanceof Error)) return false
  return (
    ['MaxRetriesPerRequestError', 'ReplyError', 'AbortError'].includes(err.name) ||
    /Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTCONN|EPIPE/.test(err.message)
  )
}

/** The HS256 key for session JWTs: stable across restarts, different for every master key. */
export function deriveSessionKey(masterKey: Buffer): Buffer {
  return createHmac('sha256', masterKey).update('vigil/session-jwt/v1').digest()
}

const REFRESH_PREFIX = 'vgr_'
const REFRESH_SHAPE = /^vgr_([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/
const ISSUER = 'vigil'
const AUDIENCE = 'vigil-operator-api'

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex')

// Rotates only when the presented hash is the current one; any other hash for a live family
// is a reuse and ends it. Returns 1 rotated, 2 reused (ended), 0 no such family.
const ROTATE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local current = redis.call('HGET', KEYS[1], 'current')
if current ~= ARGV[1] then
  local email = redis.call('HGET', KEYS[1], 'email')
  redis.call('DEL', KEYS[1])
  if email then redis.call('SREM', ARGV[4] .. email, ARGV[5]) end
  return 2
end
redis.call('HSET', KEYS[1], 'current', ARGV[2], 'last_ms', ARGV[3])
return 1`

export function createSessionStore(deps: { redis: Redis; keyPrefix: string; key: Buffer; auth: VigilConfig['auth'] }): SessionStore {
  const { redis, auth } = deps
  const familyKey = (id: string) => `${deps.keyPrefix}auth:family:${id}`
  const userSetPrefix = `${deps.keyPrefix}auth:families:`
  const userKey = (email: string) => `${userSetPrefix}${email}`
  const accessTtlSec = Math.min(auth.accessTtlSec, 600)
  // Redis forgets a family a little after it could last; the timeouts themselves are checked against the clock.
  const familyExpiryMs = auth.absoluteTimeoutSec * 1000 + 60_000

  async function sign(claims: SessionClaims, nowMs: number): Promise<string> {
    const iat = Math.floor(nowMs / 1000)
    return new SignJWT({ role: claims.role, stage: claims.stage, sid: claims.sessionId })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(claims.email)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(iat)
      .setExpirationTime(iat + accessTtlSec)
      .sign(deps.key)
  }

  const newRefresh = (sessionId: string) => `${REFRESH_PREFIX}${sessionId}.${randomBytes(32).toString('base64url')}`

  async function issue(claims: SessionClaims, refreshToken: string, nowMs: number): Promise<IssuedSession> {
    return { access_token: await sign(claims, nowMs), expires_in: accessTtlSec, refresh_token: refreshToken, sessionId: claims.sessionId }
  }

  async function family(sessionId: string): Promise<Record<string, string> | undefined> {
    const f = await redis.hgetall(familyKey(sessionId))
    return f.email ? f : undefined
  }

  /** Why a family is over at `nowMs`, or undefined when it is alive. */
  function over(f: Record<string, string>, nowMs: number): 'expired' | 'idle' | undefined {
    if (nowMs - Number(f.created_ms) > auth.absoluteTimeoutSec * 1000) return 'expired'
    if (nowMs - Number(f.last_ms) > auth.idleTimeoutSec * 1000) return 'idle'
    return undefined
  }

  async function end(sessionId: string): Promise<string | undefined> {
    const f = await family(sessionId)
    await redis.del(familyKey(sessionId))
    if (f?.email) await redis.srem(userKey(f.email), sessionId)
    return f?.email
  }

  return {
    async start(email, role, stage, nowMs) {
      const sessionId = randomBytes(16).toString('base64url')
      const refreshToken = newRefresh(sessionId)
      await redis
        .multi()
        .hset(familyKey(sessionId), { email, stage, created_ms: String(nowMs), last_ms: String(nowMs), current: sha256(refreshToken) })
        .pexpire(familyKey(sessionId), familyExpiryMs)
        .sadd(userKey(email), sessionId)
        .pexpire(userKey(email), familyExpiryMs)
        .exec()
      return issue({ email, role, stage, sessionId }, refreshToken, nowMs)
    },

    async refresh(token, nowMs, current) {
      const m = typeof token === 'string' ? REFRESH_SHAPE.exec(token) : null
      if (!m) return { ok: false, why: 'unknown' }
      const sessionId = m[1] as string
      const f = await family(sessionId)
      if (!f) return { ok: false, why: 'unknown' }
      const email = f.email as string
      const ended = over(f, nowMs)
      if (ended) {
        await end(sessionId)
        return { ok: false, why: ended, email, sessionId }
      }
      const next = newRefresh(sessionId)
      const rotated = await redis.eval(ROTATE, 1, familyKey(sessionId), sha256(token), sha256(next), String(nowMs), userSetPrefix, sessionId)
      if (rotated === 2) return { ok: false, why: 'reused', email, sessionId }
      if (rotated !== 1) return { ok: false, why: 'unknown' }
      const who = await current(email)
      // Gone, disabled, or enrolled in another session since this one signed in with only a
      // password: a refresh never grants a second factor the family did not show.
      if (!who || (f.stage === 'enrol' && who.enrolled)) {
        await end(sessionId)
        return { ok: false, why: 'unknown', email, sessionId }
      }
      const stage: SessionStage = f.stage === 'full' ? 'full' : 'enrol'
      return { ok: true, email, session: await issue({ email, role: who.role, stage, sessionId }, next, nowMs) }
    },

    async verifyAccess(token, nowMs) {
      let payload
      try {
        ;({ payload } = await jwtVerify(token, deps.key, { algorithms: ['HS256'], issuer: ISSUER, audience: AUDIENCE, currentDate: new Date(nowMs) }))
      } catch {
        return null
      }
      const { sub, role, stage, sid } = payload as { sub?: unknown; role?: unknown; stage?: unknown; sid?: unknown }
      if (typeof sub !== 'string' || !isRole(role) || (stage !== 'enrol' && stage !== 'full') || typeof sid !== 'string') return null
      const f = await family(sid)
      if (!f || f.email !== sub || over(f, nowMs)) return null
      // A token minted before enrolment stays an enrolment token; the family's stage only grants what the token says.
      return { email: sub, role, stage, sessionId: sid }
    },

    async upgrade(sessionId, role, nowMs) {
      const f = await family(sessionId)
      if (!f || over(f, nowMs)) return null
      await redis.hset(familyKey(sessionId), 'stage', 'full', 'last_ms', String(nowMs))
      const refreshToken = newRefresh(sessionId)
      await redis.hset(familyKey(sessionId), 'current', sha256(refreshToken))
      return issue({ email: f.email as string, role, stage: 'full', sessionId }, refreshToken, nowMs)
    },

    async endByRefreshToken(token) {
      const m = typeof token === 'string' ? REFRESH_SHAPE.exec(token) : null
      if (!m) return undefined
      const f = await family(m[1] as string)
      // Only the holder of the current token may end the family this way.
      if (!f || !safeEqual(f.current ?? '', sha256(token))) return undefined
      return end(m[1] as string)
    },

    async end(sessionId) {
      await end(sessionId)
    },

    async list(email) {
      return redis.smembers(userKey(email))
    },

    async endAll(email) {
      const ids = await redis.smembers(userKey(email))
      for (const id of ids) await redis.del(familyKey(id))
      await redis.del(userKey(email))
      return ids.length
    },
  }
}
