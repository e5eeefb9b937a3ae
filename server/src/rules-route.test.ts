import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { AlertStore, loadRules, RULE_FIRES_DAYS, type Finding } from '@vigil/detect'
import { openTestStore, startTestApp, type TestApp, type TestStore } from './test-support.js'
import { ROLES } from './permissions.js'

let t: TestStore
let h: TestApp
const DAY = 86_400_000
const today = Math.floor(Date.now() / DAY) * DAY

function finding(rule: string, entity: string, atMs: number): Finding {
  return {
    rule,
    severity: 'high',
    score: 50,
    entity: { type: 'api_key', id: entity },
    api_key_id: entity,
    firstSeenMs: atMs,
    lastSeenMs: atMs + 1000,
    windowStartMs: atMs,
    count: 2,
    summary: `${rule} on ${entity}`,
    evidence: { sample_event_ids: ['e1'] },
  }
}

beforeAll(async () => {
  t = await openTestStore()
  h = await startTestApp(t)
  const alerts = new AlertStore(t.store)
  // auth.brute_force: today, yesterday, and 20 days ago (outside the 14 days, inside the total).
  await alerts.upsert(finding('auth.brute_force', 'k1', today + 3_600_000), 60_000)
  await alerts.upsert(finding('auth.brute_force', 'k2', today - DAY + 3_600_000), 60_000)
  const old = await alerts.upsert(finding('auth.brute_force', 'k3', today - 20 * DAY), 60_000)
  await alerts.setStatus(old.alert.id, 'resolved', 'done', 'test')
  // A repeat of k1 later today: still one fire, last_fired moves.
  await alerts.upsert({ ...finding('auth.brute_force', 'k1', today + 3_600_000), lastSeenMs: today + 3_700_000 }, 3_600_000)
  // rate.abuse: one marked false positive, one acknowledged.
  const fp = await alerts.upsert(finding('rate.abuse', 'k4', today - 2 * DAY), 60_000)
  await alerts.setStatus(fp.alert.id, 'false_positive', 'load test', 'test')
  const ack = await alerts.upsert(finding('rate.abuse', 'k5', today - 3 * DAY), 60_000)
  await alerts.setStatus(ack.alert.id, 'acknowledged', '', 'test')
})
afterAll(async () => {
  await h?.close()
  await t?.cleanup()
})

const as = (role: keyof TestApp['tokens']) => ({ authorization: `Bearer ${h.tokens[role]}` })
const post = (id: string, body: unknown, role: keyof TestApp['tokens'] = 'admin') =>
  h.app.inject({
    method: 'POST',
    url: `/v1/rules/${id}/enabled`,
    headers: { ...as(role), 'content-type': 'application/json' },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  })
const code = (r: { json(): unknown }) => (r.json() as { error?: { code: string } }).error?.code

interface Item {
  id: string
  enabled: boolean
  fires_per_day: Array<{ day: string; count: number }>
  fires_total: number
  last_fired: string | null
  false_positive_marks: number
  open_alerts: number
  last_change: { enabled: boolean; reason: string; actor: string; at: string } | null
}
const list = async (role: keyof TestApp['tokens'] = 'viewer'): Promise<Item[]> => {
  const res = await h.app.inject({ url: '/v1/rules', headers: as(role) })
  expect(res.statusCode).toBe(200)
  const body = res.json() as { items: Item[]; next: null }
  expect(body.next).toBeNull()
  return body.items
}

describe('GET /v1/rules', () => {
  it('lists every loaded rule with its file fields', async () => {
    const items = await list()
    const rules = loadRules()
    expect(items.map((i) => i.id)).toEqual(rules.map((r) => r.id).sort())
    const bf = rules.find((r) => r.id === 'auth.brute_force')!
    expect(items.find((i) => i.id === 'auth.brute_force')).toMatchObject({
      title: bf.name,
      description: bf.description,
      area: 'auth',
      severity: bf.severity,
      enabled: true,
      last_change: null,
      triage: bf.triage,
      false_positives: bf.false_positives,
      modified: bf.modified,
    })
  })

  it('counts fires, false-positive marks and open alerts as ClickHouse does', async () => {
    const items = await list()
    const days = Array.from({ length: RULE_FIRES_DAYS }, (_, i) => new Date(today - (RULE_FIRES_DAYS - 1 - i) * DAY).toISOString().slice(0, 10))
    const daily = await t.store.query<{ rule: string; d: string; n: string }>(
      "SELECT rule, toString(toDate(first_seen)) AS d, toString(uniqExact(id)) AS n FROM alert_changes WHERE change = 'open' GROUP BY rule, d",
    )
    const per = await t.store.query<{ id: string; r: string; st: string; ls: string; fp: number }>(
      "SELECT id, argMax(rule, version) AS r, argMax(status, version) AS st, toString(max(last_seen)) AS ls, max(status = 'false_positive') AS fp FROM alert_changes GROUP BY id",
    )
    for (const item of items) {
      const mine = per.filter((p) => p.r === item.id)
      expect(item.fires_per_day.map((d) => d.day), item.id).toEqual(days)
      expect(item.fires_per_day.map((d) => d.count), item.id).toEqual(days.map((d) => Number(daily.find((r) => r.rule === item.id && r.d === d)?.n ?? 0)))
      expect(item.fires_total, item.id).toBe(mine.length)
      expect(item.false_positive_marks, item.id).toBe(mine.filter((p) => Number(p.fp) === 1).length)
      expect(item.open_alerts, item.id).toBe(mine.filter((p) => ['open', 'acknowledged'].includes(p.st)).length)
      const newest = mine.map((p) => p.ls).sort().pop()
      expect(item.last_fired, item.id).toBe(newest === undefined ? null : `${newest.replace(' ', 'T').replace(/\.?0+$/, '')}Z`)
    }
    // And the numbers the fixtures above make.
    const bf = items.find((i) => i.id === 'auth.brute_force')!
    expect([bf.fires_total, bf.fires_per_day.reduce((n, d) => n + d.count, 0), bf.open_alerts, bf.false_positive_marks]).toEqual([3, 2, 2, 0])
    expect(bf.fires_per_day.at(-1)).toEqual({ day: days.at(-1), count: 1 })
    expect(bf.last_fired).toBe(new Date(today + 3_700_000).toISOString().replace('.000Z', 'Z'))
    const ra = items.find((i) => i.id === 'rate.abuse')!
    expect([ra.fires_total, ra.open_alerts, ra.false_positive_marks]).toEqual([2, 1, 1])
    expect(items.find((i) => i.id === 'clock.skew')).toMatchObject({ fires_total: 0, last_fired: null, open_alerts: 0, false_positive_marks: 0 })
  })

  it('is for alert readers: a regulator gets 403', async () => {
    const res = await h.app.inject({ url: '/v1/rules', headers: as('regulator') })
    expect([res.statusCode, code(res)]).toEqual([403, 'forbidden'])
    const bad = await h.app.inject({ url: '/v1/rules?limit=5', headers: as('viewer') })
    expect([bad.statusCode, code(bad)]).toEqual([400, 'bad_request'])
  })
})

