/**
 * The operator API's rate limit (issue 6 §4): `@fastify/rate-limit` on every route an
 * operator authenticates to, counted in Redis so every Vigil process behind a balancer
 * shares one budget per operator.
 *
 * Relied on by: operators and the dashboard (documented in the README, "Transport and
 * hardening"). What it promises:
 * - A budget of `max` requests per `windowSec` (fixed window) per operator, keyed by the
 *   identity the access check established (an API token's id, a person's session), and per
 *   client IP for a request that reached the limiter without one.
 * - Over budget: `429 rate_limited` in the usual error shape, with `Retry-After` in seconds.
 * - Only operator routes count. Public routes (health), `source` routes (ingest has its own
 *   per-source limiter, the control channel must never be throttled away from a guard, Slack's
 *   callbacks are signed) and unknown paths are never limited.
 * - The limiter runs after authentication (so one operator cannot spend another's budget) and
 *   before the body is read.
 * - Requests refused `401` on operator routes (a wrong, expired or missing token) never reach
 *   that limiter, so they are counted apart, per client IP, against the same budget: once an
 *   IP has spent it, its operator requests are answered 429 before any token is looked up,
 *   until the window ends. Guessing tokens then costs the store nothing. A credential this
 *   process accepted within the window still goes through, so a flood of bad tokens from an
 *   address operators share (a NAT, a proxy) does not lock out those already at work.
 * - Redis unreachable: requests go through (authentication still applies). Operators must be
 *   able to revoke keys during an outage more than they must be throttled.
 */
import { createHash } from 'node:crypto'
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify'
import type { Redis } from 'ioredis'
import { VigilError } from '@vigil/core'
import { routePermission } from './access-control.js'
import { isPermission } from './permissions.js'

export interface ApiRateLimitOptions {
  redis: Redis
  /** Requests per window per operator. @defaultValue VIGIL_API_RATE_LIMIT, `600` */
  max: number
  /** @defaultValue VIGIL_API_RATE_WINDOW, `60` */
  windowSec: number
  /** Redis key prefix; tests give each app its own. @defaultValue `vigil:ratelimit:api:` */
  prefix?: string
}

/** Who a request spends the budget of. Exported for tests. */
export function rateLimitKey(request: FastifyRequest): string {
  return request.operator ? `op:${request.operator.id}` : `ip:${request.ip}`
}

/** Bounds the memory of `RecentCredentials`; the oldest are forgotten first. */
const MAX_REMEMBERED = 10_000

const retryAfterHeader = (ttlMs: number) => ({ 'retry-after': String(Math.max(1, Math.ceil(ttlMs / 1000))) })

/**
 * Digests of `Authorization` values that passed the access check lately, in this process.
 * Digests, not tokens: no credential is kept in memory longer than its request.
 */
class RecentCredentials {
  private readonly until = new Map<string, number>()
  constructor(private readonly ttlMs: number) {}

  private digest(request: FastifyRequest): string | undefined {
    const value = request.headers.authorization
    return typeof value === 'string' && value !== '' ? createHash('sha256').update(value).digest('base64url') : undefined
  }

  add(request: FastifyRequest): void {
    const d = this.digest(request)
    if (d === undefined) return
    this.until.delete(d)
    if (this.until.size >= MAX_REMEMBERED) this.until.delete(this.until.keys().next().value as string)
    this.until.set(d, Date.now() + this.ttlMs)
  }

  has(request: FastifyRequest): boolean {
    const d = this.digest(request)
    return d !== undefined && (this.until.get(d) ?? 0) > Date.now()
  }
}

/** Route markers whose routes the operator limit never touches (see the header). */
function isOperatorRoute(permission: unknown): boolean {
  return isPermission(permission) && permission !== 'public' && permission !== 'source'
}

/**
 * Registers the plugin and puts its check on every operator route registered afterwards.
 * Call before any route, after `installAccessControl` is known to run first: its `onRequest`
 * is app-wide, and route-level hooks (this one) run after app-wide ones.
 */
export async function installApiRateLimit(app: FastifyInstance, opts: ApiRateLimitOptions): Promise<void> {
  await app.register(rateLimit, {
    // Applied below to operator routes only, never by the plugin to all of them.
    global: false,
    max: opts.max,
    timeWindow: opts.windowSec * 1000,
    redis: opts.redis,
    nameSpace: opts.prefix ?? 'vigil:ratelimit:api:',
    keyGenerator: rateLimitKey,
    skipOnError: true,
    errorResponseBuilder: (_request, context) => new VigilError('VIGIL_ERR_API_RATE_LIMITED', undefined, { headers: retryAfterHeader(context.ttl) }),
  })
  const limiter = app.rateLimit()
  const refusals = app.createRateLimit({ keyGenerator: (request) => `refused:ip:${request.ip}` })
  const accepted = new RecentCredentials(opts.windowSec * 1000)
  // App-wide and installed before the access check, so it runs first.
  app.addHook('onRequest', async (request) => {
    if (!isOperatorRoute(routePermission(request))) return
    const spent = await refusals(request, { increment: false })
    if (!spent.isAllowed && spent.remaining === 0 && !accepted.has(request)) throw new VigilError('VIGIL_ERR_API_RATE_LIMITED', undefined, { headers: retryAfterHeader(spent.ttl) })
  })
  app.addHook('onResponse', async (request, reply) => {
    if (reply.statusCode === 401 && isOperatorRoute(routePermission(request))) await refusals(request)
  })
  app.addHook('onRoute', (route: RouteOptions) => {
    if (!isOperatorRoute((route.config as { permission?: unknown } | undefined)?.permission)) return
    const existing = route.onRequest
    const remember = async (request: FastifyRequest) => {
      if (request.operator) accepted.add(request)
    }
    route.onRequest = [...(existing === undefined ? [] : Array.isArray(existing) ? existing : [existing]), limiter, remember] as RouteOptions['onRequest']
  })
}

