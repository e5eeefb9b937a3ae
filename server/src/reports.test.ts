/**
 * Each report type compiled from fixture data in a real embedded ClickHouse, its numbers
 * checked against direct queries; every report rendered to PDF, opened by poppler
 * (pdfinfo for the page count, pdftoppm to PNG), to CSV and to JSON; the content hash
 * recomputed; and the same report compiled twice giving the same bytes.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  compileReport,
  checkReportRequest,
  renderReport,
  reportContentHash,
  type AlertLatencyData,
  type AuditIntegrityData,
  type ClockSyncData,
  type CompiledReport,
  type DoraIncidentData,
  type KillSwitchLogData,
  type MarketAccessReviewData,
  type PretradeBreachesData,
  type ReportDeps,
} from '@vigil/respond'
import { openTestStore, startTestApp, type TestApp, type TestStore } from './test-support.js'

let t: TestStore
let h: TestApp
let deps: ReportDeps
const out = mkdtempSync(path.join(tmpdir(), 'vigil-reports-'))

const P = { from: '2026-11-01T00:00:00Z', to: '2026-11-08T00:00:00Z' }
const GEN = new Date('2026-11-08T06:00:00Z')

const ALERT_COLS = ['id', 'version', 'change', 'rule', 'severity', 'score', 'status', 'entity_type', 'entity_id', 'api_key_id', 'account_id', 'client_ip', 'first_seen', 'last_seen', 'count', 'summary', 'evidence', 'incident_id', 'note', 'changed_by', 'changed_at', 'detected_at', 'event_received_at'] as const

interface AlertFixture {
  id: string
  rule: string
  event: string
  received?: string
  detected: string
  entity?: string
  api_key_id?: string
  change?: 'open' | 'repeat'
  version?: number
}

async function insertAlerts(list: AlertFixture[]): Promise<void> {
  const lines = list.map((a) =>
    JSON.stringify({
      id: a.id,
      version: a.version ?? 1,
      change: a.change ?? 'open',
      rule: a.rule,
      severity: 'high',
      score: 10,
      status: 'open',
      entity_type: a.rule === 'clock.skew' ? 'source' : 'api_key',
      entity_id: a.entity ?? 'ak_1',
      api_key_id: a.api_key_id ?? 'ak_1',
      account_id: 'acc_1',
      client_ip: '',
      first_seen: a.event,
      last_seen: a.event,
      count: 1,
      summary: `${a.rule} on ${a.entity ?? 'ak_1'}`,
      evidence: '{}',
      incident_id: '',
      note: '',
      changed_by: 'detector',
      changed_at: a.detected,
      detected_at: a.detected,
      event_received_at: a.received ?? '1970-01-01 00:00:00',
    }),
  )
  await t.store.insertNdjson('alert_changes', ALERT_COLS, `${lines.join('\n')}\n`)
}

type EventFixture = Record<string, unknown> & { id: string; ts: string; action: string; outcome: string }
async function insertEvents(list: EventFixture[]): Promise<void> {
  const cols = [...new Set(list.flatMap((e) => Object.keys(e)))]
  const lines = list.map((e) => JSON.stringify({ source: 'api-1', received_at: e.ts, clock_skew_ms: 0, ...e }))
  await t.store.insertNdjson('events', [...new Set(['source', 'received_at', 'clock_skew_ms', ...cols])], `${lines.join('\n')}\n`)
}

async function one<T>(sql: string, params?: Record<string, unknown>): Promise<T> {
  return (await t.store.query<T>(sql, params))[0] as T
}

async function compile(type: string, extra: Record<string, unknown> = {}, period = P): Promise<CompiledReport> {
  return compileReport(checkReportRequest({ type, ...period, ...extra }), deps, { id: `rpt_${type.replace(/-/g, '_')}`, generatedAt: GEN })
}

/** Renders all three formats; the PDF must open in poppler and convert to PNG. Returns the page count. */
async function renderAll(r: CompiledReport): Promise<number> {
  const json = await renderReport(r, 'json')
  expect(JSON.parse(json.toString('utf8'))).toEqual(JSON.parse(JSON.stringify(r)))
  const csv = (await renderReport(r, 'csv')).toString('utf8')
  expect(csv).toContain(`content_sha256,${r.content_sha256}`)
  const pdf = await renderReport(r, 'pdf')
  expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-')
  const file = path.join(out, `${r.id}.pdf`)
  writeFileSync(file, pdf)
  const info = execFileSync('pdfinfo', [file], { encoding: 'utf8' })
  const pages = Number(/^Pages:\s+(\d+)/m.exec(info)?.[1])
  execFileSync('pdftoppm', ['-png', '-r', '40', file, path.join(out, r.id)])
  const pngs = readdirSync(out).filter((f) => f.startsWith(`${r.id}-`) && f.endsWith('.png'))
  expect(pngs).toHaveLength(pages)
  for (const p of pngs) expect(statSync(path.join(out, p)).size).toBeGreaterThan(100)
  // Text poppler extracts shows the content hash and the page numbering.
  const text = execFileSync('pdftotext', ['-layout', file, '-'], { encoding: 'utf8' })
  expect(text).toContain(r.content_sha256)
  expect(text).toContain(`page ${pages} of ${pages}`)
  expect(text).toContain(r.id)
  // Deterministic: rendering again gives the same bytes.
  expect((await renderReport(r, 'pdf')).equals(pdf)).toBe(true)
  return pages
}

