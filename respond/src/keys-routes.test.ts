import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import Fastify, { type FastifyInstance } from 'fastify'
import { VigilError, isVigilError } from '@vigil/core'
import { startRespondHarness, type RespondHarness } from './test-support.js'
import { createControlLog, type ControlLog } from './control-log.js'
import { createAuditLog, type AuditLogStore } from './audit-log.js'
import { createKeyStateStore } from './key-states.js'
import { keysRoutes } from './keys-routes.js'
import { auditRoutes } from './audit-routes.js'
import { signedCursors } from './testing/signed-cursors.js'

let h: RespondHarness
let n = 0
let control: ControlLog
let audit: AuditLogStore
let app: FastifyInstance

const cursors = signedCursors()

beforeAll(async () => {
  h = await startRespondHarness()
})
afterAll(async () => {
  await app.close()
  await control.close()
  await h.close()
})
beforeEach(async () => {
  if (app) await app.close()
  if (control) await control.close()
  for (const t of ['control_log', 'audit_log']) await h.store.command(`TRUNCATE TABLE ${t}`)
  const keyPrefix = `${h.prefix}:${++n}:`
  control = createControlLog({ store: h.store, redis: h.redis, keyPrefix })
  audit = createAuditLog({ store: h.store, redis: h.redis, keyPrefix })
  const keys = createKeyStateStore({ store: h.store, control, audit })
  app = Fastify({ logger: false })
  // The server's access hook, reduced to what these routes read: who the operator is.
  app.addHook('onRequest', async (req) => {
    const id = req.headers['x-test-operator']
    ;(req as unknown as { operator: unknown }).operator = typeof id === 'string' ? { id, name: id, role: 'responder' } : null
  })
  app.setErrorHandler((err, _req, reply) => {
    const e = isVigilError(err) ? err : (err as { code?: string }).code?.startsWith('FST_ERR_CTP') ? new VigilError('VIGIL_ERR_API_MALFORMED_BODY') : new VigilError('VIGIL_ERR_INTERNAL')
    return reply.code(e.statusCode).send(e.toBody())
  })
  await app.register(keysRoutes({ keys }))
  await app.register(auditRoutes({ audit, cursors }))
})

const as = (who: string) => ({ 'x-test-operator': who })
const post = (url: string, body: unknown, who = 'tok_alice') =>
  app.inject({ method: 'POST', url, headers: { ...as(who), ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) }) })
const code = (r: { json(): unknown }) => (r.json() as { error?: { code: string } }).error?.code

