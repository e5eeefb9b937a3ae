/**
 * `GET /metrics` (CONTRACT §4): Prometheus text for whoever holds `metrics:read`.
 * One registry per process, shared with ingest and later domain packages, so a single
 * scrape sees everything.
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { routePermission } from './access-control.js'

/** A registry with Node's default process metrics, prefixed `vigil_`. */
export function createMetricsRegistry(): Registry {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'vigil_' })
  return registry
}

export function metricsRoutes(registry: Registry): FastifyPluginAsync {
  return async (app) => {
    app.get('/metrics', { config: { permission: 'metrics:read' } }, async (_request, reply) => {
      reply.type(registry.contentType)
      return registry.metrics()
    })
  }
}

function metric<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make()
}

/**
 * Request counts and latencies by route pattern (never the raw URL: its query string and
 * ids would explode the label set and could carry data worth keeping out of metrics).
 */
export function instrumentRequests(app: FastifyInstance, registry: Registry): void {
  const registers = [registry]
  const requests = metric(
    registry,
    'vigil_http_requests_total',
    () => new Counter({ name: 'vigil_http_requests_total', help: 'HTTP requests answered', labelNames: ['method', 'route', 'status'], registers }),
  )
  const duration = metric(
    registry,
    'vigil_http_request_duration_seconds',
    () =>
      new Histogram({
        name: 'vigil_http_request_duration_seconds',
        help: 'Time to answer an HTTP request',
        labelNames: ['method', 'route'],
        buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        registers,
      }),
  )
  app.addHook('onResponse', async (request, reply) => {
    const route = routePermission(request) === undefined ? 'unmatched' : request.routeOptions.url ?? 'unmatched'
    requests.inc({ method: request.method, route, status: String(reply.statusCode) })
    duration.observe({ method: request.method, route }, reply.elapsedTime / 1000)
  })
}