beforeAll(async () => {
  t = await openTestStore()
  h = await startTestApp(t)
  deps = {
    store: t.store,
    audit: h.respond.audit,
    clockLimits: { defaultMs: 250, perSourceMs: { 'fix-gw-1': 1 }, origin: 'rules/detections/clock_skew.yaml (test)' },
    controls: [
      { kind: 'rule', id: 'order.fat_finger', name: 'Fat finger', settings: 'max_notional: 1000000', modified: '2026-11-20' },
      { kind: 'rule', id: 'clock.skew', name: 'Clock skew', settings: 'max_skew_ms: 250', modified: '2026-11-26' },
      { kind: 'playbook', id: 'critical-key-compromise', name: 'Critical key compromise', settings: 'steps: revoke_key, kill_switch', modified: null },
    ],
  }
})
afterAll(async () => {
  await h?.close()
  await t?.cleanup()
  rmSync(out, { recursive: true, force: true })
})

describe('alert-latency', () => {
  it('counts alerts within 5 s, percentiles and each breach with its cause, as ClickHouse does', async () => {
    await insertAlerts([
      { id: 'al_1', rule: 'auth.brute_force', event: '2026-11-02 10:00:00.000000', received: '2026-11-02 10:00:00.100000000', detected: '2026-11-02 10:00:01.200000' },
      { id: 'al_2', rule: 'rate.abuse', event: '2026-11-03 10:00:00.000000', received: '2026-11-03 10:00:00.200000000', detected: '2026-11-03 10:00:03.000000' },
      // late at ingest: 7 s in transit, 0.5 s to detect
      { id: 'al_3', rule: 'order.fat_finger', event: '2026-11-04 10:00:00.000000', received: '2026-11-04 10:00:07.000000000', detected: '2026-11-04 10:00:07.500000' },
      // slow detection: arrived at once, alert 12 s later
      { id: 'al_4', rule: 'clock.skew', entity: 'fix-gw-1', event: '2026-11-05 10:00:00.000000', received: '2026-11-05 10:00:00.010000000', detected: '2026-11-05 10:00:12.000000' },
      // a repeat row of al_1 and an alert outside the period are not counted
      { id: 'al_1', rule: 'auth.brute_force', event: '2026-11-02 10:05:00.000000', detected: '2026-11-02 10:05:01.000000', change: 'repeat', version: 2 },
      { id: 'al_out', rule: 'rate.abuse', event: '2026-11-09 10:00:00.000000', detected: '2026-11-09 10:00:01.000000' },
    ])
    const r = await compile('alert-latency')
    const d = r.data as AlertLatencyData
    const direct = await one<{ n: string; within: string; q: number[] }>(
      `SELECT count() AS n, countIf(dateDiff('microsecond', last_seen, detected_at) <= 5000000) AS within,
              quantilesExact(0.5, 0.9, 0.95, 0.99)(dateDiff('microsecond', last_seen, detected_at)) AS q
       FROM alert_changes WHERE change = 'open' AND detected_at >= '2026-11-01 00:00:00' AND detected_at < '2026-11-08 00:00:00'`,
    )
    expect(d.alerts).toBe(Number(direct.n))
    expect(d.alerts).toBe(4)
    expect(d.within_limit).toBe(Number(direct.within))
    expect(d.within_limit).toBe(2)
    expect(d.share_within_limit).toBe(0.5)
    expect([d.percentiles_ms.p50, d.percentiles_ms.p90, d.percentiles_ms.p95, d.percentiles_ms.p99]).toEqual(direct.q.map((v) => Number(v) / 1000))
    expect(d.percentiles_ms.max).toBe(12000)
    expect(d.rows.map((x) => [x.alert_id, x.latency_ms])).toEqual([
      ['al_1', 1200],
      ['al_2', 3000],
      ['al_3', 7500],
      ['al_4', 12000],
    ])
    expect(d.breaches.map((b) => b.alert_id)).toEqual(['al_3', 'al_4'])
    expect(d.breaches[0]?.cause).toMatch(/^event reached ingest 7000 ms after its time/)
    expect(d.breaches[1]?.cause).toMatch(/^detection took 11990 ms/)
    expect(r.queries.length).toBeGreaterThan(0)
    expect(r.content_sha256).toBe(reportContentHash(r))
    expect(await renderAll(r)).toBeGreaterThanOrEqual(1)
  })
})

