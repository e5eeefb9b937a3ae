import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isVigilError, type Alert } from '@vigil/core'
import { startRespondHarness, type RespondHarness } from './test-support.js'
import { createAuditLog, type AuditLogStore } from './audit-log.js'
import { createIncidentStore, incidentIdForAlert, maskTimelineDetail } from './incidents.js'
import type { IncidentStore } from './seams.js'

let h: RespondHarness
let audit: AuditLogStore
let incidents: IncidentStore
const attachedCalls: Array<[string, string]> = []

beforeAll(async () => {
  h = await startRespondHarness()
  audit = createAuditLog({ store: h.store, redis: h.redis, keyPrefix: `${h.prefix}:audit:` })
  incidents = createIncidentStore({
    store: h.store,
    redis: h.redis,
    audit,
    keyPrefix: `${h.prefix}:`,
    onAlertAttached: (alertId, incidentId) => {
      attachedCalls.push([alertId, incidentId])
    },
  })
})
afterAll(async () => {
  await h.close()
})

const uniq = () => randomBytes(5).toString('hex')

function alert(over: Partial<Alert> = {}): Alert {
  const u = uniq()
  const now = new Date().toISOString()
  return {
    id: `al_${u}`,
    rule: 'auth.brute_force',
    severity: 'medium',
    score: 0.7,
    status: 'open',
    entity: { type: 'api_key', id: `k_${u}` },
    api_key_id: `k_${u}`,
    account_id: `acc_${u}`,
    client_ip: '203.0.113.9',
    first_seen: now,
    last_seen: now,
    count: 3,
    summary: '3 failed logins',
    evidence: {},
    incident_id: null,
    detected_at: now,
    event_received_at: now,
    ...over,
  }
}

const by = { actor: 'playbook:pb_test', playbook: 'pb_test' }

async function expectError(p: Promise<unknown>, errName: string, message?: RegExp): Promise<void> {
  let thrown: unknown
  try {
    await p
  } catch (e) {
    thrown = e
  }
  expect(isVigilError(thrown), `expected ${errName}, got ${String(thrown)}`).toBe(true)
  expect((thrown as { errName: string }).errName).toBe(errName)
  if (message) expect((thrown as Error).message).toMatch(message)
}

