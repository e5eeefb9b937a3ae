import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { AlertStore, type Finding } from '@vigil/detect'
import { openTestStore, startTestApp, type TestApp, type TestStore } from './test-support.js'

let t: TestStore
let h: TestApp
let alerts: AlertStore

function finding(i: number, over: Partial<Finding> = {}): Finding {
  const at = Date.UTC(2026, 10, 24, 9, 0, i)
  return {
    rule: i % 2 ? 'auth.brute_force' : 'rate.abuse',
    severity: i % 3 === 0 ? 'critical' : 'high',
    score: 40 + i,
    entity: { type: 'api_key', id: `key-${i}` },
    api_key_id: `key-${i}`,
    account_id: `acct-${i % 2}`,
    firstSeenMs: at,
    lastSeenMs: at + 500,
    windowStartMs: at,
    count: 3,
    summary: `finding ${i}`,
    evidence: { value: 12, threshold: 10, sample_event_ids: [`e${i}`] },
    ...over,
  }
}

beforeAll(async () => {
  t = await openTestStore()
  h = await startTestApp(t)
  alerts = new AlertStore(t.store)
  for (let i = 0; i < 12; i++) await alerts.upsert(finding(i), 60_000)
})
afterAll(async () => {
  await h?.close()
  await t?.cleanup()
})

const as = (role: keyof TestApp['tokens']) => ({ authorization: `Bearer ${h.tokens[role]}` })

describe('GET /v1/alerts', () => {
  it('lists alerts newest first in the CONTRACT §4 shape', async () => {
    const res = await h.app.inject({ url: '/v1/alerts?limit=3', headers: as('viewer') })
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(body.items).toHaveLength(3)
    expect(body.items[0]).toMatchObject({
      rule: 'auth.brute_force',
      severity: 'high',
      status: 'open',
      entity: { type: 'api_key', id: 'key-11' },
      api_key_id: 'key-11',
      account_id: 'acct-1',
      first_seen: '2026-11-24T09:00:11Z',
      count: 3,
      summary: 'finding 11',
      evidence: { value: 12, threshold: 10, sample_event_ids: ['e11'] },
      incident_id: null,
    })
    for (const key of ['id', 'rule', 'severity', 'score', 'status', 'entity', 'api_key_id', 'account_id', 'client_ip', 'first_seen', 'last_seen', 'count', 'summary', 'evidence', 'incident_id']) {
      expect(body.items[0]).toHaveProperty(key)
    }
    expect(typeof body.next).toBe('string')
  })

  it('pages through everything with the cursor, no duplicates or gaps', async () => {
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const res = await h.app.inject({ url: `/v1/alerts?limit=5${cursor ? `&cursor=${cursor}` : ''}`, headers: as('viewer') })
      const body = res.json() as { items: Array<{ id: string }>; next: string | null }
      seen.push(...body.items.map((a) => a.id))
      cursor = body.next
    } while (cursor)
    expect(seen).toHaveLength(12)
    expect(new Set(seen).size).toBe(12)
  })

  it('filters by rule, severity, status, key, account and time', async () => {
    const q = async (qs: string) => (await h.app.inject({ url: `/v1/alerts?${qs}`, headers: as('viewer') })).json().items as Array<{ rule: string }>
    expect((await q('rule=rate.abuse')).every((a) => a.rule === 'rate.abuse')).toBe(true)
    expect(await q('rule=rate.abuse')).toHaveLength(6)
    expect(await q('severity=critical')).toHaveLength(4)
    expect(await q('api_key_id=key-3')).toHaveLength(1)
    expect(await q('account_id=acct-0')).toHaveLength(6)
    expect(await q('from=2026-11-24T09:00:10Z&to=2026-11-24T09:00:12Z')).toHaveLength(2)
    expect(await q('status=resolved')).toHaveLength(0)
  })

  it('refuses bad filters and tampered cursors with 400', async () => {
    for (const qs of ['severity=urgent', 'status=closed', 'limit=0', 'limit=5000', 'from=yesterday', 'nope=1', 'cursor=abc', 'rule=a&rule=b']) {
      const res = await h.app.inject({ url: `/v1/alerts?${qs}`, headers: as('viewer') })
      expect(res.statusCode, qs).toBe(400)
      expect(['bad_request', 'bad_cursor']).toContain(res.json().error.code)
    }
  })
})

describe('GET /v1/alerts/:id and POST /v1/alerts/:id/status', () => {
  it('shows one alert with its history and records a status change with note and who', async () => {
    const [first] = (await h.app.inject({ url: '/v1/alerts?limit=1', headers: as('viewer') })).json().items
    const post = await h.app.inject({
      method: 'POST',
      url: `/v1/alerts/${first.id}/status`,
      headers: { ...as('analyst'), 'content-type': 'application/json' },
      payload: { status: 'false_positive', note: 'desk load test' },
    })
    expect(post.statusCode).toBe(200)
    expect(post.json().status).toBe('false_positive')
    const one = (await h.app.inject({ url: `/v1/alerts/${first.id}`, headers: as('viewer') })).json()
    expect(one.status).toBe('false_positive')
    expect(one.history.map((c: { change: string; note: string; changed_by: string }) => [c.change, c.note, c.changed_by])).toEqual([
      ['open', '', 'detector'],
      ['status', 'desk load test', 'test analyst'],
    ])
  })

  it('answers 404 for an unknown alert, 400 for a bad status, 403 for a viewer', async () => {
    expect((await h.app.inject({ url: '/v1/alerts/al_nope', headers: as('viewer') })).statusCode).toBe(404)
    const [a] = (await h.app.inject({ url: '/v1/alerts?limit=1', headers: as('viewer') })).json().items
    const post = (role: keyof TestApp['tokens'], payload: unknown) =>
      h.app.inject({ method: 'POST', url: `/v1/alerts/${a.id}/status`, headers: { ...as(role), 'content-type': 'application/json' }, payload: payload as object })
    expect((await post('analyst', { status: 'open' })).statusCode).toBe(400)
    expect((await post('analyst', { status: 'resolved', note: 42 })).statusCode).toBe(400)
    expect((await post('analyst', { status: 'resolved', note: 'x'.repeat(4001) })).statusCode).toBe(400)
    expect((await post('viewer', { status: 'resolved' })).statusCode).toBe(403)
    expect((await post('regulator', { status: 'resolved' })).statusCode).toBe(403)
  })
})