describe('kill-switch-log', () => {
  it('lists trips and resets with their trigger, orders refused and both approvers', async () => {
    await insertAlerts([{ id: 'al_ks', rule: 'volume.spike', event: '2026-11-26 08:00:00.000000', detected: '2026-11-26 08:00:01.000000' }])
    const ks = h.respond.killswitches
    const byRule = await ks.trip({ type: 'account', id: 'acc_9' }, { reason: 'volume spike', actor: 'playbook:runaway', alertId: 'al_ks', incidentId: 'inc_x' })
    const byPerson = await ks.trip({ type: 'global', id: '*' }, { reason: 'market halt', actor: 'operator:alice' })
    await ks.requestReset(byRule.value.id, { reason: 'spike explained', actor: 'operator:alice' })
    await ks.requestReset(byRule.value.id, { reason: 'confirmed', actor: 'operator:bob' })
    const now = Date.now()
    await insertEvents(
      [0, 1, 2].map((i) => ({
        id: `blk_${i}`,
        ts: new Date(now + i).toISOString().replace('T', ' ').replace('Z', ''),
        action: 'order.new',
        outcome: 'denied',
        reason: 'kill_switch',
        account_id: 'acc_9',
        attrs: { kill_switch_id: byRule.value.id, kill_switch_scope: 'account:acc_9' },
      })),
    )
    const period = { from: new Date(now - 3_600_000).toISOString(), to: new Date(now + 3_600_000).toISOString() }
    const r = await compile('kill-switch-log', {}, period)
    const d = r.data as KillSwitchLogData
    const direct = await one<{ trips: string; resets: string }>(
      `SELECT countIf(kind = 'killswitch_tripped') AS trips, countIf(kind = 'killswitch_reset') AS resets FROM control_log`,
    )
    expect(d.trips).toBe(Number(direct.trips))
    expect(d.resets).toBe(Number(direct.resets))
    expect([d.trips, d.resets]).toEqual([2, 1])
    const trip = d.entries.find((e) => e.change === 'trip' && e.killswitch_id === byRule.value.id)
    expect(trip).toMatchObject({ trigger: 'rule', rule: 'volume.spike', alert_id: 'al_ks', incident_id: 'inc_x', orders_blocked: 3, scope: { type: 'account', id: 'acc_9' } })
    expect(trip?.at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/)
    const tripUs = await one<{ d: string }>(
      `SELECT dateDiff('microsecond', toDateTime64('2026-11-26 08:00:00', 6, 'UTC'), at) AS d FROM control_log WHERE kind = 'killswitch_tripped' AND subject = {id:String}`,
      { id: byRule.value.id },
    )
    expect(trip?.trigger_to_enforcement_ms).toBe(Number(tripUs.d) / 1000)
    expect(d.entries.find((e) => e.killswitch_id === byPerson.value.id)).toMatchObject({ trigger: 'person', actor: 'operator:alice', rule: null, trigger_to_enforcement_ms: null, orders_blocked: 0 })
    expect(d.entries.find((e) => e.change === 'reset')).toMatchObject({ reset_requested_by: 'operator:alice', reset_confirmed_by: 'operator:bob' })
    // No guard reported applying these switches: named per source (issue 8), not as a field nobody records.
    expect(r.not_recorded.map((n) => n.field)).not.toContain('orders cancelled when a switch tripped')
    expect(r.not_recorded.some((n) => n.field.startsWith(`time source api-1 applied: trip ${byRule.value.id}`))).toBe(true)
    await renderAll(r)
  })
})

