import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import Fastify, { type FastifyInstance } from 'fastify'
import { VigilError, isVigilError } from '@vigil/core'
import { startRespondHarness, type RespondHarness } from './test-support.js'
import { createControlLog, type ControlLog } from './control-log.js'
import { createAuditLog } from './audit-log.js'
import { createKillSwitchStore } from './killswitches.js'
import { killswitchesRoutes } from './killswitches-routes.js'
import { signedCursors } from './testing/signed-cursors.js'

let h: RespondHarness
let n = 0
let control: ControlLog
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
  for (const t of ['control_log', 'audit_log', 'killswitch_reset_requests']) await h.store.command(`TRUNCATE TABLE ${t}`)
  const keyPrefix = `${h.prefix}:${++n}:`
  control = createControlLog({ store: h.store, redis: h.redis, keyPrefix })
  const audit = createAuditLog({ store: h.store, redis: h.redis, keyPrefix })
  const killswitches = createKillSwitchStore({ store: h.store, control, audit })
  app = Fastify({ logger: false })
  app.addHook('onRequest', async (req) => {
    const id = req.headers['x-test-operator']
    ;(req as unknown as { operator: unknown }).operator = typeof id === 'string' ? { id, name: id, role: 'responder' } : null
  })
  app.setErrorHandler((err, _req, reply) => {
    const e = isVigilError(err) ? err : (err as { code?: string }).code?.startsWith('FST_ERR_CTP') ? new VigilError('VIGIL_ERR_API_MALFORMED_BODY') : new VigilError('VIGIL_ERR_INTERNAL')
    return reply.code(e.statusCode).send(e.toBody())
  })
  await app.register(killswitchesRoutes({ killswitches, cursors }))
})

const as = (who: string) => ({ 'x-test-operator': who })
const post = (url: string, body: unknown, who = 'tok_alice') =>
  app.inject({ method: 'POST', url, headers: { ...as(who), 'content-type': 'application/json' }, payload: typeof body === 'string' ? body : JSON.stringify(body) })
const get = (url: string) => app.inject({ method: 'GET', url, headers: as('tok_viewer') })
const code = (r: { json(): unknown }) => (r.json() as { error?: { code: string } }).error?.code

