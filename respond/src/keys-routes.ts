/**
 * `/v1/keys/:api_key_id` (CONTRACT §4): a key's state, and revoking or restoring it by hand.
 * Routes declare their permission; the server's access hook enforces it and sets
 * `request.operator`, whose token id becomes the actor (`operator:<id>`) in the control log
 * and the audit chain.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { VigilError } from '@vigil/core'
import type { KeyStateStore } from './seams.js'

/** `operator:<token id>` of the caller; refuses a request the access hook did not identify. */
export function operatorActorOf(req: FastifyRequest): string {
  const op = (req as FastifyRequest & { operator?: { id?: unknown } | null }).operator
  if (!op || typeof op.id !== 'string' || op.id === '') throw new VigilError('VIGIL_ERR_AUTH_REQUIRED')
  return `operator:${op.id}`
}

/** The `{reason}` body of a change: missing reason → reason_required, anything else odd → bad_request. */
export function reasonBody(body: unknown, allowed: readonly string[] = ['reason']): Record<string, unknown> & { reason: unknown } {
  if (body === undefined || body === null) throw new VigilError('VIGIL_ERR_REASON_REQUIRED')
  if (typeof body !== 'object' || Array.isArray(body)) throw new VigilError('VIGIL_ERR_API_BAD_REQUEST', 'the body must be a JSON object')
  for (const k of Object.keys(body)) {
    if (!allowed.includes(k)) throw new VigilError('VIGIL_ERR_API_BAD_REQUEST', `unknown field "${k.slice(0, 32)}"`)
  }
  const b = body as Record<string, unknown>
  if (b.reason === undefined) throw new VigilError('VIGIL_ERR_REASON_REQUIRED')
  return b as Record<string, unknown> & { reason: unknown }
}

export function keysRoutes(deps: { keys: KeyStateStore }): FastifyPluginAsync {
  const { keys } = deps
  return async (app) => {
    app.get('/v1/keys/:api_key_id', { config: { permission: 'keys:read' } }, async (req) => {
      const { api_key_id: id } = req.params as { api_key_id: string }
      return keys.get(id)
    })

    app.post('/v1/keys/:api_key_id/revoke', { config: { permission: 'keys:write' } }, async (req) => {
      const { api_key_id: id } = req.params as { api_key_id: string }
      const actor = operatorActorOf(req)
      const { reason } = reasonBody(req.body)
      const r = await keys.revoke(id, { reason: reason as string, actor })
      if (!r.changed) throw new VigilError('VIGIL_ERR_KEY_ALREADY_REVOKED')
      return r.value
    })

    app.post('/v1/keys/:api_key_id/restore', { config: { permission: 'keys:write' } }, async (req) => {
      const { api_key_id: id } = req.params as { api_key_id: string }
      const actor = operatorActorOf(req)
      const { reason } = reasonBody(req.body)
      const r = await keys.restore(id, { reason: reason as string, actor })
      if (!r.changed) throw new VigilError('VIGIL_ERR_KEY_NOT_REVOKED')
      return r.value
    })
  }
}
