/**
 * `/v1/keys/:api_key_id` (CONTRACT §4): a key's state, and revoking or restoring it by hand.
 * Routes declare their permission; the server's access hook enforces it and sets
 * `request.operator`, whose token id becomes the actor (`operator:<id>`) in the control log
 * and the audit chain.
 */
import type { FastifyPluginAsync } from 'fastify'
import { VigilError } from '@vigil/core'
import type { KeyStateStore } from './seams.js'
import { operatorActor, reasonBody } from './list-query.js'

export function keysRoutes(deps: { keys: KeyStateStore }): FastifyPluginAsync {
  const { keys } = deps
  return async (app) => {
    app.get('/v1/keys/:api_key_id', { config: { permission: 'keys:read' } }, async (req) => {
      const { api_key_id: id } = req.params as { api_key_id: string }
      return keys.get(id)
    })

    app.post('/v1/keys/:api_key_id/revoke', { config: { permission: 'keys:write' } }, async (req) => {
      const { api_key_id: id } = req.params as { api_key_id: string }
      const actor = operatorActor(req)
      const { reason } = reasonBody(req.body)
      const r = await keys.revoke(id, { reason: reason as string, actor })
      if (!r.changed) throw new VigilError('VIGIL_ERR_KEY_ALREADY_REVOKED')
      return r.value
    })

    app.post('/v1/keys/:api_key_id/restore', { config: { permission: 'keys:write' } }, async (req) => {
      const { api_key_id: id } = req.params as { api_key_id: string }
      const actor = operatorActor(req)
      const { reason } = reasonBody(req.body)
      const r = await keys.restore(id, { reason: reason as string, actor })
      if (!r.changed) throw new VigilError('VIGIL_ERR_KEY_NOT_REVOKED')
      return r.value
    })
  }
}