describe('grouping alerts into incidents', () => {
  it('two alerts on one entity make one incident; the second is attached', async () => {
    const a1 = alert()
    const a2 = alert({ entity: a1.entity, api_key_id: a1.api_key_id, rule: 'rate.abuse' })
    const first = await incidents.openForAlert(a1, by)
    const second = await incidents.openForAlert(a2, by)
    expect(first.created).toBe(true)
    expect(first.incident.id).toBe(incidentIdForAlert(a1.id))
    expect(second.created).toBe(false)
    expect(second.incident.id).toBe(first.incident.id)
    expect(second.incident.alert_ids).toEqual([a1.id, a2.id])
    expect(second.incident.status).toBe('open')
    expect(second.incident.api_key_id).toBe(a1.api_key_id)
    expect(second.incident.timeline.map((e) => e.kind)).toEqual(['opened', 'alert_attached'])
    expect(second.incident.timeline[1]).toMatchObject({ alert_id: a2.id, actor: 'playbook:pb_test', playbook: 'pb_test' })
    expect(attachedCalls).toContainEqual([a1.id, first.incident.id])
    expect(attachedCalls).toContainEqual([a2.id, first.incident.id])
    expect(first.incident.opened_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/)
  })

  it('alerts on different entities make different incidents', async () => {
    const a1 = alert()
    const a2 = alert()
    const ip = alert({ entity: { type: 'ip', id: '198.51.100.4' }, api_key_id: a1.api_key_id })
    const [r1, r2, r3] = [await incidents.openForAlert(a1, by), await incidents.openForAlert(a2, by), await incidents.openForAlert(ip, by)]
    expect(new Set([r1.incident.id, r2.incident.id, r3.incident.id]).size).toBe(3)
    expect([r1.created, r2.created, r3.created]).toEqual([true, true, true])
  })

  it('alerts arriving at once on one entity open exactly one incident', async () => {
    const base = alert()
    const many = Array.from({ length: 6 }, (_, i) => alert({ entity: base.entity, api_key_id: base.api_key_id, rule: `r.${i}` }))
    const results = await Promise.all(many.map((a) => incidents.openForAlert(a, by)))
    expect(new Set(results.map((r) => r.incident.id)).size).toBe(1)
    expect(results.filter((r) => r.created)).toHaveLength(1)
    const got = await incidents.get(results[0]!.incident.id)
    expect(got?.alert_ids.slice().sort()).toEqual(many.map((a) => a.id).sort())
    expect(got?.timeline.filter((e) => e.kind === 'opened')).toHaveLength(1)
    expect(got?.timeline.filter((e) => e.kind === 'alert_attached')).toHaveLength(5)
  })

  it('the same alert again (a retried step) opens nothing and writes nothing', async () => {
    const a = alert()
    const first = await incidents.openForAlert(a, by)
    const again = await incidents.openForAlert(a, by)
    const third = await incidents.openForAlert({ ...a, severity: 'critical' }, { ...by, title: 'other title' })
    expect(again.created).toBe(false)
    expect(third.created).toBe(false)
    expect(third.incident.id).toBe(first.incident.id)
    expect(third.incident.alert_ids).toEqual([a.id])
    expect(third.incident.timeline).toHaveLength(1)
    expect(third.incident.severity).toBe('medium')
  })

  it('an alert after the group window, or after the incident was resolved, opens a new incident', async () => {
    const a1 = alert()
    const first = await incidents.openForAlert(a1, by)
    const late = await incidents.openForAlert(alert({ entity: a1.entity }), { ...by, groupWindowMs: 0 })
    expect(late.created).toBe(true)
    expect(late.incident.id).not.toBe(first.incident.id)

    await incidents.setStatus(late.incident.id, 'resolved', 'done', 'operator:tok_1')
    await incidents.setStatus(first.incident.id, 'resolved', 'done', 'operator:tok_1')
    const after = await incidents.openForAlert(alert({ entity: a1.entity }), by)
    expect(after.created).toBe(true)
    expect([first.incident.id, late.incident.id]).not.toContain(after.incident.id)
  })

  it('a contained incident still takes new alerts', async () => {
    const a1 = alert()
    const first = await incidents.openForAlert(a1, by)
    await incidents.setStatus(first.incident.id, 'contained', 'key revoked', 'operator:tok_1')
    const second = await incidents.openForAlert(alert({ entity: a1.entity }), by)
    expect(second.created).toBe(false)
    expect(second.incident.id).toBe(first.incident.id)
    expect(second.incident.status).toBe('contained')
  })

  it('titles come from the caller, on one line and masked; the default names rule and entity', async () => {
    const a = alert()
    const plain = await incidents.openForAlert(a, by)
    expect(plain.incident.title).toBe(`auth.brute_force on api_key ${a.entity.id}`)
    const secret = `sk_live_${randomBytes(20).toString('hex')}`
    const hostile = await incidents.openForAlert(alert(), { ...by, title: `Key leak\n${secret}` })
    expect(hostile.incident.title).not.toContain(secret)
    expect(hostile.incident.title).not.toMatch(/\n/)
    expect(hostile.incident.title.startsWith('Key leak ')).toBe(true)
  })

  it('refuses a negative group window', async () => {
    await expectError(incidents.openForAlert(alert(), { ...by, groupWindowMs: -1 }), 'VIGIL_ERR_API_BAD_REQUEST')
  })
})

describe('attaching alerts', () => {
  it('is idempotent: the same alert twice is attached once', async () => {
    const { incident } = await incidents.openForAlert(alert(), by)
    const extra = alert({ rule: 'geo.impossible_travel' })
    const r1 = await incidents.attachAlert(incident.id, extra, 'operator:tok_2')
    const r2 = await incidents.attachAlert(incident.id, extra, 'operator:tok_2')
    expect(r1.attached).toBe(true)
    expect(r2.attached).toBe(false)
    expect(r2.incident.alert_ids).toEqual([incident.alert_ids[0], extra.id])
    expect(r2.incident.timeline.filter((e) => e.kind === 'alert_attached')).toHaveLength(1)
    expect(attachedCalls.filter(([a]) => a === extra.id).length).toBeGreaterThanOrEqual(1)
  })

  it('raises the severity to the alert’s when higher, never lowers it', async () => {
    const { incident } = await incidents.openForAlert(alert({ severity: 'low' }), by)
    expect(incident.severity).toBe('low')
    const up = await incidents.attachAlert(incident.id, alert({ severity: 'critical' }), 'system')
    expect(up.incident.severity).toBe('critical')
    const entry = up.incident.timeline.at(-1)
    expect(entry).toMatchObject({ kind: 'alert_attached', outcome: 'severity_raised' })
    expect(entry?.detail).toMatchObject({ severity_from: 'low', severity_to: 'critical' })
    const down = await incidents.attachAlert(incident.id, alert({ severity: 'medium' }), 'system')
    expect(down.incident.severity).toBe('critical')
  })

  it('an unknown incident is incident_not_found', async () => {
    await expectError(incidents.attachAlert('in_nope', alert(), 'system'), 'VIGIL_ERR_INCIDENT_NOT_FOUND')
  })
})

