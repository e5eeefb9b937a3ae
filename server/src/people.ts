/**
 * People and sign-in as one service: passwords, the enforced second factor, sessions, login
 * throttling, and the record every one of these leaves.
 *
 * Relied on by: auth-routes.ts (the `/v1/auth/*` and `/v1/users*` routes), access-control.ts
 * (session access tokens) and admin-commands.ts (`vigil users …`). Every sign-in success and
 * failure, lockout, MFA change, role change, disable and sign-out-everywhere is written twice:
 * to the hash-chained audit log (respond's AuditLog, as token and source changes are), and as
 * a CONTRACT §1 event from source `vigil` through ingest's writer, so Vigil's own detectors
 * (`auth.brute_force`, `auth.credential_stuffing`, `auth.success_after_failures`) watch
 * sign-ins to Vigil like any trading API's.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { VigilError, type Store, type VigilConfig } from '@vigil/core'
import type { AuditLog } from '@vigil/respond'
import { createLoginThrottle, type LoginThrottle, type Lockout } from './login-throttle.js'
import { checkPasswordStrength, hashPassword, verifyPassword } from './passwords.js'
import { isRole, type Role } from './permissions.js'
import { createSessionStore, deriveSessionKey, type IssuedSession, type SessionClaims, type SessionStore } from './sessions.js'
import { claimTotpStep, hashRecoveryCode, matchTotp, newRecoveryCodes, newTotpSecret, totpUri } from './totp.js'
import { createUserStore, normaliseEmail, type AddedUser, type UserInfo, type UserStore } from './users.js'

/** A CONTRACT §1 event, as Vigil emits it about itself. */
export type OwnEvent = Record<string, unknown> & { ts: string; action: string; outcome: 'success' | 'failure' | 'denied' | 'error' }

export interface PeopleDeps {
  store: Store
  redis: Redis
  /** Start of Redis keys, e.g. `vigil:<instance>:` (see response-wiring's responseKeyPrefix). */
  keyPrefix: string
  masterKey: Buffer
  auth: VigilConfig['auth']
  audit: Pick<AuditLog, 'append'>
  /** Ingest's `recordOwn`: where Vigil's own events go. */
  ownEvents(events: OwnEvent[]): Promise<unknown>
  logger?: Logger
  /** Epoch ms. @defaultValue `Date.now` */
  now?: () => number
}

/** Who is asking, as the request showed it. */
export interface Caller {
  ip: string
  userAgent?: string | undefined
}

export type LoginResult =
  /** Password right, second factor needed: send `mfa_token` with a code to `/v1/auth/mfa`. */
  | { next: 'mfa'; mfa_token: string; expires_in: number }
  /** Password right, no authenticator yet: a session that can only enrol. */
  | { next: 'enrol'; session: IssuedSession }

export interface People {
  readonly users: UserStore
  readonly sessions: SessionStore
  readonly throttle: LoginThrottle
  login(email: unknown, password: unknown, caller: Caller): Promise<LoginResult>
  verifyMfa(input: { mfa_token: unknown; code?: unknown; recovery_code?: unknown }, caller: Caller): Promise<IssuedSession>
  startEnrolment(claims: SessionClaims, caller: Caller): Promise<{ otpauth_uri: string; secret: string }>
  confirmEnrolment(claims: SessionClaims, code: unknown, caller: Caller): Promise<{ recovery_codes: string[]; session: IssuedSession }>
  refresh(token: string | undefined, caller: Caller): Promise<IssuedSession>
  logout(refreshToken: string | undefined, claims: SessionClaims | null, caller: Caller): Promise<void>
  verifyAccess(token: string): Promise<SessionClaims | null>
  /** Admin: add a person (audited, and an own event). */
  add(email: string, opts: { role: string; password?: string }, by: string): Promise<AddedUser>
  setRole(email: string, role: string, by: string): Promise<UserInfo>
  /** Disables a person and ends all their sessions at once. */
  disable(email: string, by: string): Promise<UserInfo>
  /** "Sign out everywhere": ends every session of a person. */
  revokeSessions(email: string, by: string): Promise<{ email: string; sessions_ended: number }>
  /** Admin: forgets a person's authenticator and recovery codes (a lost phone) and ends their sessions; they enrol again. */
  resetMfa(email: string, by: string): Promise<UserInfo>
  /** A person changes their own password: the current one is checked, the new one must be strong; every other session ends. */
  changePassword(claims: SessionClaims, current: unknown, next: unknown, caller: Caller): Promise<{ sessions_ended: number }>
}

