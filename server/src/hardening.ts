/**
 * Everything that hardens the HTTP app, wired in one place for `app.ts`: the listener's TLS
 * options, the security headers, the client-certificate check on machine routes, and the
 * operator API's rate limit. Each lives in its own module; this one only orders them.
 *
 * Relied on by: `buildApp` (installs it first, before the access check and any route) and
 * `runtime.ts` (builds the options from the config).
 */
import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import type { VigilConfig } from '@vigil/core'
import { installApiRateLimit, type ApiRateLimitOptions } from './api-rate-limit.js'
import { installSecurityHeaders } from './security-headers.js'
import { installClientCertCheck, tlsServerOptions, type TlsServerOptions } from './transport.js'

export interface HardeningOptions {
  /** HTTPS listener options (`tlsServerOptions`); absent: plain HTTP, loopback only. */
  tls?: TlsServerOptions
  /** The operator API's limit; absent: not limited (apps built by tests that do not test it). */
  rateLimit?: ApiRateLimitOptions
}

/**
 * The options `vigil up` runs with, in two steps: the TLS files are checked at once (throws
 * `config_invalid` as `tlsServerOptions` does, before anything has started), the rate limit
 * is added once Redis is up.
 */
export function hardeningFromConfig(config: Pick<VigilConfig, 'host' | 'tls' | 'apiRateLimit'>): (redis: Redis) => HardeningOptions {
  const tls = tlsServerOptions(config)
  return (redis) => ({
    ...(tls ? { tls } : {}),
    rateLimit: { redis, max: config.apiRateLimit.max, windowSec: config.apiRateLimit.windowSec },
  })
}

/**
 * The Fastify constructor options that depend on hardening: `https` when on TLS. Typed loosely
 * on purpose: with `https`, fastify's types name a different server class, while the app is
 * used through the same `FastifyInstance` interface either way.
 */
export function serverOptions(opts: HardeningOptions | undefined): Record<string, unknown> {
  return opts?.tls ? { https: opts.tls } : {}
}

/**
 * Installs the hooks. Must run before any other hook or route of the app: headers go on
 * every answer, and certificate and rate checks must be in place for every route.
 */
export async function installHardening(app: FastifyInstance, opts: HardeningOptions | undefined): Promise<void> {
  await installSecurityHeaders(app, { tls: opts?.tls !== undefined })
  installClientCertCheck(app, opts?.tls)
  if (opts?.rateLimit) await installApiRateLimit(app, opts.rateLimit)
}
