import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import Fastify, { type FastifyInstance } from 'fastify'
import { isVigilError, type Alert } from '@vigil/core'
import { startRespondHarness, type RespondHarness } from './test-support.js'
import { createAuditLog } from './audit-log.js'
import { createIncidentStore } from './incidents.js'
import { incidentsRoutes } from './incidents-routes.js'
import { signedCursors } from './testing/signed-cursors.js'
import type { IncidentStore } from './seams.js'

let h: RespondHarness
let incidents: IncidentStore
let app: FastifyInstance
const permissions = new Map<string, string>()

beforeAll(async () => {
  h = await startRespondHarness()
  const audit = createAuditLog({ store: h.store, redis: h.redis, keyPrefix: `${h.prefix}:audit:` })
  incidents = createIncidentStore({ store: h.store, redis: h.redis, audit, keyPrefix: `${h.prefix}:` })
  app = Fastify()
  app.addHook('onRoute', (r) => {
    permissions.set(`${String(r.method)} ${r.url}`, (r.config as { permission?: string } | undefined)?.permission ?? '')
  })
  // What the server's access hook does once a bearer token checked out.
  app.addHook('onRequest', async (req) => {
    const id = req.headers['x-test-operator']
    ;(req as unknown as { operator: unknown }).operator = typeof id === 'string' ? { id, name: 'Alice', role: 'responder' } : null
  })
  app.setErrorHandler((err, _req, reply) => {
    if (isVigilError(err)) return reply.code(err.statusCode).send(err.toBody())
    const status = (err as { statusCode?: number }).statusCode ?? 500
    return reply.code(status).send({ error: { code: 'other', message: (err as Error).message } })
  })
  await app.register(incidentsRoutes({ incidents, cursors: signedCursors() }))
  await app.ready()
})
afterAll(async () => {
  await app.close()
  await h.close()
})

function alert(over: Partial<Alert> = {}): Alert {
  const u = randomBytes(5).toString('hex')
  const now = new Date().toISOString()
  return {
    id: `al_${u}`,
    rule: 'auth.brute_force',
    severity: 'high',
    score: 0.8,
    status: 'open',
    entity: { type: 'api_key', id: `k_${u}` },
    api_key_id: `k_${u}`,
    account_id: null,
    client_ip: null,
    first_seen: now,
    last_seen: now,
    count: 1,
    summary: 's',
    evidence: {},
    incident_id: null,
    detected_at: now,
    event_received_at: null,
    ...over,
  }
}

const op = { 'x-test-operator': 'tok_alice' }
const open = async (over: Partial<Alert> = {}) => (await incidents.openForAlert(alert(over), { actor: 'playbook:pb', playbook: 'pb' })).incident

