/**
 * pretrade-breaches (respond/src/reports/pretrade-breaches.ts) lists overrides of a pre-trade limit with who approved them (issue 8): the
 * admin.config_change events the guard's reportLimitOverride ships, inserted as fixtures, and
 * checked against a direct ClickHouse query.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkReportRequest, compileReport, renderReport, type PretradeBreachesData } from '@vigil/respond'
import { openTestStore, type TestStore } from './test-support.js'

// Every migration (detect's alert_changes included: the report reads fat-finger alerts).
let h: TestStore
beforeAll(async () => {
  h = await openTestStore()
})
afterAll(async () => {
  await h?.cleanup()
})

type Fixture = { id: string; ts: string; action: string; user_id?: string; account_id?: string; api_key_id?: string; attrs?: Record<string, string> }
async function insertEvents(list: Fixture[]): Promise<void> {
  const lines = list.map((e) => JSON.stringify({ source: 'desk-a', outcome: 'success', received_at: e.ts, clock_skew_ms: 0, user_id: '', account_id: '', api_key_id: '', attrs: {}, ...e }))
  await h.store.insertNdjson('events', ['id', 'source', 'ts', 'action', 'outcome', 'received_at', 'clock_skew_ms', 'user_id', 'account_id', 'api_key_id', 'attrs'], `${lines.join('\n')}\n`)
}

const override = (id: string, ts: string, attrs: Record<string, string>, extra: Partial<Fixture> = {}): Fixture => ({ id, ts, action: 'admin.config_change', attrs: { change: 'limit_override', ...attrs }, ...extra })

describe('pretrade-breaches: limit overrides', () => {
  it('lists each override with its limit, values, until, approver and reason; removes the not-recorded entry', async () => {
    await insertEvents([
      override(
        'ov_1',
        '2026-11-03 09:00:00.000001',
        { limit_type: 'order_value', from: '1000000', to: '2500000', until: '2026-11-03T17:00:00.000Z', approved_by: 'cro@example.com', requested_by: 'desk.head@example.com', override_reason: 'index rebalance' },
        { user_id: 'cro@example.com', account_id: 'acc_7' },
      ),
      override('ov_2', '2026-11-04 10:00:00', { limit_type: 'price_collar', from: '5%', to: 'none', approved_by: 'risk@example.com', override_reason: 'halt reopening' }, { api_key_id: 'ak_3' }),
      // Sent by hand, not through the guard's check: no approver named.
      override('ov_3', '2026-11-05 11:00:00', { limit_type: 'volume', from: '10000', to: '20000', override_reason: 'block trade' }),
      // Another kind of configuration change, and an override outside the period: not listed.
      { id: 'cfg_1', ts: '2026-11-05 12:00:00', action: 'admin.config_change', attrs: { change: 'user.add' } },
      override('ov_old', '2026-10-01 09:00:00', { limit_type: 'volume', from: '1', to: '2', approved_by: 'x' }),
    ])
    const r = await compileReport(checkReportRequest({ type: 'pretrade-breaches', from: '2026-11-01T00:00:00Z', to: '2026-11-08T00:00:00Z' }), { store: h.store }, { id: 'rpt_overrides', generatedAt: new Date('2026-11-08T06:00:00Z') })
    const d = r.data as PretradeBreachesData
    const direct = await h.store.query<{ n: string; unapproved: string }>(
      `SELECT toString(count()) AS n, toString(countIf(attrs['approved_by'] = '')) AS unapproved FROM events FINAL
       WHERE action = 'admin.config_change' AND attrs['change'] = 'limit_override' AND ts >= '2026-11-01 00:00:00' AND ts < '2026-11-08 00:00:00'`,
    )
    expect(d.limit_overrides).toBe(Number(direct[0]!.n))
    expect(d.limit_overrides).toBe(3)
    expect(d.overrides_without_approver).toBe(Number(direct[0]!.unapproved))
    expect(d.overrides.map((o) => [o.event_id, o.limit_type, o.from, o.to, o.until, o.approved_by, o.requested_by, o.reason])).toEqual([
      ['ov_1', 'order_value', '1000000', '2500000', '2026-11-03T17:00:00.000Z', 'cro@example.com', 'desk.head@example.com', 'index rebalance'],
      ['ov_2', 'price_collar', '5%', 'none', null, 'risk@example.com', null, 'halt reopening'],
      ['ov_3', 'volume', '10000', '20000', null, null, null, 'block trade'],
    ])
    expect(d.overrides[0]).toMatchObject({ at: '2026-11-03T09:00:00.000001000Z', source: 'desk-a', account_id: 'acc_7' })
    expect(d.overrides[1]?.api_key_id).toBe('ak_3')
    const fields = r.not_recorded.map((n) => n.field)
    expect(fields).not.toContain('overrides of a pre-trade limit and who approved them')
    expect(fields).toContain('approver of some limit overrides')
    const section = r.sections.find((s) => s.title === 'Limit overrides and who approved them')
    expect(section?.table?.rows.map((row) => row[8])).toEqual(['cro@example.com', 'risk@example.com', '(none named)'])
    expect(r.queries.map((q) => q.name)).toContain('limit overrides reported in the period')
    const csv = (await renderReport(r, 'csv')).toString('utf8')
    expect(csv).toContain('cro@example.com')
    expect(csv).toContain('(none named)')
    expect((await renderReport(r, 'pdf')).subarray(0, 5).toString('latin1')).toBe('%PDF-')
  })

  it('a period without overrides says so and names nothing as missing about them', async () => {
    const r = await compileReport(checkReportRequest({ type: 'pretrade-breaches', from: '2026-12-01T00:00:00Z', to: '2026-12-02T00:00:00Z' }), { store: h.store }, { id: 'rpt_none', generatedAt: new Date('2026-12-03T00:00:00Z') })
    expect((r.data as PretradeBreachesData).overrides).toEqual([])
    expect(r.not_recorded).toEqual([])
    expect(r.sections.find((s) => s.title === 'Limit overrides and who approved them')?.text).toEqual(['No limit override was reported in the period.'])
  })
})
