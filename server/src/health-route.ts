/**
 * `GET /v1/health` (CONTRACT §4), open to anyone: load balancers, uptime checks, `vigil up`
 * users.
 *
 * Always 200, with `status: "degraded"` in the body when a dependency is down. Vigil keeps
 * its promises while degraded (ingest spools and still answers 202), so taking the node out
 * of rotation would lose more than it saves; checks that want to page on degradation read
 * the body. Each probe is bounded so the answer comes within about a second even when a
 * dependency hangs. Nothing here names hosts, versions or errors.
 */
import type { FastifyPluginAsync } from 'fastify'
import type { Store } from '@vigil/core'
import type { Ingest } from '@vigil/ingest'

export interface HealthDeps {
  store: Pick<Store, 'ping'>
  redis: { ping(): Promise<unknown> }
  ingest: Pick<Ingest, 'status'>
}

export type Probe = 'ok' | 'down'

export interface Health {
  status: 'ok' | 'degraded'
  clickhouse: Probe
  redis: Probe
  ingest: { storage: 'ok' | 'spooling'; spoolBytes: number }
}

const PROBE_TIMEOUT_MS = 1_000

async function probe(check: () => Promise<unknown>, isUp: (v: unknown) => boolean): Promise<Probe> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<Probe>((resolve) => {
    timer = setTimeout(() => resolve('down'), PROBE_TIMEOUT_MS)
  })
  const result = (async (): Promise<Probe> => {
    try {
      return isUp(await check()) ? 'ok' : 'down'
    } catch {
      return 'down'
    }
  })()
  try {
    return await Promise.race([result, timeout])
  } finally {
    clearTimeout(timer)
  }
}

export async function checkHealth(deps: HealthDeps): Promise<Health> {
  const [clickhouse, redis] = await Promise.all([
    probe(() => deps.store.ping(), (v) => v === true),
    probe(() => deps.redis.ping(), (v) => v === 'PONG'),
  ])
  const ingest = deps.ingest.status()
  const healthy = clickhouse === 'ok' && redis === 'ok' && ingest.storage === 'ok'
  return { status: healthy ? 'ok' : 'degraded', clickhouse, redis, ingest: { storage: ingest.storage, spoolBytes: ingest.spoolBytes } }
}

export function healthRoutes(deps: HealthDeps): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/health', { config: { permission: 'public' } }, async (_request, reply) => {
      reply.header('cache-control', 'no-store')
      return checkHealth(deps)
    })
  }
}