describe('status', () => {
  it('moves open → contained → resolved → closed and can reopen; each move is audited and on the timeline', async () => {
    const { incident } = await incidents.openForAlert(alert(), by)
    for (const s of ['contained', 'resolved', 'closed', 'open'] as const) {
      const got = await incidents.setStatus(incident.id, s, `to ${s}`, 'operator:tok_1')
      expect(got.status).toBe(s)
    }
    const got = await incidents.get(incident.id)
    expect(got?.timeline.filter((e) => e.kind === 'status').map((e) => e.outcome)).toEqual(['contained', 'resolved', 'closed', 'open'])
    expect(got?.timeline.at(-1)).toMatchObject({ actor: 'operator:tok_1', detail: { from: 'closed', to: 'open', note: 'to open' } })
    await audit.idle()
    const rows = await audit.list({ subject: incident.id, limit: 10 })
    expect(rows.map((r) => r.action)).toEqual(['incident.status', 'incident.status', 'incident.status', 'incident.status'])
    expect(rows[0]?.detail).toMatchObject({ from: 'closed', to: 'open' })
    expect((await audit.verify()).ok).toBe(true)
  })

  it('refuses moving backwards (other than reopening), staying put, an unknown status, an oversized note', async () => {
    const { incident } = await incidents.openForAlert(alert(), by)
    await incidents.setStatus(incident.id, 'resolved', '', 'operator:tok_1')
    await expectError(incidents.setStatus(incident.id, 'contained', '', 'operator:tok_1'), 'VIGIL_ERR_API_BAD_REQUEST', /resolved cannot become contained/)
    await expectError(incidents.setStatus(incident.id, 'resolved', '', 'operator:tok_1'), 'VIGIL_ERR_API_BAD_REQUEST')
    await expectError(incidents.setStatus(incident.id, 'deleted' as never, '', 'operator:tok_1'), 'VIGIL_ERR_API_BAD_REQUEST')
    await expectError(incidents.setStatus(incident.id, 'closed', 'x'.repeat(4001), 'operator:tok_1'), 'VIGIL_ERR_API_BAD_REQUEST', /4000/)
    await expectError(incidents.setStatus('in_missing', 'closed', '', 'operator:tok_1'), 'VIGIL_ERR_INCIDENT_NOT_FOUND')
    expect((await incidents.get(incident.id))?.status).toBe('resolved')
  })
})