describe('/v1/keys', () => {
  it('revokes, answers 409 already_revoked the second time, restores, answers 409 not_revoked', async () => {
    expect((await app.inject({ method: 'GET', url: '/v1/keys/k_1', headers: as('tok_alice') })).json()).toEqual({
      api_key_id: 'k_1',
      status: 'active',
      revoked_at: null,
      reason: null,
      incident_id: null,
    })
    const r = await post('/v1/keys/k_1/revoke', { reason: 'leaked in a paste' })
    expect(r.statusCode).toBe(200)
    expect(r.json()).toMatchObject({ api_key_id: 'k_1', status: 'revoked', reason: 'leaked in a paste', revoked_at: expect.stringMatching(/Z$/) })
    const again = await post('/v1/keys/k_1/revoke', { reason: 'again' })
    expect([again.statusCode, code(again)]).toEqual([409, 'already_revoked'])
    expect((await app.inject({ method: 'GET', url: '/v1/keys/k_1', headers: as('tok_bob') })).json()).toMatchObject({ status: 'revoked' })
    const restored = await post('/v1/keys/k_1/restore', { reason: 'rotated' }, 'tok_bob')
    expect([restored.statusCode, restored.json()]).toEqual([200, { api_key_id: 'k_1', status: 'active', revoked_at: null, reason: null, incident_id: null }])
    const notRevoked = await post('/v1/keys/k_1/restore', { reason: 'again' })
    expect([notRevoked.statusCode, code(notRevoked)]).toEqual([409, 'not_revoked'])
    const entries = await audit.list({ limit: 10 })
    expect(entries.map((e) => [e.action, e.actor])).toEqual([
      ['key.restore', 'operator:tok_bob'],
      ['key.revoke', 'operator:tok_alice'],
    ])
    expect(await control.version()).toBe(2)
  })

  it('refuses bad input with clear errors, never a 500', async () => {
    const cases: Array<[unknown, number, string]> = [
      [undefined, 400, 'reason_required'],
      [{}, 400, 'reason_required'],
      [{ reason: '' }, 400, 'reason_required'],
      [{ reason: 'x'.repeat(1001) }, 400, 'reason_required'],
      [{ reason: 42 }, 400, 'reason_required'],
      [{ reason: 'ok', extra: 1 }, 400, 'bad_request'],
      [[{ reason: 'ok' }], 400, 'bad_request'],
      ['"just a string"', 400, 'bad_request'],
      ['{"reason": ', 400, 'malformed_body'],
    ]
    for (const [body, status, c] of cases) {
      const r = await post('/v1/keys/k_1/revoke', body)
      expect([JSON.stringify(body)?.slice(0, 40), r.statusCode, code(r)]).toEqual([JSON.stringify(body)?.slice(0, 40), status, c])
    }
    const badId = await post(`/v1/keys/${encodeURIComponent('k\u0001x')}/revoke`, { reason: 'r' })
    expect([badId.statusCode, code(badId)]).toEqual([400, 'bad_api_key_id'])
    const getBad = await app.inject({ method: 'GET', url: `/v1/keys/${encodeURIComponent('k\nx')}`, headers: as('tok_alice') })
    expect([getBad.statusCode, code(getBad)]).toEqual([400, 'bad_api_key_id'])
    const anonymous = await app.inject({ method: 'POST', url: '/v1/keys/k_1/revoke', payload: { reason: 'r' } })
    expect([anonymous.statusCode, code(anonymous)]).toEqual([401, 'unauthorized'])
    expect(await control.version()).toBe(0)
  })

  it('declares the permissions the server enforces', async () => {
    const perms = new Map<string, unknown>()
    const probe = Fastify({ logger: false })
    probe.addHook('onRoute', (r) => {
      perms.set(`${String(r.method)} ${r.url}`, (r.config as { permission?: unknown } | undefined)?.permission)
    })
    await probe.register(keysRoutes({ keys: createKeyStateStore({ store: h.store, control, audit }) }))
    await probe.register(auditRoutes({ audit, cursors }))
    await probe.ready()
    expect(Object.fromEntries(perms)).toMatchObject({
      'GET /v1/keys/:api_key_id': 'keys:read',
      'POST /v1/keys/:api_key_id/revoke': 'keys:write',
      'POST /v1/keys/:api_key_id/restore': 'keys:write',
      'GET /v1/audit': 'audit:read',
      'GET /v1/audit/verify': 'audit:read',
    })
    await probe.close()
  })
})

describe('/v1/audit', () => {
  it('lists newest first with a cursor, filters, and verifies', async () => {
    for (let i = 1; i <= 5; i++) await post(`/v1/keys/k_${i}/revoke`, { reason: `r${i}` })
    const p1 = await app.inject({ method: 'GET', url: '/v1/audit?limit=2', headers: as('tok_alice') })
    const b1 = p1.json() as { items: Array<{ seq: number }>; next: string }
    expect(b1.items.map((e) => e.seq)).toEqual([5, 4])
    const p2 = (await app.inject({ method: 'GET', url: `/v1/audit?limit=2&cursor=${b1.next}`, headers: as('tok_alice') })).json() as { items: Array<{ seq: number }> }
    expect(p2.items.map((e) => e.seq)).toEqual([3, 2])
    const bySubject = (await app.inject({ method: 'GET', url: '/v1/audit?subject=k_3', headers: as('tok_alice') })).json() as { items: Array<{ seq: number }>; next: null }
    expect(bySubject).toEqual({ items: [expect.objectContaining({ seq: 3, subject: 'k_3', action: 'key.revoke' })], next: null })
    const v = await app.inject({ method: 'GET', url: '/v1/audit/verify', headers: as('tok_alice') })
    expect(v.json()).toMatchObject({ ok: true, rows: 5, problems: [] })
    for (const q of ['limit=0', 'limit=abc', 'from=yesterday', 'cursor=forged', 'bogus=1', 'limit=1&limit=2']) {
      const r = await app.inject({ method: 'GET', url: `/v1/audit?${q}`, headers: as('tok_alice') })
      expect([q, r.statusCode]).toEqual([q, 400])
    }
  })
})