describe('clock-sync', () => {
  it('measures each source against its own limit, with granularity and breaches', async () => {
    const ev = (src: string, i: number, skew: number, frac: string) => ({
      id: `${src}_${i}`,
      source: src,
      ts: `2026-11-06 09:00:${String(i).padStart(2, '0')}.${frac}`,
      action: 'order.new',
      outcome: 'success',
      clock_skew_ms: skew,
    })
    await insertEvents([
      ...[0.2, 0.4, 3.1, 3.5, 0.3, 0.5, 2.9, 0.6, 0.7, 0.8].map((s, i) => ev('fix-gw-1', i, s, '123456789')),
      ...[12, 40, 260, 35, 20].map((s, i) => ev('web-api', i, s, '120')),
    ])
    await insertAlerts([{ id: 'al_clk', rule: 'clock.skew', entity: 'fix-gw-1', event: '2026-11-06 09:00:09.000000', detected: '2026-11-06 09:00:10.000000' }])
    const r = await compile('clock-sync')
    const d = r.data as ClockSyncData
    const direct = await t.store.query<{ source: string; n: string; p5: number; over: string }>(
      `SELECT source, count() AS n, quantileExact(0.05)(clock_skew_ms) AS p5,
              countIf(abs(clock_skew_ms) > if(source = 'fix-gw-1', 1, 250)) AS over
       FROM events FINAL WHERE ts >= '2026-11-01 00:00:00' AND ts < '2026-11-08 00:00:00' GROUP BY source ORDER BY source`,
    )
    expect(d.sources.map((s) => s.source)).toEqual(direct.map((x) => x.source))
    for (const x of direct) {
      const s = d.sources.find((y) => y.source === x.source)
      expect(s?.events).toBe(Number(x.n))
      expect(s?.p5_skew_ms).toBe(Math.round(x.p5 * 1000) / 1000)
      expect(s?.events_over_limit).toBe(Number(x.over))
    }
    expect(d.sources.find((s) => s.source === 'fix-gw-1')).toMatchObject({ limit_ms: 1, limit_from: 'source setting', events_over_limit: 3, granularity: 'ns', breaches: 2, status: 'breached' })
    expect(d.sources.find((s) => s.source === 'web-api')).toMatchObject({ limit_ms: 250, limit_from: 'rule default', events_over_limit: 1, granularity: 'ms', breaches: 0, status: 'within limit' })
    expect(d.breaches.map((b) => b.alert_id)).toEqual(['al_4', 'al_clk'])
    await renderAll(r)
  })
})

