/**
 * The HTTP app: one fastify instance carrying every workspace's routes behind one access
 * check and one error shape. Built, not started: `runtime.ts` listens, tests `inject()`.
 *
 * Relied on by: `runtime.ts` and the route tests; domain packages through `plugins` (each
 * route must declare `config.permission`, see access-control.ts).
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { VigilError, type Store } from '@vigil/core'
import type { Ingest } from '@vigil/ingest'
import { installAccessControl, routePermission, type RouteEntry, type SessionVerifier } from './access-control.js'
import { createCursorCodec, ephemeralCursorKey } from './cursor.js'
import { frameworkErrorReply, installErrorReplies } from './error-reply.js'
import { installHardening, serverOptions, type HardeningOptions } from './hardening.js'
import { eventsRoutes } from './events-route.js'
import { healthRoutes, type HealthDeps } from './health-route.js'
import { instrumentRequests, metricsRoutes } from './metrics-route.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route with its declared permission, as registered (HEAD twins included). */
    vigilRoutes: readonly RouteEntry[]
  }
}

export interface AppDeps {
  /** Core's masking logger; request logs never carry bodies, query strings or credentials. */
  logger: Logger
  store: Store
  redis: HealthDeps['redis']
  ingest: Pick<Ingest, 'routes' | 'status'>
  /** Served at `/metrics`; ingest registers into the same one. */
  metrics: Registry
  /** Signs list cursors. @defaultValue a random key: cursors then die with the process */
  cursorKey?: Buffer
  /** More routes (domain packages, tests). Each must declare `config.permission`. */
  plugins?: readonly FastifyPluginAsync[]
  /** Largest operator API body; ingest sets its own. @defaultValue `1048576` */
  bodyLimit?: number
  /** Checks people's session access tokens (people.ts). @defaultValue none: only CLI tokens are accepted */
  sessions?: SessionVerifier
  /** TLS, mTLS and the operator rate limit (hardening.ts). Security headers are always on. @defaultValue plain HTTP, no rate limit */
  hardening?: HardeningOptions
}

/** Seconds a client should wait before retrying while this node shuts down. */
const SHUTDOWN_RETRY_AFTER = '5'

/**
 * Builds and readies the app. Rejects when a route declares no valid permission, so a
 * forgotten declaration stops start-up instead of opening a route.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...serverOptions(deps.hardening),
    // Typed as fastify's base logger so plugins written against plain FastifyInstance fit.
    loggerInstance: deps.logger as FastifyBaseLogger,
    // Logged below instead, with the route pattern rather than the raw URL.
    logController: new LogController({ disableRequestLogging: true }),
    // fastify's own 503 body is not ours; the hook below answers in the contract's shape.
    return503OnClosing: false,
    frameworkErrors: frameworkErrorReply,
    bodyLimit: deps.bodyLimit ?? 1024 * 1024,
    // Path parameters carry ids up to 128 characters (api_key_id); fastify's default is 100.
    maxParamLength: 256,
  }) as FastifyInstance
  // First: headers on every answer, certificate and rate checks before anything else runs.
  await installHardening(app, deps.hardening)

  let closing = false
  app.addHook('preClose', async () => {
    closing = true
  })
  app.addHook('onRequest', async () => {
    if (closing) {
      throw new VigilError('VIGIL_ERR_API_UNAVAILABLE', 'shutting down', {
        headers: { 'retry-after': SHUTDOWN_RETRY_AFTER, connection: 'close' },
      })
    }
  })

  installErrorReplies(app)
  const routes = installAccessControl(app, { store: deps.store, sessions: deps.sessions })
  app.decorate('vigilRoutes', routes)
  instrumentRequests(app, deps.metrics)
  app.addHook('onResponse', async (request, reply) => {
    const permission = routePermission(request)
    // Probes, scrapes and accepted ingest batches are counted in /metrics; a line for each
    // would bury the requests a person acts on.
    const quiet =
      permission === 'public' || request.routeOptions.url === '/metrics' || (permission === 'source' && reply.statusCode < 400)
    request.log[quiet ? 'debug' : 'info'](
      {
        method: request.method,
        route: request.routeOptions.url ?? null,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
        operator: request.operator?.id,
      },
      'request',
    )
  })

  const cursors = createCursorCodec(deps.cursorKey ?? ephemeralCursorKey())
  await app.register(healthRoutes({ store: deps.store, redis: deps.redis, ingest: deps.ingest }))
  await app.register(metricsRoutes(deps.metrics))
  await app.register(eventsRoutes({ store: deps.store, cursors }))
  await app.register(deps.ingest.routes)
  for (const plugin of deps.plugins ?? []) await app.register(plugin)
  await app.ready()
  return app
}
