/**
 * POST /v1/incidents and POST /v1/incidents/:id/alerts through the whole app: real alerts in
 * detect's store, respond's incidents, the alert's incident_id set through the server's
 * wiring, the timeline and the audit chain naming who did it; closing with a resolution.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { AlertStore, type Finding } from '@vigil/detect'
import { openTestStore, startTestApp, type TestApp, type TestStore } from './test-support.js'

let t: TestStore
let h: TestApp
let alerts: AlertStore

beforeAll(async () => {
  t = await openTestStore()
  h = await startTestApp(t)
  alerts = new AlertStore(t.store)
})
afterAll(async () => {
  await h?.close()
  await t?.cleanup()
})

let n = 0
async function newAlert(over: Partial<Finding> = {}) {
  n += 1
  const at = Date.now() - 120_000 + n
  const f: Finding = {
    rule: 'auth.brute_force',
    severity: 'high',
    score: 50,
    entity: { type: 'api_key', id: `inc-key-${n}` },
    api_key_id: `inc-key-${n}`,
    account_id: 'acct-i',
    firstSeenMs: at,
    lastSeenMs: at + 100,
    windowStartMs: at,
    count: 2,
    summary: `incident finding ${n}`,
    evidence: { value: 5, threshold: 3 },
    ...over,
  }
  return (await alerts.upsert(f, 60_000)).alert
}

const post = (url: string, body: unknown, role: keyof TestApp['tokens'] = 'analyst') =>
  h.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${h.tokens[role]}`, 'content-type': 'application/json' }, payload: JSON.stringify(body) })
const get = (url: string, role: keyof TestApp['tokens'] = 'viewer') => h.app.inject({ url, headers: { authorization: `Bearer ${h.tokens[role]}` } })
const code = (res: { json(): unknown }) => (res.json() as { error?: { code?: string } }).error?.code

interface IncidentBody {
  id: string
  title: string
  status: string
  alert_ids: string[]
  alerts: Array<{ id: string; incident_id: string | null }>
  timeline: Array<{ kind: string; actor: string; alert_id: string | null; outcome: string | null; detail: Record<string, unknown> }>
}

async function auditOf(subject: string) {
  await h.respond.audit.idle()
  return h.respond.audit.list({ subject, limit: 50 })
}

describe('POST /v1/incidents', () => {
  it('opens an incident from an alert: 201, the alert attached and showing it, timeline and audit name the analyst', async () => {
    const alert = await newAlert()
    const res = await post('/v1/incidents', { alert_id: alert.id, title: 'Brute force on a trading key' })
    expect(res.statusCode).toBe(201)
    const inc = res.json() as IncidentBody
    expect(inc).toMatchObject({ title: 'Brute force on a trading key', status: 'open', alert_ids: [alert.id] })
    expect(inc.alerts.map((a) => a.id)).toEqual([alert.id])
    expect(inc.timeline[0]).toMatchObject({ kind: 'opened', alert_id: alert.id, actor: expect.stringMatching(/^operator:/) })

    const shown = (await get(`/v1/alerts/${alert.id}`)).json() as { incident_id: string | null }
    expect(shown.incident_id).toBe(inc.id)
    expect((await alerts.get(alert.id))?.incident_id).toBe(inc.id)

    const audit = await auditOf(inc.id)
    expect(audit.map((r) => r.action)).toContain('incident.open')
    expect(audit.find((r) => r.action === 'incident.open')).toMatchObject({ actor: inc.timeline[0]?.actor, detail: { alert_id: alert.id } })
  })

  it('refuses an alert already in an incident (409 alert_in_incident) and an unknown one (404 alert_not_found)', async () => {
    const alert = await newAlert()
    expect((await post('/v1/incidents', { alert_id: alert.id })).statusCode).toBe(201)
    const again = await post('/v1/incidents', { alert_id: alert.id })
    expect([again.statusCode, code(again)]).toEqual([409, 'alert_in_incident'])
    const unknown = await post('/v1/incidents', { alert_id: 'al_000000000000000000000000' })
    expect([unknown.statusCode, code(unknown)]).toEqual([404, 'alert_not_found'])
  })

  it('names a default title and refuses bad bodies with 400', async () => {
    const alert = await newAlert()
    const res = await post('/v1/incidents', { alert_id: alert.id })
    expect(res.statusCode).toBe(201)
    expect((res.json() as IncidentBody).title).toContain('auth.brute_force')
    for (const body of [{}, { alert_id: 7 }, { alert_id: 'has spaces' }, { alert_id: alert.id, title: '' }, { alert_id: alert.id, title: 'x'.repeat(301) }, { alert_id: alert.id, extra: 1 }, []]) {
      const bad = await post('/v1/incidents', body)
      expect([bad.statusCode, code(bad)], JSON.stringify(body)).toEqual([400, 'bad_request'])
    }
  })

  it('is refused to a viewer', async () => {
    const alert = await newAlert()
    expect((await post('/v1/incidents', { alert_id: alert.id }, 'viewer')).statusCode).toBe(403)
    expect((await alerts.get(alert.id))?.incident_id).toBeNull()
  })
})

describe('POST /v1/incidents/:id/alerts', () => {
  it('attaches an alert: 200, the alert shows the incident, a timeline entry and an audit entry name the analyst; again changes nothing', async () => {
    const first = await newAlert()
    const inc = (await post('/v1/incidents', { alert_id: first.id })).json() as IncidentBody
    const second = await newAlert({ severity: 'critical' })
    const res = await post(`/v1/incidents/${inc.id}/alerts`, { alert_id: second.id }, 'responder')
    expect(res.statusCode).toBe(200)
    const after = res.json() as IncidentBody
    expect(after.alert_ids).toEqual([first.id, second.id])
    expect(after.alerts.map((a) => a.id)).toEqual([first.id, second.id])
    const entry = after.timeline.find((e) => e.kind === 'alert_attached' && e.alert_id === second.id)
    expect(entry?.actor).toMatch(/^operator:/)
    expect(entry?.outcome).toBe('severity_raised')
    expect((await alerts.get(second.id))?.incident_id).toBe(inc.id)
    expect((await auditOf(inc.id)).filter((r) => r.action === 'incident.alert_attach').map((r) => r.detail.alert_id)).toEqual([second.id])

    const again = await post(`/v1/incidents/${inc.id}/alerts`, { alert_id: second.id })
    expect(again.statusCode).toBe(200)
    expect((again.json() as IncidentBody).timeline.length).toBe(after.timeline.length)
    expect((await auditOf(inc.id)).filter((r) => r.action === 'incident.alert_attach')).toHaveLength(1)
  })

  it('refuses an alert on another incident (409), an unknown incident or alert (404), a bad body (400)', async () => {
    const a = await newAlert()
    const b = await newAlert()
    const incA = (await post('/v1/incidents', { alert_id: a.id })).json() as IncidentBody
    const incB = (await post('/v1/incidents', { alert_id: b.id })).json() as IncidentBody
    const clash = await post(`/v1/incidents/${incB.id}/alerts`, { alert_id: a.id })
    expect([clash.statusCode, code(clash)]).toEqual([409, 'alert_in_incident'])
    expect((await alerts.get(a.id))?.incident_id).toBe(incA.id)

    const noIncident = await post(`/v1/incidents/in_${'0'.repeat(24)}/alerts`, { alert_id: a.id })
    expect([noIncident.statusCode, code(noIncident)]).toEqual([404, 'incident_not_found'])
    const malformed = await post('/v1/incidents/not-an-id/alerts', { alert_id: a.id })
    expect([malformed.statusCode, code(malformed)]).toEqual([404, 'incident_not_found'])
    const noAlert = await post(`/v1/incidents/${incA.id}/alerts`, { alert_id: 'al_ffffffffffffffffffffffff' })
    expect([noAlert.statusCode, code(noAlert)]).toEqual([404, 'alert_not_found'])
    const bad = await post(`/v1/incidents/${incA.id}/alerts`, { alert: a.id })
    expect([bad.statusCode, code(bad)]).toEqual([400, 'bad_request'])
  })
})

describe('closing an incident with a resolution', () => {
  it('records the resolution in the status entry of the timeline and in the audit chain', async () => {
    const inc = (await post('/v1/incidents', { alert_id: (await newAlert()).id })).json() as IncidentBody
    const res = await post(`/v1/incidents/${inc.id}/status`, { status: 'closed', note: 'done', resolution: 'false positive: a load test from the QA desk' })
    expect(res.statusCode).toBe(200)
    const closed = res.json() as IncidentBody
    expect(closed.status).toBe('closed')
    expect(closed.timeline.at(-1)).toMatchObject({ kind: 'status', outcome: 'closed', detail: { to: 'closed', note: 'done', resolution: 'false positive: a load test from the QA desk' } })
    const audit = (await auditOf(inc.id)).find((r) => r.action === 'incident.status')
    expect(audit?.detail).toMatchObject({ to: 'closed', resolution: 'false positive: a load test from the QA desk' })
  })

  it('takes no resolution with another status, nor an empty one; without one it closes as before', async () => {
    const inc = (await post('/v1/incidents', { alert_id: (await newAlert()).id })).json() as IncidentBody
    const contained = await post(`/v1/incidents/${inc.id}/status`, { status: 'contained', resolution: 'x' })
    expect([contained.statusCode, code(contained)]).toEqual([400, 'bad_request'])
    const empty = await post(`/v1/incidents/${inc.id}/status`, { status: 'closed', resolution: ' ' })
    expect([empty.statusCode, code(empty)]).toEqual([400, 'bad_request'])
    const plain = await post(`/v1/incidents/${inc.id}/status`, { status: 'closed' })
    expect([plain.statusCode, (plain.json() as IncidentBody).status]).toEqual([200, 'closed'])
  })
})