describe('/v1/incidents routes', () => {
  it('declare incidents:read and incidents:write', () => {
    expect(permissions.get('GET /v1/incidents')).toBe('incidents:read')
    expect(permissions.get('GET /v1/incidents/:id')).toBe('incidents:read')
    expect(permissions.get('POST /v1/incidents/:id/status')).toBe('incidents:write')
    expect(permissions.get('POST /v1/incidents/:id/notes')).toBe('incidents:write')
    expect(permissions.get('POST /v1/incidents')).toBe('incidents:write')
    expect(permissions.get('POST /v1/incidents/:id/alerts')).toBe('incidents:write')
  })

  it('GET /v1/incidents/:id answers the incident with its alerts and timeline', async () => {
    const inc = await open()
    const res = await app.inject({ method: 'GET', url: `/v1/incidents/${inc.id}`, headers: op })
    expect(res.statusCode).toBe(200)
    const body = res.json<{ id: string; alert_ids: string[]; timeline: Array<{ kind: string }>; opened_at: string }>()
    expect(body.id).toBe(inc.id)
    expect(body.alert_ids).toEqual(inc.alert_ids)
    expect(body.timeline.map((e) => e.kind)).toEqual(['opened'])
    expect(body.opened_at).toMatch(/Z$/)
    expect(body).not.toHaveProperty('alerts') // no alert reader given
  })

  it('GET /v1/incidents/:id with an alert reader also answers the alerts, in alert_ids order, leaving out unknown ids', async () => {
    const first = alert()
    const second = alert({ entity: first.entity, api_key_id: first.api_key_id })
    const notStored = alert({ entity: first.entity, api_key_id: first.api_key_id })
    const incident = (await incidents.openForAlert(first, { actor: 'playbook:pb', playbook: 'pb' })).incident
    for (const a of [second, notStored]) {
      expect((await incidents.openForAlert(a, { actor: 'playbook:pb', playbook: 'pb' })).incident.id).toBe(incident.id)
    }
    // What detect's alert store holds, in its own order; `notStored` is not there.
    const stored: Alert[] = [second, alert(), first]
    const asked: Array<readonly string[]> = []
    const withAlerts = Fastify()
    await withAlerts.register(
      incidentsRoutes({
        incidents,
        cursors: signedCursors(),
        alertsFor: async (ids) => {
          asked.push(ids)
          return stored.filter((a) => ids.includes(a.id))
        },
      }),
    )
    try {
      const res = await withAlerts.inject({ method: 'GET', url: `/v1/incidents/${incident.id}` })
      expect(res.statusCode).toBe(200)
      const body = res.json<{ alert_ids: string[]; alerts: Alert[] }>()
      expect([...body.alert_ids].sort()).toEqual([first.id, second.id, notStored.id].sort())
      expect(asked).toEqual([body.alert_ids])
      const byId = new Map([first, second].map((a) => [a.id, a]))
      expect(body.alerts).toEqual(body.alert_ids.filter((id) => id !== notStored.id).map((id) => byId.get(id)))
    } finally {
      await withAlerts.close()
    }
  })

  it('an unknown or malformed id is incident_not_found', async () => {
    for (const id of ['in_000000000000000000000000', 'nope', `in_${'a'.repeat(90)}`, "in_' OR 1=1 --"]) {
      const res = await app.inject({ method: 'GET', url: `/v1/incidents/${encodeURIComponent(id)}`, headers: op })
      expect(res.statusCode).toBe(404)
      expect(res.json().error.code).toBe('incident_not_found')
    }
    const res = await app.inject({ method: 'POST', url: '/v1/incidents/in_000000000000000000000000/status', headers: op, payload: { status: 'closed' } })
    expect(res.json().error.code).toBe('incident_not_found')
  })

  it('lists with filters and pages with a signed cursor', async () => {
    const key = `k_routes_${randomBytes(4).toString('hex')}`
    const made = []
    for (let i = 0; i < 3; i++) {
      made.push(await open({ api_key_id: key }))
      await new Promise((r) => setTimeout(r, 3))
    }
    const p1 = await app.inject({ method: 'GET', url: `/v1/incidents?api_key_id=${key}&limit=2`, headers: op })
    expect(p1.statusCode).toBe(200)
    const b1 = p1.json<{ items: Array<{ id: string }>; next: string | null }>()
    expect(b1.items.map((i) => i.id)).toEqual([made[2]!.id, made[1]!.id])
    expect(b1.next).toEqual(expect.any(String))
    const p2 = await app.inject({ method: 'GET', url: `/v1/incidents?api_key_id=${key}&limit=2&next=${b1.next}`, headers: op })
    const b2 = p2.json<{ items: Array<{ id: string }>; next: string | null }>()
    expect(b2.items.map((i) => i.id)).toEqual([made[0]!.id])
    expect(b2.next).toBeNull()
    const viaCursor = await app.inject({ method: 'GET', url: `/v1/incidents?api_key_id=${key}&limit=2&cursor=${b1.next}`, headers: op })
    expect(viaCursor.json().items.map((i: { id: string }) => i.id)).toEqual([made[0]!.id])

    await app.inject({ method: 'POST', url: `/v1/incidents/${made[0]!.id}/status`, headers: op, payload: { status: 'resolved' } })
    const resolved = await app.inject({ method: 'GET', url: `/v1/incidents?api_key_id=${key}&status=resolved&severity=high`, headers: op })
    expect(resolved.json().items.map((i: { id: string }) => i.id)).toEqual([made[0]!.id])
  })

  it('refuses bad list queries with clear 400s', async () => {
    const good = signedCursors().encode('incidents', ['2026-01-01T00:00:00Z', 'in_x'])
    const cases: Array<[string, string]> = [
      ['status=deleted', 'bad_request'],
      ['severity=extreme', 'bad_request'],
      ['limit=0', 'bad_request'],
      ['limit=1001', 'bad_request'],
      ['limit=1e2', 'bad_request'],
      ['from=yesterday', 'bad_request'],
      ['from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z', 'bad_request'],
      ['colour=red', 'bad_request'],
      ['status=open&status=closed', 'bad_request'],
      [`api_key_id=${'k'.repeat(300)}`, 'bad_request'],
      ['next=abc&cursor=abc', 'bad_request'],
      ['next=not-a-cursor', 'bad_cursor'],
      [`next=${good}`, 'bad_cursor'], // signed by another key: forged
    ]
    for (const [qs, code] of cases) {
      const res = await app.inject({ method: 'GET', url: `/v1/incidents?${qs}`, headers: op })
      expect(res.statusCode, qs).toBe(400)
      expect(res.json().error.code, qs).toBe(code)
    }
  })

  it('POST status changes the status as operator:<token id>, with a note', async () => {
    const inc = await open()
    const res = await app.inject({ method: 'POST', url: `/v1/incidents/${inc.id}/status`, headers: op, payload: { status: 'contained', note: 'key revoked by hand' } })
    expect(res.statusCode).toBe(200)
    const body = res.json<{ status: string; timeline: Array<{ kind: string; actor: string; detail: { note?: string } }> }>()
    expect(body.status).toBe('contained')
    expect(body.timeline.at(-1)).toMatchObject({ kind: 'status', actor: 'operator:tok_alice', detail: { note: 'key revoked by hand' } })
  })

  it('refuses bad status bodies with clear 400s', async () => {
    const inc = await open()
    const bodies: unknown[] = [
      {},
      { status: 'deleted' },
      { status: 42 },
      { status: 'closed', note: 7 },
      { status: 'closed', note: 'x'.repeat(4001) },
      { status: 'closed', extra: true },
      ['closed'],
    ]
    for (const payload of bodies) {
      const res = await app.inject({ method: 'POST', url: `/v1/incidents/${inc.id}/status`, headers: op, payload: payload as object })
      expect(res.statusCode, JSON.stringify(payload).slice(0, 60)).toBe(400)
      expect(res.json().error.code).toBe('bad_request')
    }
    const backwards = await app.inject({ method: 'POST', url: `/v1/incidents/${inc.id}/status`, headers: op, payload: { status: 'open' } })
    expect(backwards.statusCode).toBe(400)
    expect(backwards.json().error.message).toMatch(/open cannot become open/)
    const malformed = await app.inject({ method: 'POST', url: `/v1/incidents/${inc.id}/status`, headers: { ...op, 'content-type': 'application/json' }, payload: '{"status":' })
    expect(malformed.statusCode).toBe(400)
  })

  it('POST notes adds a masked note entry; empty or oversized notes are refused', async () => {
    const inc = await open()
    const secret = `sk_live_${randomBytes(16).toString('hex')}`
    const res = await app.inject({ method: 'POST', url: `/v1/incidents/${inc.id}/notes`, headers: op, payload: { note: `customer pasted ${secret} in a ticket` } })
    expect(res.statusCode).toBe(201)
    expect(res.body).not.toContain(secret)
    const entry = res.json<{ timeline: Array<{ kind: string; actor: string; detail: { note: string } }> }>().timeline.at(-1)
    expect(entry).toMatchObject({ kind: 'note', actor: 'operator:tok_alice' })
    expect(entry?.detail.note).toContain('customer pasted [masked:')

    for (const payload of [{}, { note: '' }, { note: '   ' }, { note: 5 }, { note: 'y'.repeat(4001) }, { note: 'ok', status: 'closed' }]) {
      const bad = await app.inject({ method: 'POST', url: `/v1/incidents/${inc.id}/notes`, headers: op, payload })
      expect(bad.statusCode, JSON.stringify(payload).slice(0, 60)).toBe(400)
    }
  })

  it('a write without an operator is refused', async () => {
    const inc = await open()
    const res = await app.inject({ method: 'POST', url: `/v1/incidents/${inc.id}/notes`, payload: { note: 'hi' } })
    expect(res.statusCode).toBe(401)
    expect((await incidents.get(inc.id))?.timeline.filter((e) => e.kind === 'note')).toHaveLength(0)
  })
})