describe('pretrade-breaches', () => {
  it('counts risk refusals by limit type, rate-limited orders and fat-finger alerts', async () => {
    const o = (i: number, reason: string, check?: string) => ({
      id: `pt_${i}`,
      ts: `2026-11-07 11:00:0${i}.000`,
      action: 'order.new',
      outcome: 'failure',
      reason,
      api_key_id: `ak_${i % 2}`,
      account_id: `acc_${i % 3}`,
      order_symbol: 'AAPL',
      order_qty: 100 * (i + 1),
      order_price: 190.5,
      ...(check ? { attrs: { risk_check: check } } : {}),
    })
    await insertEvents([o(1, 'risk_rejected', 'price_collar'), o(2, 'risk_rejected', 'price_collar'), o(3, 'risk_rejected', 'order_value'), o(4, 'risk_rejected'), o(5, 'rate_limited'), o(6, 'invalid_request')])
    const r = await compile('pretrade-breaches')
    const d = r.data as PretradeBreachesData
    const direct = await one<{ risk: string; rate: string }>(
      `SELECT countIf(reason = 'risk_rejected') AS risk, countIf(reason = 'rate_limited') AS rate FROM events FINAL
       WHERE startsWith(action, 'order.') AND ts >= '2026-11-01 00:00:00' AND ts < '2026-11-08 00:00:00'`,
    )
    expect(d.risk_rejected).toBe(Number(direct.risk))
    expect(d.rate_limited_orders).toBe(Number(direct.rate))
    expect(d.by_type.map((b) => [b.limit_type, b.refused])).toEqual([
      ['message_rate', 1],
      ['order_value', 1],
      ['price_collar', 2],
      ['unclassified', 1],
    ])
    expect(d.fat_finger.map((a) => a.alert_id)).toEqual(['al_3'])
    expect(d.overrides).toEqual([])
    expect(r.not_recorded.map((n) => n.field)).not.toContain('overrides of a pre-trade limit and who approved them')
    await renderAll(r)
  })
})

describe('dora-incident', () => {
  it('gathers one incident with its deadlines, and needs an existing incident', async () => {
    await t.store.insertNdjson(
      'incident_changes',
      ['id', 'version', 'change', 'title', 'severity', 'status', 'entity_type', 'entity_id', 'api_key_id', 'account_id', 'opened_at', 'note', 'actor', 'changed_at'],
      [
        { id: 'inc_d', version: 1, change: 'opened', title: 'Key compromise', severity: 'high', status: 'open', entity_type: 'api_key', entity_id: 'ak_1', api_key_id: 'ak_1', account_id: 'acc_1', opened_at: '2026-10-31 22:30:00.000000', note: '', actor: 'playbook:p', changed_at: '2026-10-31 22:30:00.000000' },
        { id: 'inc_d', version: 2, change: 'status', title: 'Key compromise', severity: 'critical', status: 'resolved', entity_type: 'api_key', entity_id: 'ak_1', api_key_id: 'ak_1', account_id: 'acc_1', opened_at: '2026-10-31 22:30:00.000000', note: 'done', actor: 'operator:a', changed_at: '2026-11-02 08:00:00.000000' },
      ]
        .map((x) => JSON.stringify(x))
        .join('\n') + '\n',
    )
    await t.store.insertNdjson('incident_alerts', ['incident_id', 'alert_id', 'attached_at', 'actor'], `${JSON.stringify({ incident_id: 'inc_d', alert_id: 'al_dora', attached_at: '2026-10-31 22:30:00.000000', actor: 'p' })}\n`)
    await insertAlerts([{ id: 'al_dora', rule: 'auth.success_after_failures', event: '2026-10-31 22:29:00.000000', detected: '2026-10-31 22:29:30.000000' }])
    const r = await compile('dora-incident', { incident_id: 'inc_d' })
    const d = r.data as DoraIncidentData
    expect(d.detected_at).toBe('2026-10-31T22:29:30.000000Z')
    expect(d.classified_at).toBe('2026-10-31T22:30:00.000000Z')
    // Initial: 4 h after classification (earlier than 24 h after detection), across the month end.
    expect(d.deadlines.map((x) => [x.stage, x.due, x.status])).toEqual([
      ['initial', '2026-11-01T02:30:00.000Z', 'overdue'],
      ['intermediate', '2026-11-04T02:30:00.000Z', 'overdue'],
      ['final', '2026-12-04T02:30:00.000Z', 'pending'],
    ])
    expect(d.incident).toMatchObject({ severity_at_opening: 'high', severity: 'critical', status: 'resolved', resolved_at: '2026-11-02T08:00:00.000000Z' })
    expect(d.clients_affected).toEqual({ accounts: ['acc_1'], api_keys: ['ak_1'] })
    await renderAll(r)
    await expect(compile('dora-incident', { incident_id: 'inc_nope' })).rejects.toMatchObject({ errName: 'VIGIL_ERR_INCIDENT_NOT_FOUND' })
    expect(() => checkReportRequest({ type: 'dora-incident', ...P })).toThrow(expect.objectContaining({ errName: 'VIGIL_ERR_REPORT_INCIDENT_REQUIRED' }))
  })
})

