/**
 * RBAC on every route, enforced once (DESIGN: "route permissions are declared in route
 * config and enforced once by server").
 *
 * Relied on by: every plugin registered into the app. A route declares
 * `config: { permission }` with a value from `PERMISSIONS`; a route without one makes
 * start-up fail, so nothing is ever reachable by accident. `public` routes are open,
 * `source` routes authenticate their caller themselves (HMAC), all others need
 * `Authorization: Bearer <token>` of a role that `can()` the permission: a CLI token
 * (`vgt_…`, tokens.ts) or a person's session access token (a JWT, sessions.ts). A session
 * whose person has not enrolled TOTP reaches only routes declaring `config.enrolment: true`.
 */
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify'
import { VigilError, type Store } from '@vigil/core'
import { can, isPermission, type Permission } from './permissions.js'
import { isRedisOutage, type SessionClaims } from './sessions.js'
import { verifyToken, type Operator } from './tokens.js'

export interface RouteEntry {
  method: string
  url: string
  permission: Permission
}

/** Who a request speaks for: a CLI token's operator, or a person's session (then `session` is set and `id` is the email). */
export interface RequestOperator extends Operator {
  session?: SessionClaims
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who the bearer token speaks for; null on public and source routes. */
    operator: RequestOperator | null
  }
}

/** What checks people's session access tokens (people.ts); absent: only CLI tokens are accepted. */
export interface SessionVerifier {
  verifyAccess(token: string): Promise<SessionClaims | null>
}

/** True when a route stays open to a session that has not enrolled its second factor yet. */
function openDuringEnrolment(request: FastifyRequest): boolean {
  return (request.routeOptions.config as { enrolment?: unknown } | undefined)?.enrolment === true
}

const CLI_TOKEN_PREFIX = 'vgt_'

/** The permission a matched route declared; undefined for the not-found handler. */
export function routePermission(request: FastifyRequest): Permission | undefined {
  const permission = (request.routeOptions.config as { permission?: unknown } | undefined)?.permission
  return isPermission(permission) ? permission : undefined
}

const BEARER = /^Bearer[ ]+([^\s]+)[ ]*$/i

// A missing or bad token must say how to authenticate (RFC 6750 §3).
const challenge = { 'www-authenticate': 'Bearer realm="vigil"' }

/**
 * Installs the startup check (`onRoute`) and the per-request check (`onRequest`, before
 * the body is read, so an unauthenticated caller cannot make us parse anything).
 * Must be called before any route or plugin is registered. Returns the live route table.
 */
export function installAccessControl(app: FastifyInstance, deps: { store: Store; sessions?: SessionVerifier | undefined }): RouteEntry[] {
  const routes: RouteEntry[] = []
  app.decorateRequest('operator', null)

  app.addHook('onRoute', (route: RouteOptions) => {
    const permission = (route.config as { permission?: unknown } | undefined)?.permission
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    if (!isPermission(permission)) {
      throw new VigilError(
        'VIGIL_ERR_INTERNAL',
        `route ${methods.join(',')} ${route.url} declares no valid config.permission (got ${JSON.stringify(permission) ?? 'nothing'})`,
      )
    }
    for (const method of methods) routes.push({ method, url: route.url, permission })
  })

  app.addHook('onRequest', async (request) => {
    const permission = routePermission(request)
    // Unmatched requests go on to the not-found handler, which reveals nothing.
    if (permission === undefined || permission === 'public' || permission === 'source') return
    const header = request.headers.authorization
    const match = typeof header === 'string' ? BEARER.exec(header) : null
    if (!match) throw new VigilError('VIGIL_ERR_AUTH_REQUIRED', undefined, { headers: challenge })
    const token = match[1] as string
    let operator: RequestOperator | null
    if (token.startsWith(CLI_TOKEN_PREFIX) || !deps.sessions) {
      operator = await verifyToken(deps.store, token)
    } else {
      // A person's session: the role is the one the access token was minted with (at sign-in
      // or the last refresh), and its family must still be alive (logout, sign-out-everywhere).
      const session = await deps.sessions.verifyAccess(token).catch((err: unknown) => {
        throw isRedisOutage(err) ? new VigilError('VIGIL_ERR_REDIS_UNAVAILABLE', undefined, { cause: err }) : err
      })
      operator = session ? { id: session.email, role: session.role, name: session.email, session } : null
    }
    if (!operator) throw new VigilError('VIGIL_ERR_AUTH_REQUIRED', undefined, { headers: challenge })
    // Until a person has enrolled a second factor, enrolling is all they may do (issue 6).
    if (operator.session?.stage === 'enrol' && !openDuringEnrolment(request)) throw new VigilError('VIGIL_ERR_AUTH_MFA_ENROLMENT_REQUIRED')
    if (!can(operator.role, permission)) throw new VigilError('VIGIL_ERR_AUTH_FORBIDDEN')
    request.operator = operator
  })

  return routes
}