/** A step-2 ticket lives this long: enough to open an authenticator app. */
const MFA_TICKET_MS = 5 * 60_000
/** Wrong codes one ticket may take before it is void (the account throttle also counts them). */
const MFA_TICKET_ATTEMPTS = 5

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex')

/** The recovery-code key for a master key (see totp.ts): distinct from every other derived key. */
export function deriveRecoveryKey(masterKey: Buffer): Buffer {
  return createHmac('sha256', masterKey).update('vigil/recovery-codes/v1').digest()
}

export function createPeople(deps: PeopleDeps): People {
  const { redis, keyPrefix, auth } = deps
  const now = deps.now ?? Date.now
  const users = createUserStore({ store: deps.store, masterKey: deps.masterKey })
  const sessions = createSessionStore({ redis, keyPrefix, key: deriveSessionKey(deps.masterKey), auth })
  const throttle = createLoginThrottle({ redis, keyPrefix, auth })
  const recoveryKey = deriveRecoveryKey(deps.masterKey)
  const ticketKey = (token: string) => `${keyPrefix}auth:mfa-ticket:${sha256(token)}`

  /**
   * An own event, best effort: handed to ingest's batch at once but not awaited, since the
   * batch is made durable up to VIGIL_INGEST_FLUSH_MS later and every sign-in and refresh
   * would wait for it; a failure is a log line. Ingest's close() flushes what is handed over.
   */
  function emitOwn(events: OwnEvent[]): void {
    deps.ownEvents(events).catch((err: unknown) => deps.logger?.warn({ err, action: events[0]?.action }, 'own auth event not recorded'))
  }

  /**
   * One fact, twice: into the audit chain, and as an own event. The audit entry is awaited
   * (a change that cannot be audited fails); the event is best effort (emitOwn), since the
   * audit chain already holds the fact and ingest spools when storage is down.
   */
  async function record(entry: {
    audit: string
    actor: string
    subject: string
    detail: Record<string, unknown>
    event: { action: string; outcome: OwnEvent['outcome']; reason?: string; caller?: Caller; sessionId?: string; attrs?: Record<string, string> }
  }): Promise<void> {
    await deps.audit.append({ actor: entry.actor, action: entry.audit, subject: entry.subject, detail: entry.detail })
    const e = entry.event
    const event: OwnEvent = {
      ts: new Date(now()).toISOString(),
      action: e.action,
      outcome: e.outcome,
      user_id: entry.subject,
      ...(e.reason ? { reason: e.reason } : {}),
      ...(e.caller?.ip ? { client_ip: e.caller.ip } : {}),
      ...(e.caller?.userAgent ? { user_agent: e.caller.userAgent.slice(0, 512) } : {}),
      ...(e.sessionId ? { session_id: e.sessionId } : {}),
      attrs: { audit_action: entry.audit, actor: entry.actor.slice(0, 1024), ...(e.attrs ?? {}) },
    }
    emitOwn([event])
  }

  const lockedError = (lock: Lockout, nowMs: number) =>
    new VigilError('VIGIL_ERR_AUTH_LOCKED_OUT', undefined, { headers: { 'retry-after': String(Math.max(1, Math.ceil((lock.untilMs - nowMs) / 1000))) } })

  /** Counts a failed attempt and records it, and any lockout it started. */
  async function failed(email: string, caller: Caller, event: { action: string; reason: string; audit: string; why?: string }): Promise<void> {
    const nowMs = now()
    const locks = await throttle.failed(email, caller.ip, nowMs)
    await record({
      audit: event.audit,
      actor: email,
      subject: email,
      detail: { client_ip: caller.ip, reason: event.reason, ...(event.why ? { why: event.why } : {}) },
      event: { action: event.action, outcome: 'failure', reason: event.reason, caller, ...(event.why ? { attrs: { why: event.why } } : {}) },
    })
    for (const lock of locks) {
      await record({
        audit: 'auth.lockout',
        actor: 'vigil',
        subject: email,
        detail: { scope: lock.scope, client_ip: caller.ip, until: new Date(lock.untilMs).toISOString() },
        event: { action: 'auth.lockout', outcome: 'denied', reason: 'locked_out', caller, attrs: { scope: lock.scope } },
      })
    }
  }

  /** Refuses at once, without checking any secret, when the account or IP is locked. */
  async function refuseIfLocked(email: string, caller: Caller, action: string): Promise<void> {
    const nowMs = now()
    const lock = await throttle.locked(email, caller.ip, nowMs)
    if (!lock) return
    await record({
      audit: `${action}.refused`,
      actor: email,
      subject: email,
      detail: { client_ip: caller.ip, reason: 'locked_out', scope: lock.scope },
      event: { action, outcome: 'denied', reason: 'locked_out', caller, attrs: { scope: lock.scope } },
    })
    throw lockedError(lock, nowMs)
  }

  async function activeUser(email: string) {
    const user = await users.get(email)
    return user && user.status === 'active' && isRole(user.role) ? user : undefined
  }

  async function startFull(email: string, role: Role, caller: Caller, how: string): Promise<IssuedSession> {
    await throttle.succeeded(email)
    const session = await sessions.start(email, role, 'full', now())
    await record({
      audit: 'auth.login',
      actor: email,
      subject: email,
      detail: { client_ip: caller.ip, second_factor: how, session_id: session.sessionId },
      event: { action: 'auth.mfa', outcome: 'success', caller, sessionId: session.sessionId, attrs: { second_factor: how } },
    })
    return session
  }

  const people: People = {
    users,
    sessions,
    throttle,

    async login(rawEmail, password, caller) {
      const email = normaliseEmail(rawEmail)
      if (typeof password !== 'string' || password === '') throw new VigilError('VIGIL_ERR_API_BAD_REQUEST', 'password is required')
      await refuseIfLocked(email, caller, 'auth.login')
      const user = await users.get(email)
      const passwordOk = await verifyPassword(user?.password_hash, password)
      const usable = user && user.status === 'active' && isRole(user.role)
      if (!passwordOk || !usable) {
        // The same answer for an unknown person, a wrong password and a disabled account.
        const why = !user ? 'unknown_user' : !passwordOk ? 'wrong_password' : 'account_disabled'
        await failed(email, caller, { action: 'auth.login', reason: 'bad_password', audit: 'auth.login.failure', why })
        throw new VigilError('VIGIL_ERR_AUTH_BAD_CREDENTIALS')
      }
      if (!user.mfa_enrolled) {
        await throttle.succeeded(email)
        const session = await sessions.start(email, user.role, 'enrol', now())
        await record({
          audit: 'auth.login.password',
          actor: email,
          subject: email,
          detail: { client_ip: caller.ip, next: 'enrol', session_id: session.sessionId },
          event: { action: 'auth.login', outcome: 'success', caller, sessionId: session.sessionId, attrs: { step: 'password', next: 'enrol' } },
        })
        return { next: 'enrol', session }
      }
      const token = `vgm_${randomBytes(32).toString('base64url')}`
      await redis.set(ticketKey(token), JSON.stringify({ email, created_ms: now(), attempts: 0 }), 'PX', MFA_TICKET_MS)
      await record({
        audit: 'auth.login.password',
        actor: email,
        subject: email,
        detail: { client_ip: caller.ip, next: 'mfa' },
        event: { action: 'auth.login', outcome: 'success', caller, attrs: { step: 'password', next: 'mfa' } },
      })
      return { next: 'mfa', mfa_token: token, expires_in: MFA_TICKET_MS / 1000 }
    },

    async verifyMfa(input, caller) {
      const token = typeof input.mfa_token === 'string' ? input.mfa_token : ''
      const code = typeof input.code === 'string' ? input.code.trim() : undefined
      const recovery = typeof input.recovery_code === 'string' ? input.recovery_code.trim() : undefined
      if ((code === undefined) === (recovery === undefined)) throw new VigilError('VIGIL_ERR_API_BAD_REQUEST', 'send exactly one of code and recovery_code')
      const raw = /^vgm_[A-Za-z0-9_-]{43}$/.test(token) ? await redis.get(ticketKey(token)) : null
      const ticket = raw ? (JSON.parse(raw) as { email: string; created_ms: number; attempts: number }) : undefined
      if (!ticket || now() - ticket.created_ms > MFA_TICKET_MS) throw new VigilError('VIGIL_ERR_AUTH_SESSION_INVALID', 'the sign-in step expired; sign in again')
      const email = ticket.email
      await refuseIfLocked(email, caller, 'auth.mfa')
      const user = await activeUser(email)
      let ok = false
      let how = 'totp'
      if (user && code !== undefined) {
        const secret = users.totpSecret(user)
        const step = secret ? matchTotp(secret, code, now()) : null
        ok = step !== null && (await claimTotpStep(redis, keyPrefix, email, step))
      } else if (user && recovery !== undefined) {
        how = 'recovery_code'
        const hash = hashRecoveryCode(recoveryKey, recovery)
        // Across processes too, one code is spent once: whoever sets this first may use it.
        const first = await redis.set(`${keyPrefix}auth:recovery-used:${hash}`, '1', 'PX', 86_400_000, 'NX')
        ok = first === 'OK' && (await users.consumeRecoveryCode(email, hash, email))
      }
      if (!ok || !user) {
        ticket.attempts += 1
        if (ticket.attempts >= MFA_TICKET_ATTEMPTS) await redis.del(ticketKey(token))
        else await redis.set(ticketKey(token), JSON.stringify(ticket), 'KEEPTTL')
        await failed(email, caller, { action: 'auth.mfa', reason: 'mfa_failed', audit: 'auth.mfa.failure', why: how })
        throw new VigilError('VIGIL_ERR_AUTH_MFA_FAILED')
      }
      await redis.del(ticketKey(token))
      if (how === 'recovery_code') {
        const left = (await users.require(email)).recovery_codes_left
        await record({
          audit: 'mfa.recovery_code_used',
          actor: email,
          subject: email,
          detail: { client_ip: caller.ip, recovery_codes_left: left },
          event: { action: 'auth.mfa', outcome: 'success', caller, attrs: { change: 'recovery_code_used', recovery_codes_left: String(left) } },
        })
      }
      return startFull(email, user.role, caller, how)
    },

    async startEnrolment(claims, caller) {
      const user = await activeUser(claims.email)
      if (!user) throw new VigilError('VIGIL_ERR_AUTH_SESSION_INVALID')
      if (user.mfa_enrolled) throw new VigilError('VIGIL_ERR_AUTH_MFA_ALREADY_ENROLLED')
      const secret = newTotpSecret()
      await users.setPendingTotp(user.email, secret, user.email)
      await record({
        audit: 'mfa.enrol_start',
        actor: user.email,
        subject: user.email,
        detail: { client_ip: caller.ip },
        event: { action: 'auth.mfa', outcome: 'success', caller, sessionId: claims.sessionId, attrs: { change: 'enrol_start' } },
      })
      return { otpauth_uri: totpUri(secret, user.email), secret }
    },

    async confirmEnrolment(claims, rawCode, caller) {
      const code = typeof rawCode === 'string' ? rawCode.trim() : ''
      await refuseIfLocked(claims.email, caller, 'auth.mfa')
      const user = await activeUser(claims.email)
      if (!user) throw new VigilError('VIGIL_ERR_AUTH_SESSION_INVALID')
      if (user.mfa_enrolled) throw new VigilError('VIGIL_ERR_AUTH_MFA_ALREADY_ENROLLED')
      const secret = users.pendingTotp(user)
      if (!secret) throw new VigilError('VIGIL_ERR_AUTH_MFA_NOT_STARTED')
      const step = matchTotp(secret, code, now())
      if (step === null || !(await claimTotpStep(redis, keyPrefix, user.email, step))) {
        await failed(user.email, caller, { action: 'auth.mfa', reason: 'mfa_failed', audit: 'auth.mfa.failure', why: 'enrol_confirm' })
        throw new VigilError('VIGIL_ERR_AUTH_MFA_FAILED')
      }
      const codes = newRecoveryCodes()
      await users.confirmTotp(user.email, codes.map((c) => hashRecoveryCode(recoveryKey, c)), user.email)
      const session = await sessions.upgrade(claims.sessionId, user.role, now())
      if (!session) throw new VigilError('VIGIL_ERR_AUTH_SESSION_INVALID')
      await record({
        audit: 'mfa.enrol',
        actor: user.email,
        subject: user.email,
        detail: { client_ip: caller.ip, method: 'totp', recovery_codes: codes.length, session_id: claims.sessionId },
        event: { action: 'auth.mfa', outcome: 'success', caller, sessionId: claims.sessionId, attrs: { change: 'enrol' } },
      })
      return { recovery_codes: codes, session }
    },

    async refresh(token, caller) {
      if (!token) throw new VigilError('VIGIL_ERR_AUTH_SESSION_INVALID')
      const outcome = await sessions.refresh(token, now(), async (email) => {
        const u = await activeUser(email)
        return u ? { role: u.role, enrolled: u.mfa_enrolled } : null
      })
      if (outcome.ok) {
        emitOwn([{ ts: new Date(now()).toISOString(), action: 'session.refresh', outcome: 'success', user_id: outcome.email, client_ip: caller.ip, session_id: outcome.session.sessionId }])
        return outcome.session
      }
      if (outcome.why === 'reused' && outcome.email) {
        await record({
          audit: 'session.reuse_detected',
          actor: 'vigil',
          subject: outcome.email,
          detail: { client_ip: caller.ip, session_id: outcome.sessionId, ended: 'family' },
          event: { action: 'session.revoke', outcome: 'success', caller, ...(outcome.sessionId ? { sessionId: outcome.sessionId } : {}), attrs: { why: 'refresh_token_reused' } },
        })
      }
      throw new VigilError('VIGIL_ERR_AUTH_SESSION_INVALID')
    },

    async logout(refreshToken, claims, caller) {
      let email = refreshToken ? await sessions.endByRefreshToken(refreshToken) : undefined
      const sessionId = claims?.sessionId
      if (claims) {
        await sessions.end(claims.sessionId)
        email ??= claims.email
      }
      if (!email) return
      await record({
        audit: 'auth.logout',
        actor: email,
        subject: email,
        detail: { client_ip: caller.ip },
        event: { action: 'auth.logout', outcome: 'success', caller, ...(sessionId ? { sessionId } : {}) },
      })
    },

    verifyAccess(token) {
      return sessions.verifyAccess(token, now())
    },

    async add(email, opts, by) {
      const added = await users.add(email, { role: opts.role, ...(opts.password !== undefined ? { password: opts.password } : {}), by })
      await record({
        audit: 'user.add',
        actor: by,
        subject: added.email,
        detail: { role: added.role, password: added.initial_password ? 'generated' : 'chosen' },
        event: { action: 'admin.config_change', outcome: 'success', attrs: { change: 'user.add', role: added.role } },
      })
      return added
    },

    async setRole(email, role, by) {
      const { user, previous } = await users.setRole(email, role, by)
      if (previous !== user.role) {
        await record({
          audit: 'user.set_role',
          actor: by,
          subject: user.email,
          detail: { from: previous, to: user.role },
          event: { action: 'admin.config_change', outcome: 'success', attrs: { change: 'user.set_role', from: previous, to: user.role } },
        })
      }
      return user
    },

    async disable(email, by) {
      const user = await users.disable(email, by)
      const ended = await sessions.endAll(user.email)
      await record({
        audit: 'user.disable',
        actor: by,
        subject: user.email,
        detail: { sessions_ended: ended },
        event: { action: 'admin.config_change', outcome: 'success', attrs: { change: 'user.disable', sessions_ended: String(ended) } },
      })
      return user
    },

    async revokeSessions(email, by) {
      const user = await users.require(email)
      const ended = await sessions.endAll(user.email)
      await record({
        audit: 'user.sessions_revoke',
        actor: by,
        subject: user.email,
        detail: { sessions_ended: ended },
        event: { action: 'session.revoke', outcome: 'success', attrs: { scope: 'all', sessions_ended: String(ended) } },
      })
      return { email: user.email, sessions_ended: ended }
    },

    async resetMfa(email, by) {
      const user = await users.resetMfa(email, by)
      const ended = await sessions.endAll(user.email)
      await record({
        audit: 'mfa.reset',
        actor: by,
        subject: user.email,
        detail: { sessions_ended: ended },
        event: { action: 'auth.mfa', outcome: 'success', attrs: { change: 'reset', sessions_ended: String(ended) } },
      })
      return user
    },

    async changePassword(claims, current, next, caller) {
      if (typeof current !== 'string' || typeof next !== 'string') throw new VigilError('VIGIL_ERR_API_BAD_REQUEST', 'current_password and new_password are required')
      await refuseIfLocked(claims.email, caller, 'auth.login')
      const user = await activeUser(claims.email)
      if (!user || !(await verifyPassword(user.password_hash, current))) {
        await failed(claims.email, caller, { action: 'auth.login', reason: 'bad_password', audit: 'auth.password_change.failure', why: 'wrong_current_password' })
        throw new VigilError('VIGIL_ERR_AUTH_BAD_CREDENTIALS')
      }
      checkPasswordStrength(next, user.email)
      await users.setPasswordHash(user.email, await hashPassword(next), user.email)
      // Whoever else held a session with the old password is out; this one stays.
      let ended = 0
      for (const id of await sessions.list(user.email)) {
        if (id === claims.sessionId) continue
        await sessions.end(id)
        ended += 1
      }
      await record({
        audit: 'user.password_change',
        actor: user.email,
        subject: user.email,
        detail: { client_ip: caller.ip, sessions_ended: ended },
        event: { action: 'admin.config_change', outcome: 'success', caller, sessionId: claims.sessionId, attrs: { change: 'user.password_change' } },
      })
      return { sessions_ended: ended }
    },
  }
  return people
}