describe('POST /v1/rules/:id/enabled', () => {
  it('is for admins only', async () => {
    for (const role of ROLES.filter((r) => r !== 'admin')) {
      const res = await post('rate.abuse', { enabled: false, reason: 'noisy' }, role)
      expect([res.statusCode, code(res)], role).toEqual([403, 'forbidden'])
    }
    expect((await list()).find((i) => i.id === 'rate.abuse')?.enabled).toBe(true)
  })

  it('refuses bad bodies and unknown rules with stable codes', async () => {
    const bodies: unknown[] = [
      {},
      [],
      { enabled: 'no', reason: 'x' },
      { enabled: false },
      { enabled: false, reason: '' },
      { enabled: false, reason: '   ' },
      { enabled: false, reason: 'x'.repeat(1001) },
      { enabled: false, reason: 7 },
      { enabled: false, reason: 'ok', extra: 1 },
    ]
    for (const body of bodies) {
      const res = await post('rate.abuse', body)
      expect([res.statusCode, code(res)], JSON.stringify(body).slice(0, 60)).toEqual([400, 'bad_rule_change'])
    }
    const malformed = await post('rate.abuse', '{"enabled": fal')
    expect([malformed.statusCode, code(malformed)]).toEqual([400, 'malformed_body'])
    const unknown = await post('no.such_rule', { enabled: false, reason: 'x' })
    expect([unknown.statusCode, code(unknown)]).toEqual([404, 'rule_not_found'])
    expect((await t.store.query('SELECT 1 FROM rule_changes')).length).toBe(0)
  })

  it('switches a rule off and on, records each switch with its reason and actor, and audits it', async () => {
    const off = await post('rate.abuse', { enabled: false, reason: 'load test this afternoon' })
    expect(off.statusCode).toBe(200)
    const rule = off.json() as Item
    expect(rule).toMatchObject({ id: 'rate.abuse', enabled: false, fires_total: 2, last_change: { enabled: false, reason: 'load test this afternoon' } })
    expect(rule.last_change?.actor).toMatch(/^operator:/)
    expect((await list()).find((i) => i.id === 'rate.abuse')).toMatchObject({ enabled: false, last_change: { reason: 'load test this afternoon' } })

    const again = await post('rate.abuse', { enabled: false, reason: 'twice' })
    expect([again.statusCode, code(again)]).toEqual([409, 'rule_unchanged'])

    const on = await post('rate.abuse', { enabled: true, reason: 'load test over' })
    expect(on.statusCode).toBe(200)
    expect(on.json()).toMatchObject({ enabled: true, last_change: { enabled: true, reason: 'load test over' } })

    const rows = await t.store.query<{ rule: string; enabled: number; reason: string; actor: string }>('SELECT rule, enabled, reason, actor FROM rule_changes ORDER BY at')
    expect(rows.map((r) => [r.rule, Number(r.enabled), r.reason])).toEqual([
      ['rate.abuse', 0, 'load test this afternoon'],
      ['rate.abuse', 1, 'load test over'],
    ])
    await h.respond.audit.idle()
    const audited = await h.respond.audit.list({ subject: 'rate.abuse', limit: 10 })
    expect(audited.map((a) => [a.action, a.detail.reason]).reverse()).toEqual([
      ['rule.disable', 'load test this afternoon'],
      ['rule.enable', 'load test over'],
    ])
    expect(audited.every((a) => a.actor === rows[0]?.actor)).toBe(true)
    expect((await h.respond.audit.verify()).ok).toBe(true)
  })
})
