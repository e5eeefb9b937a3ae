/**
 * Every error answer of the HTTP API is `{"error": {"code", "message"}}` built from the
 * registry in core (CONTRACT §2, §4), whatever failed: a VigilError thrown on purpose,
 * fastify's own parsers and validators, an unknown route, or a bug.
 *
 * Relied on by: API clients that branch on `error.code`, and by whoever reads the logs —
 * a bug is answered `internal_error` with no detail, and logged (masked) instead. A 500
 * answer says only its error id (`Internal error: error id err_…`), never the error's own
 * words or a stack; the log line with the cause carries the same `error_id`.
 */
import { randomBytes } from 'node:crypto'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { VigilError, isVigilError, type ErrorName } from '@vigil/core'
import { routePermission } from './access-control.js'

/** fastify's own errors → ours. The pairs differ by route: ingest has its own wording. */
const FASTIFY_ERRORS: Record<string, { api: ErrorName; source: ErrorName }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { api: 'VIGIL_ERR_API_PAYLOAD_TOO_LARGE', source: 'VIGIL_ERR_INGEST_PAYLOAD_TOO_LARGE' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { api: 'VIGIL_ERR_API_UNSUPPORTED_MEDIA_TYPE', source: 'VIGIL_ERR_INGEST_UNSUPPORTED_MEDIA_TYPE' },
  FST_ERR_CTP_INVALID_JSON_BODY: { api: 'VIGIL_ERR_API_MALFORMED_BODY', source: 'VIGIL_ERR_INGEST_MALFORMED_BODY' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { api: 'VIGIL_ERR_API_MALFORMED_BODY', source: 'VIGIL_ERR_INGEST_MALFORMED_BODY' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { api: 'VIGIL_ERR_API_MALFORMED_BODY', source: 'VIGIL_ERR_INGEST_MALFORMED_BODY' },
}

function isFastifyError(err: unknown): err is FastifyError {
  return err instanceof Error && typeof (err as FastifyError).code === 'string'
}

/**
 * The public face of any error. Only VigilErrors and fastify's request errors are shown
 * for what they are; anything else is a bug and becomes a bare `internal_error`.
 */
export function toVigilError(err: unknown, request?: FastifyRequest): VigilError {
  if (isVigilError(err)) return err
  if (!isFastifyError(err)) return new VigilError('VIGIL_ERR_INTERNAL', undefined, { cause: err })
  if (Array.isArray(err.validation)) {
    // ajv's messages name the field and the rule from the schema, never the value sent.
    const where = err.validationContext ?? 'request'
    const first = err.validation[0]
    const field = first?.instancePath ? first.instancePath.replace(/^\//, '').replaceAll('/', '.') : ''
    const detail = `${where}${field ? `.${field}` : ''} ${first?.message ?? 'is not valid'}`
    return new VigilError('VIGIL_ERR_API_BAD_REQUEST', detail.slice(0, 200), { cause: err })
  }
  const mapped = FASTIFY_ERRORS[err.code]
  if (mapped) {
    const onSourceRoute = request !== undefined && routePermission(request) === 'source'
    return new VigilError(onSourceRoute ? mapped.source : mapped.api, undefined, { cause: err })
  }
  // Other client-side failures fastify detects (bad URL encoding, an aborted upload…).
  if (err.code.startsWith('FST_') && typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return new VigilError('VIGIL_ERR_API_BAD_REQUEST', undefined, { cause: err })
  }
  return new VigilError('VIGIL_ERR_INTERNAL', undefined, { cause: err })
}

export function sendVigilError(reply: FastifyReply, err: VigilError): FastifyReply {
  return reply.code(err.statusCode).headers(err.headers).type('application/json; charset=utf-8').send(err.toBody())
}

/** Installs the error handler, the not-found handler and the framework-error hook. */
export function installErrorReplies(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, request, reply) => {
    const vigil = toVigilError(err, request)
    if (vigil.statusCode === 500) {
      // Whatever a 500 carries (a detail written for the log, a cause's message that may hold
      // a secret) stays in the log; the caller gets an id to quote to whoever reads it.
      const errorId = `err_${randomBytes(8).toString('hex')}`
      request.log.error({ err: vigil.cause ?? vigil, code: vigil.code, error_id: errorId }, 'request failed')
      return sendVigilError(reply, new VigilError(vigil.errName, `error id ${errorId}`, { headers: { ...vigil.headers } }))
    }
    if (vigil.statusCode > 500) {
      // The logger masks secrets; the cause (a bug, a store failure) is only ever logged.
      request.log.error({ err: vigil.cause ?? vigil, code: vigil.code }, 'request failed')
    } else {
      // The response line (app.ts) already records the status; the code is for debugging.
      request.log.debug({ code: vigil.code }, 'request refused')
    }
    return sendVigilError(reply, vigil)
  })

  // A path that exists under other methods answers 405 with `Allow` (RFC 9110 §15.5.6), so
  // a client that used the wrong method learns that instead of "no such resource".
  let matchers: Array<{ method: string; re: RegExp }> | undefined
  app.setNotFoundHandler((request, reply) => {
    const routes = (request.server as { vigilRoutes?: ReadonlyArray<{ method: string; url: string }> }).vigilRoutes ?? []
    matchers ??= routes.map((r) => ({ method: r.method, re: routePattern(r.url) }))
    const pathname = request.url.split('?')[0] ?? ''
    const allowed = [...new Set(matchers.filter((m) => m.re.test(pathname)).map((m) => m.method))]
    if (allowed.length > 0 && !allowed.includes(request.method)) {
      return sendVigilError(reply, new VigilError('VIGIL_ERR_API_METHOD_NOT_ALLOWED', undefined, { headers: { allow: allowed.sort().join(', ') } }))
    }
    return sendVigilError(reply, new VigilError('VIGIL_ERR_API_NOT_FOUND'))
  })
}

/** A fastify route URL (`/v1/alerts/:id`, `/static/*`) as a whole-path regular expression. */
export function routePattern(url: string): RegExp {
  const parts = url.split('/').map((seg) => {
    if (seg === '*') return '.*'
    if (seg.startsWith(':')) return '[^/]+'
    return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  })
  return new RegExp(`^${parts.join('/')}/?$`)
}

/** For fastify's `frameworkErrors` option: errors found before routing (a malformed URL). */
export function frameworkErrorReply(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  // No hook runs on this path, so the security headers (security-headers.ts) are set here.
  const securityHeaders = (request.server as { securityHeaders?: Record<string, string> }).securityHeaders
  void sendVigilError(securityHeaders ? reply.headers(securityHeaders) : reply, toVigilError(err))
}