describe('/v1/killswitches', () => {
  it('trips (201), answers the existing switch for a tripped scope (200), and reads it back', async () => {
    const r = await post('/v1/killswitches', { scope: { type: 'venue', id: 'XLON' }, reason: 'venue outage' })
    expect(r.statusCode).toBe(201)
    const sw = r.json() as { id: string }
    expect(sw).toMatchObject({ id: expect.stringMatching(/^ks_/), scope: { type: 'venue', id: 'XLON' }, status: 'tripped', tripped_by: 'operator:tok_alice', reason: 'venue outage' })
    const again = await post('/v1/killswitches', { scope: { type: 'venue', id: 'XLON' }, reason: 'me too' }, 'tok_bob')
    expect([again.statusCode, (again.json() as { id: string }).id]).toEqual([200, sw.id])
    expect((await get(`/v1/killswitches/${sw.id}`)).json()).toEqual(sw)
    const global = await post('/v1/killswitches', { scope: { type: 'global' }, reason: 'stop everything' })
    expect([global.statusCode, (global.json() as { scope: unknown }).scope]).toEqual([201, { type: 'global', id: '*' }])
  })

  it('resets with four eyes: 202 for the first person, 409 for the same one, 200 for a second', async () => {
    const { id } = (await post('/v1/killswitches', { scope: { type: 'account', id: 'acc_7' }, reason: 'runaway' })).json() as { id: string }
    const first = await post(`/v1/killswitches/${id}/reset`, { reason: 'algo fixed' })
    expect(first.statusCode).toBe(202)
    expect(first.json()).toMatchObject({ status: 'reset_requested', killswitch: { id, status: 'tripped', reset_request: { by: 'operator:tok_alice', reason: 'algo fixed' } } })
    const same = await post(`/v1/killswitches/${id}/reset`, { reason: 'please' })
    expect([same.statusCode, code(same)]).toEqual([409, 'four_eyes_required'])
    const second = await post(`/v1/killswitches/${id}/reset`, { reason: 'checked the fix' }, 'tok_bob')
    expect(second.statusCode).toBe(200)
    expect(second.json()).toMatchObject({ id, status: 'reset', reset_by: 'operator:tok_bob', reset_reason: 'checked the fix' })
    const after = await post(`/v1/killswitches/${id}/reset`, { reason: 'again' }, 'tok_carol')
    expect([after.statusCode, code(after)]).toEqual([409, 'not_tripped'])
    expect(await control.version()).toBe(2)
  })

  it('refuses bad input with clear errors, never a 500', async () => {
    const cases: Array<[unknown, number, string]> = [
      [{ reason: 'r' }, 400, 'bad_scope'],
      [{ scope: 'global', reason: 'r' }, 400, 'bad_scope'],
      [{ scope: { type: 'moon', id: 'x' }, reason: 'r' }, 400, 'bad_scope'],
      [{ scope: { type: 'global', id: 'all' }, reason: 'r' }, 400, 'bad_scope'],
      [{ scope: { type: 'symbol', id: '' }, reason: 'r' }, 400, 'bad_scope'],
      [{ scope: { type: 'symbol', id: 'A'.repeat(129) }, reason: 'r' }, 400, 'bad_scope'],
      [{ scope: { type: 'symbol', id: 'AAPL' } }, 400, 'reason_required'],
      [{ scope: { type: 'symbol', id: 'AAPL' }, reason: 'x'.repeat(1001) }, 400, 'reason_required'],
      [{ scope: { type: 'symbol', id: 'AAPL' }, reason: 'r', force: true }, 400, 'bad_request'],
      ['[1,2]', 400, 'bad_request'],
      ['{"scope":', 400, 'malformed_body'],
    ]
    for (const [body, status, c] of cases) {
      const r = await post('/v1/killswitches', body)
      expect([JSON.stringify(body).slice(0, 50), r.statusCode, code(r)]).toEqual([JSON.stringify(body).slice(0, 50), status, c])
    }
    const unknown = await post('/v1/killswitches/ks_nope/reset', { reason: 'r' })
    expect([unknown.statusCode, code(unknown)]).toEqual([404, 'killswitch_not_found'])
    const noReason = await post('/v1/killswitches/ks_nope/reset', {})
    expect([noReason.statusCode, code(noReason)]).toEqual([400, 'reason_required'])
    const missing = await get('/v1/killswitches/ks_nope')
    expect([missing.statusCode, code(missing)]).toEqual([404, 'killswitch_not_found'])
    const anonymous = await app.inject({ method: 'POST', url: '/v1/killswitches', payload: { scope: { type: 'global', id: '*' }, reason: 'r' } })
    expect([anonymous.statusCode, code(anonymous)]).toEqual([401, 'unauthorized'])
    expect(await control.version()).toBe(0)
  })

  it('lists newest first with status, from/to and a signed cursor', async () => {
    const ids: string[] = []
    for (const sym of ['AAA', 'BBB', 'CCC']) {
      ids.push(((await post('/v1/killswitches', { scope: { type: 'symbol', id: sym }, reason: 'r' })).json() as { id: string }).id)
      await new Promise((r) => setTimeout(r, 3))
    }
    const p1 = (await get('/v1/killswitches?limit=2')).json() as { items: Array<{ id: string }>; next: string }
    expect(p1.items.map((s) => s.id)).toEqual([ids[2], ids[1]])
    const p2 = (await get(`/v1/killswitches?limit=2&cursor=${p1.next}`)).json() as { items: Array<{ id: string }>; next: null }
    expect(p2).toEqual({ items: [expect.objectContaining({ id: ids[0] })], next: null })
    expect(((await get('/v1/killswitches?status=reset')).json() as { items: unknown[] }).items).toEqual([])
    const future = new Date(Date.now() + 60_000).toISOString()
    expect(((await get(`/v1/killswitches?from=${future}`)).json() as { items: unknown[] }).items).toEqual([])
    expect(((await get(`/v1/killswitches?to=${future}`)).json() as { items: unknown[] }).items).toHaveLength(3)
    for (const q of ['status=open', 'limit=1001', 'to=tomorrow', 'cursor=AAAA', 'page=2']) {
      const r = await get(`/v1/killswitches?${q}`)
      expect([q, r.statusCode]).toEqual([q, 400])
    }
  })
})
