/**
 * Sign-in and people routes of the operator API (CONTRACT §4 "the dashboard's session").
 *
 * Relied on by: the dashboard (issue 7), which signs in with `POST /v1/auth/login` then
 * `POST /v1/auth/mfa` (or enrols first), keeps the access token in memory, and calls
 * `POST /v1/auth/refresh` before it expires; the refresh token travels only in the
 * `vigil_refresh` cookie (httpOnly, Secure, SameSite=Strict, path `/v1/auth`), never in a body.
 * Admins manage people through `/v1/users*` (permission `users:admin`).
 * Every route declares its permission; the enrolment routes also declare `enrolment: true`,
 * the only ones a session without a second factor may reach (access-control.ts).
 */
import cookie from '@fastify/cookie'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { VigilError } from '@vigil/core'
import { permissionsOf } from './permissions.js'
import type { Caller, People } from './people.js'
import { isRedisOutage, type IssuedSession } from './sessions.js'

export const REFRESH_COOKIE = 'vigil_refresh'
const COOKIE_PATH = '/v1/auth'

const str = (max: number) => ({ type: 'string', minLength: 1, maxLength: max }) as const

function caller(request: FastifyRequest): Caller {
  const ua = request.headers['user-agent']
  return { ip: request.ip, userAgent: typeof ua === 'string' ? ua : undefined }
}

function actorOf(request: FastifyRequest): string {
  const op = request.operator
  return op?.session ? op.session.email : `operator:${op?.id ?? 'unknown'}`
}