describe('timeline', () => {
  it('keeps entries in time order, including many written in one millisecond', async () => {
    const { incident } = await incidents.openForAlert(alert(), by)
    for (let i = 1; i <= 20; i++) {
      await incidents.addTimeline(incident.id, { kind: 'step_attempt', actor: 'playbook:pb', alert_id: null, playbook: 'pb', step: 'revoke_key', attempt: i, outcome: null, detail: { i } })
    }
    const got = await incidents.get(incident.id)
    expect(got?.timeline.filter((e) => e.kind === 'step_attempt').map((e) => e.attempt)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
    const times = got!.timeline.map((e) => Date.parse(e.at))
    expect(times).toEqual([...times].sort((a, b) => a - b))
  })

  it('masks secrets in details (free text and secret-named keys) and in status notes', async () => {
    const { incident } = await incidents.openForAlert(alert(), by)
    const bearer = randomBytes(24).toString('base64url')
    const password = 'hunter2-correct-horse'
    const prefixed = `sk_live_${randomBytes(16).toString('hex')}`
    await incidents.addTimeline(incident.id, {
      kind: 'step_failed',
      actor: 'playbook:pb',
      alert_id: null,
      playbook: 'pb',
      step: 'webhook',
      attempt: 1,
      outcome: 'error',
      detail: { error: `401 for Authorization: Bearer ${bearer}`, request: { password, nested: [prefixed] } },
    })
    await incidents.setStatus(incident.id, 'contained', `rotated, old key was ${prefixed}`, 'operator:tok_1')
    const got = await incidents.get(incident.id)
    const text = JSON.stringify(got)
    for (const s of [bearer, password, prefixed]) expect(text).not.toContain(s)
    expect(text).toContain('[masked:')
    await audit.idle()
    const rows = await audit.list({ subject: incident.id, limit: 5 })
    expect(JSON.stringify(rows)).not.toContain(prefixed)
  })

  it('bounds hostile details: deep nesting, huge strings', async () => {
    let deep: Record<string, unknown> = { leaf: 'x' }
    for (let i = 0; i < 50; i++) deep = { d: deep }
    const out = maskTimelineDetail({ deep, big: 'y'.repeat(100_000), n: 1, b: true, nil: null })
    const text = JSON.stringify(out)
    expect(text.length).toBeLessThan(5000)
    expect(text).toContain('[too deep]')
    expect(out).toMatchObject({ n: 1, b: true, nil: null })
  })

  it('adding to an unknown incident is incident_not_found; a bad time is refused', async () => {
    const entry = { kind: 'note', actor: 'operator:tok_1', alert_id: null, playbook: null, step: null, attempt: null, outcome: null, detail: {} }
    await expectError(incidents.addTimeline('in_missing', entry), 'VIGIL_ERR_INCIDENT_NOT_FOUND')
    const { incident } = await incidents.openForAlert(alert(), by)
    await expectError(incidents.addTimeline(incident.id, { ...entry, at: 'yesterday' }), 'VIGIL_ERR_API_BAD_REQUEST')
    await expectError(incidents.addTimeline(incident.id, { ...entry, at: 'yesterday' }, { knownToExist: true }), 'VIGIL_ERR_API_BAD_REQUEST')
    // An id the caller took from the store is written without the existence read.
    await incidents.addTimeline(incident.id, { ...entry, detail: { note: 'known' } }, { knownToExist: true })
    expect((await incidents.get(incident.id))?.timeline.filter((t) => t.kind === 'note').map((t) => t.detail)).toEqual([{ note: 'known' }])
  })
})

describe('reading', () => {
  it('get answers undefined for an unknown id', async () => {
    expect(await incidents.get('in_unknown')).toBeUndefined()
    expect(await incidents.summary('in_unknown')).toBeUndefined()
  })

  it('summary is the incident without its timeline', async () => {
    const key = `k_summary_${uniq()}`
    const { incident } = await incidents.openForAlert(alert({ api_key_id: key }), by)
    await incidents.attachAlert(incident.id, alert({ api_key_id: key, severity: 'critical' }), 'playbook:pb_test')
    const full = await incidents.get(incident.id)
    const { timeline, ...rest } = full!
    expect(timeline.length).toBeGreaterThan(0)
    expect(await incidents.summary(incident.id)).toEqual(rest)
    expect(rest.alert_ids).toHaveLength(2)
  })

  it('lists newest first with filters and keyset paging', async () => {
    const key = `k_list_${uniq()}`
    const ids: string[] = []
    for (const sev of ['low', 'high', 'high'] as const) {
      const { incident } = await incidents.openForAlert(alert({ severity: sev, api_key_id: key }), by)
      ids.push(incident.id)
      await new Promise((r) => setTimeout(r, 3))
    }
    await incidents.setStatus(ids[0]!, 'resolved', '', 'operator:tok_1')

    const all = await incidents.list({ api_key_id: key, limit: 10 })
    expect(all.map((i) => i.id)).toEqual([...ids].reverse())
    expect(all[0]).not.toHaveProperty('timeline')
    expect(all[0]?.alert_ids).toHaveLength(1)

    expect((await incidents.list({ api_key_id: key, severity: 'high', limit: 10 })).map((i) => i.id)).toEqual([ids[2], ids[1]])
    expect((await incidents.list({ api_key_id: key, status: 'resolved', limit: 10 })).map((i) => i.id)).toEqual([ids[0]])

    const page1 = await incidents.list({ api_key_id: key, limit: 2 })
    const last = page1.at(-1)!
    const page2 = await incidents.list({ api_key_id: key, limit: 2, before: { at: last.opened_at, id: last.id } })
    expect([...page1, ...page2].map((i) => i.id)).toEqual([...ids].reverse())

    const openedMs = Date.parse(all[1]!.opened_at)
    expect((await incidents.list({ api_key_id: key, fromMs: openedMs, limit: 10 })).map((i) => i.id)).toEqual([ids[2], ids[1]])
    expect((await incidents.list({ api_key_id: key, toMs: openedMs, limit: 10 })).map((i) => i.id)).toEqual([ids[0]])
    await expectError(incidents.list({ limit: 1, before: { at: 'not-a-time', id: 'x' } }), 'VIGIL_ERR_API_BAD_CURSOR')
  })
})