describe('market-access-review', () => {
  it('lists the controls with evidence they ran, and a certification page', async () => {
    await insertEvents([{ id: 'cfg_1', ts: '2026-11-03 12:00:00', action: 'admin.config_change', outcome: 'success', user_id: 'risk-officer', attrs: { setting: 'max_order_value', from: '1000000', to: '2000000' } }])
    const r = await compile('market-access-review', {}, { from: '2026-01-01T00:00:00Z', to: '2027-01-01T00:00:00Z' })
    const d = r.data as MarketAccessReviewData
    const fires = await one<{ n: string }>(`SELECT uniqExact(id) AS n FROM alert_changes WHERE change = 'open' AND rule = 'order.fat_finger'`)
    expect(d.controls.find((c) => c.id === 'order.fat_finger')?.fired_or_ran).toBe(Number(fires.n))
    expect(d.controls.find((c) => c.id === 'clock.skew')?.fired_or_ran).toBe(2)
    expect(d.config_changes).toHaveLength(1)
    expect(d.config_changes[0]).toMatchObject({ user_id: 'risk-officer' })
    expect(r.sections.find((s) => s.title === 'CEO certification')?.new_page).toBe(true)
    expect(await renderAll(r)).toBeGreaterThanOrEqual(2)
  })
})

describe('audit-integrity', () => {
  it('verifies the chain, counts required event types and reports retention per table', async () => {
    const now = Date.now()
    await insertEvents([
      { id: 'au_1', ts: '2026-11-02 09:00:00', action: 'auth.login', outcome: 'success', user_id: 'u1' },
      { id: 'au_2', ts: '2026-11-02 09:01:00', action: 'auth.login', outcome: 'failure', reason: 'bad_password', user_id: 'u1' },
      { id: 'au_3', ts: '2026-11-02 09:02:00', action: 'key.rotate', outcome: 'success', api_key_id: 'ak_1' },
    ])
    const period = { from: '2026-11-01T00:00:00Z', to: new Date(now + 3_600_000).toISOString() }
    const r = await compile('audit-integrity', {}, period)
    const d = r.data as AuditIntegrityData
    expect(d.chain.verified).toBe(true)
    if (d.chain.verified) {
      expect(d.chain.ok).toBe(true)
      const rows = await one<{ n: string }>('SELECT count() AS n FROM audit_log')
      expect(d.chain.rows).toBe(Number(rows.n))
      expect(d.chain.rows).toBeGreaterThan(0)
    }
    const cov = Object.fromEntries(d.coverage.map((c) => [c.requirement, c]))
    expect(cov['PCI DSS 10.2.1.1']).toMatchObject({ events: 1, status: 'seen' })
    expect(cov['PCI DSS 10.2.1.4']?.events).toBeGreaterThanOrEqual(1)
    expect(cov['PCI DSS 10.2.1.5']).toMatchObject({ events: 1, status: 'seen' })
    const auditKs = await one<{ n: string }>(`SELECT count() AS n FROM audit_log WHERE action IN ('key.revoke', 'key.restore', 'token.create', 'token.revoke', 'source.add', 'source.rotate')`)
    expect(cov['PCI DSS 10.2.1.5']?.audit_entries).toBe(Number(auditKs.n))
    expect(cov['PCI DSS 10.2.1.3']?.status).toBe('not recorded')
    const events = d.retention.find((x) => x.table === 'events')
    expect(events?.expected_ttl).toContain("startsWith(action, 'order.')")
    // vigil up (the response side) applied the policy as TTLs.
    expect(events?.status).toBe('as policy')
    expect(d.retention.find((x) => x.table === 'alert_changes')).toMatchObject({ status: 'as policy', oldest_row: expect.stringMatching(/^2026-/) })
    expect(d.retention.find((x) => x.table === 'audit_log')?.status).toBe('no TTL (kept by policy)')
    await renderAll(r)
  })
})