export function authRoutes(deps: { people: People; absoluteTimeoutSec: number }): FastifyPluginAsync {
  const { people } = deps

  function sendSession(reply: FastifyReply, session: IssuedSession, extra: Record<string, unknown> = {}) {
    reply.setCookie(REFRESH_COOKIE, session.refresh_token, {
      httpOnly: true,
      secure: true,
      sameSite: 'strict',
      path: COOKIE_PATH,
      maxAge: deps.absoluteTimeoutSec,
    })
    // Tokens must not sit in any cache between us and the browser.
    reply.header('cache-control', 'no-store')
    return { ...extra, access_token: session.access_token, token_type: 'Bearer', expires_in: session.expires_in }
  }

  const clearCookie = (reply: FastifyReply) => reply.clearCookie(REFRESH_COOKIE, { path: COOKIE_PATH, httpOnly: true, secure: true, sameSite: 'strict' })

  return async function plugin(app: FastifyInstance) {
    await app.register(cookie)
    // Thrown on to the app's error reply (one shape for every route), named when it is Redis.
    app.setErrorHandler((err) => {
      throw isRedisOutage(err) ? new VigilError('VIGIL_ERR_REDIS_UNAVAILABLE', undefined, { cause: err }) : err
    })

    app.post(
      '/v1/auth/login',
      {
        config: { permission: 'public' },
        schema: { body: { type: 'object', required: ['email', 'password'], properties: { email: str(254), password: str(1024) } } },
      },
      async (request, reply) => {
        const body = request.body as { email: string; password: string }
        const result = await people.login(body.email, body.password, caller(request))
        reply.header('cache-control', 'no-store')
        if (result.next === 'mfa') return { next: 'mfa', mfa_token: result.mfa_token, expires_in: result.expires_in }
        return sendSession(reply, result.session, { next: 'enrol' })
      },
    )

    app.post(
      '/v1/auth/mfa',
      {
        config: { permission: 'public' },
        schema: { body: { type: 'object', required: ['mfa_token'], properties: { mfa_token: str(128), code: str(16), recovery_code: str(64) } } },
      },
      async (request, reply) => {
        const body = request.body as { mfa_token: string; code?: string; recovery_code?: string }
        const session = await people.verifyMfa(body, caller(request))
        return sendSession(reply, session)
      },
    )

    app.post('/v1/auth/refresh', { config: { permission: 'public' } }, async (request, reply) => {
      try {
        const session = await people.refresh(request.cookies[REFRESH_COOKIE], caller(request))
        return sendSession(reply, session)
      } catch (err) {
        clearCookie(reply)
        throw err
      }
    })

    app.post('/v1/auth/logout', { config: { permission: 'public' } }, async (request, reply) => {
      // Public so an expired access token can still sign out; what is ended is what the
      // caller proves it holds: the current refresh token, or a live access token.
      const auth = request.headers.authorization
      const bearer = typeof auth === 'string' ? /^Bearer[ ]+([^\s]+)[ ]*$/i.exec(auth)?.[1] : undefined
      const claims = bearer ? await people.verifyAccess(bearer) : null
      await people.logout(request.cookies[REFRESH_COOKIE], claims, caller(request))
      clearCookie(reply)
      return reply.code(204).send()
    })

    app.get('/v1/auth/me', { config: { permission: 'authenticated', enrolment: true } }, async (request) => {
      const op = request.operator!
      if (!op.session) return { kind: 'token', id: op.id, name: op.name, role: op.role, permissions: permissionsOf(op.role) }
      const user = await people.users.require(op.session.email)
      return {
        kind: 'person',
        email: user.email,
        role: op.session.role,
        mfa_enrolled: user.mfa_enrolled,
        stage: op.session.stage,
        recovery_codes_left: user.recovery_codes_left,
        permissions: op.session.stage === 'full' ? permissionsOf(op.session.role) : [],
      }
    })

    app.post('/v1/auth/mfa/enrol', { config: { permission: 'authenticated', enrolment: true } }, async (request, reply) => {
      const session = request.operator?.session
      if (!session) throw new VigilError('VIGIL_ERR_AUTH_NOT_A_PERSON')
      reply.header('cache-control', 'no-store')
      return people.startEnrolment(session, caller(request))
    })

    app.post(
      '/v1/auth/mfa/enrol/confirm',
      {
        config: { permission: 'authenticated', enrolment: true },
        schema: { body: { type: 'object', required: ['code'], properties: { code: str(16) } } },
      },
      async (request, reply) => {
        const session = request.operator?.session
        if (!session) throw new VigilError('VIGIL_ERR_AUTH_NOT_A_PERSON')
        const confirmed = await people.confirmEnrolment(session, (request.body as { code: string }).code, caller(request))
        return sendSession(reply, confirmed.session, { recovery_codes: confirmed.recovery_codes })
      },
    )

    app.post(
      '/v1/auth/password',
      {
        config: { permission: 'authenticated' },
        schema: { body: { type: 'object', required: ['current_password', 'new_password'], properties: { current_password: str(1024), new_password: str(1024) } } },
      },
      async (request) => {
        const session = request.operator?.session
        if (!session) throw new VigilError('VIGIL_ERR_AUTH_NOT_A_PERSON')
        const body = request.body as { current_password: string; new_password: string }
        return people.changePassword(session, body.current_password, body.new_password, caller(request))
      },
    )

    app.get('/v1/users', { config: { permission: 'users:admin' } }, async () => ({ items: await people.users.list(), next: null }))

    app.post(
      '/v1/users',
      {
        config: { permission: 'users:admin' },
        schema: { body: { type: 'object', required: ['email', 'role'], properties: { email: str(254), role: str(32), password: str(1024) } } },
      },
      async (request, reply) => {
        const body = request.body as { email: string; role: string; password?: string }
        const added = await people.add(body.email, { role: body.role, ...(body.password !== undefined ? { password: body.password } : {}) }, actorOf(request))
        reply.header('cache-control', 'no-store')
        return reply.code(201).send(added)
      },
    )

    app.post(
      '/v1/users/:email/role',
      {
        config: { permission: 'users:admin' },
        schema: { body: { type: 'object', required: ['role'], properties: { role: str(32) } } },
      },
      async (request) => people.setRole((request.params as { email: string }).email, (request.body as { role: string }).role, actorOf(request)),
    )

    app.post('/v1/users/:email/disable', { config: { permission: 'users:admin' } }, async (request) =>
      people.disable((request.params as { email: string }).email, actorOf(request)),
    )

    app.post('/v1/users/:email/sessions/revoke', { config: { permission: 'users:admin' } }, async (request) =>
      people.revokeSessions((request.params as { email: string }).email, actorOf(request)),
    )

    app.post('/v1/users/:email/mfa/reset', { config: { permission: 'users:admin' } }, async (request) =>
      people.resetMfa((request.params as { email: string }).email, actorOf(request)),
    )
  }
}