describe('pagination', () => {
  it('spreads a long table over numbered pages, repeating its header on each', async () => {
    const many = Array.from({ length: 240 }, (_, i) => {
      const sec = String(i % 60).padStart(2, '0')
      const min = String(Math.floor(i / 60)).padStart(2, '0')
      return { id: `al_many_${String(i).padStart(3, '0')}`, rule: 'rate.abuse', event: `2026-10-15 10:${min}:${sec}.000000`, received: `2026-10-15 10:${min}:${sec}.100000000`, detected: `2026-10-15 10:${min}:${sec}.900000` }
    })
    await insertAlerts(many)
    const r = await compile('alert-latency', {}, { from: '2026-10-15T00:00:00Z', to: '2026-10-16T00:00:00Z' })
    expect((r.data as AlertLatencyData).alerts).toBe(240)
    const pages = await renderAll(r)
    expect(pages).toBeGreaterThanOrEqual(5)
    const file = path.join(out, `${r.id}.pdf`)
    for (const page of [2, pages - 1]) {
      const text = execFileSync('pdftotext', ['-f', String(page), '-l', String(page), '-layout', file, '-'], { encoding: 'utf8' })
      expect(text, `page ${page}`).toContain(`page ${page} of ${pages}`)
    }
    // The table of every alert starts on some page and its header comes back on the next ones.
    const headerPages = Array.from({ length: pages }, (_, i) => execFileSync('pdftotext', ['-f', String(i + 1), '-l', String(i + 1), '-layout', file, '-'], { encoding: 'utf8' })).filter((t) => t.includes('arrived at ingest'))
    expect(headerPages.length).toBeGreaterThanOrEqual(3)
  })
})

describe('the framework', () => {
  it('hashes the content, not the format, and changes the hash when a number changes', async () => {
    const a = await compile('alert-latency')
    const b = await compile('alert-latency')
    expect(b).toEqual(a)
    expect(a.content_sha256).toMatch(/^[0-9a-f]{64}$/)
    const tampered = { ...a, data: { ...(a.data as AlertLatencyData), within_limit: (a.data as AlertLatencyData).within_limit + 1 } }
    expect(reportContentHash(tampered)).not.toBe(a.content_sha256)
    expect((await renderReport(a, 'csv')).equals(await renderReport(b, 'csv'))).toBe(true)
  })

  it('refuses bad requests with stable codes', () => {
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ type: 'nope', ...P }, 'VIGIL_ERR_REPORT_UNKNOWN_TYPE'],
      [{ type: 42, ...P }, 'VIGIL_ERR_REPORT_UNKNOWN_TYPE'],
      [{ type: 'alert-latency', from: 'yesterday', to: P.to }, 'VIGIL_ERR_REPORT_BAD_PERIOD'],
      [{ type: 'alert-latency', to: P.to }, 'VIGIL_ERR_REPORT_BAD_PERIOD'],
      [{ type: 'alert-latency', from: P.to, to: P.from }, 'VIGIL_ERR_REPORT_EMPTY_PERIOD'],
      [{ type: 'alert-latency', from: P.from, to: P.from }, 'VIGIL_ERR_REPORT_EMPTY_PERIOD'],
      [{ type: 'alert-latency', from: '2024-01-01T00:00:00Z', to: '2026-01-01T00:00:00Z' }, 'VIGIL_ERR_REPORT_PERIOD_TOO_LONG'],
    ]
    for (const [req, code] of bad) expect(() => checkReportRequest(req as never), JSON.stringify(req)).toThrow(expect.objectContaining({ errName: code }))
    // An offset is accepted and normalised to UTC.
    expect(checkReportRequest({ type: 'alert-latency', from: '2026-11-01T02:00:00+02:00', to: P.to }).period.from).toBe('2026-11-01T00:00:00.000Z')
  })
})
