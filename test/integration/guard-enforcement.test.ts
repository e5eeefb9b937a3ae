/**
 * The guard reports enforcement to a real Vigil (issue 8): Vigil runs in this process on
 * embedded ClickHouse; the demo trading API's guard (shipper and control client) and four more
 * control clients of the same source, each with another kind of `onKillSwitch` hook, follow it.
 *  - a trip reaches every guard; each ships one killswitch.trip through the signed ingest path,
 *    with the orders its hook cancelled ("not reported", failed or timed out otherwise);
 *  - a reset (four eyes) ships one killswitch.reset per guard; a `source` switch for another
 *    trading API is reported by none;
 *  - a limit override with its approver, through the demo's admin route, is stored as an
 *    admin.config_change;
 *  - kill-switch-log and pretrade-breaches compiled from what was stored agree with direct queries.
 * Kept apart from guard-e2e.test.ts (a `vigil up` process) so that one does not grow slower.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { loadConfig } from '@vigil/core'
import { startVigil, type VigilHandle } from '@vigil/server'
import { createControlClient, type ActiveKillSwitch, type ControlClient } from '@vigil/guard'
import { createDemoApi, demoClient, type DemoApi } from '@vigil/demo'
import { checkReportRequest, compileReport, type KillSwitchLogData, type PretradeBreachesData } from '@vigil/respond'

const SOURCE = 'desk-enforce'
const dir = mkdtempSync(path.join(tmpdir(), 'vigil-guard-enforcement-'))
let vigil: VigilHandle
let api: DemoApi
const clients: ControlClient[] = []
const periodStart = new Date(Date.now() - 60_000).toISOString()

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 30_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

interface Stored {
  id: string
  action: string
  source: string
  user_id: string
  account_id: string
  attrs: Record<string, string>
}
const stored = (action: string, ksId?: string) =>
  vigil.store.query<Stored>(
    `SELECT id, action, source, user_id, account_id, attrs FROM events FINAL WHERE action = {a:String} ${ksId ? "AND attrs['kill_switch_id'] = {k:String}" : ''} ORDER BY attrs['guard_instance']`,
    { a: action, k: ksId ?? '' },
  )
const whenCount = (action: string, ksId: string, n: number) => async () => {
  const rows = await stored(action, ksId)
  return rows.length >= n ? rows : undefined
}

beforeAll(async () => {
  vigil = await startVigil(loadConfig({ VIGIL_DATA_DIR: path.join(dir, 'data'), VIGIL_PORT: '0', VIGIL_LOG_LEVEL: 'warn', REDIS_URL: process.env.REDIS_URL as string }, { cwd: dir }))
  const { secret } = await vigil.sources.add(SOURCE, { by: 'guard-enforcement test' })
  api = await createDemoApi({
    vigilUrl: vigil.url,
    source: SOURCE,
    secret,
    dataDir: path.join(dir, 'outbox'),
    lostChannelPolicy: 'fail_open',
    shipper: { flushMs: 50 },
    control: { guardInstance: 'demo', pollMs: 1_000, reconnectBaseMs: 100 },
  })
  await api.start()
  // Four more guards of the same source, sharing the demo's shipper, each with another hook.
  const hooks: Record<string, ((ks: ActiveKillSwitch) => unknown) | undefined> = {
    'g-silent': () => undefined,
    'g-throws': () => {
      throw new Error('order gateway down')
    },
    'g-slow': () => new Promise(() => undefined),
    'g-nohook': undefined,
  }
  for (const [instance, hook] of Object.entries(hooks)) {
    const c = createControlClient({
      vigilUrl: vigil.url,
      source: SOURCE,
      secret,
      sink: api.shipper!,
      guardInstance: instance,
      cancelReportTimeoutMs: 300,
      pollMs: 1_000,
      reconnectBaseMs: 100,
      ...(hook ? { onKillSwitch: hook as (ks: ActiveKillSwitch) => void } : {}),
    })
    c.start()
    await c.ready()
    clients.push(c)
  }
}, 120_000)

afterAll(async () => {
  for (const c of clients) await c.close()
  await api?.close(2_000)
  await vigil?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('the guard reports enforcement to Vigil', () => {
  it('each guard reports applying a trip and a reset, with the orders it cancelled; a limit override with its approver', async () => {
    const trader = demoClient(api.app, 'ak_enf_1', api.addKey({ id: 'ak_enf_1', account_id: 'acc_enf', scopes: ['orders:write'] }))
    for (let i = 0; i < 3; i++) {
      const res = await trader.request('POST', '/v1/orders', { symbol: 'AAPL', side: 'buy', type: 'limit', qty: 10, price: 100 + i, venue: 'XNAS', client_order_id: `rest-${i}` })
      expect(res.status).toBe(201)
    }

    const ks = vigil.respond.killswitches
    const other = await ks.trip({ type: 'source', id: 'another-desk' }, { reason: 'not ours', actor: 'operator:alice' })
    const trip = await ks.trip({ type: 'account', id: 'acc_enf' }, { reason: 'runaway algo', actor: 'operator:alice' })
    const trips = await waitFor('five killswitch.trip events', whenCount('killswitch.trip', trip.value.id, 5))
    expect(trips.map((t) => [t.source, t.attrs.guard_instance, t.attrs.cancel_report, t.attrs.orders_cancelled ?? null])).toEqual([
      [SOURCE, 'demo', 'reported', '3'],
      [SOURCE, 'g-nohook', 'no_hook', null],
      [SOURCE, 'g-silent', 'not_reported', null],
      [SOURCE, 'g-slow', 'timeout', null],
      [SOURCE, 'g-throws', 'hook_failed', null],
    ])
    expect(api.killSwitchCancels.find((c) => c.killSwitch.id === trip.value.id)?.cancelled).toBe(3)
    for (const t of trips) {
      expect(t.attrs).toMatchObject({ kill_switch_scope: 'account:acc_enf', control_version: String(trip.version), applied_via: 'stream' })
      expect(t.attrs.applied_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/)
    }

    await ks.requestReset(trip.value.id, { reason: 'algo fixed', actor: 'operator:alice' })
    await ks.requestReset(trip.value.id, { reason: 'confirmed', actor: 'operator:bob' })
    const resets = await waitFor('five killswitch.reset events', whenCount('killswitch.reset', trip.value.id, 5))
    expect(resets.map((r) => r.attrs.guard_instance)).toEqual(['demo', 'g-nohook', 'g-silent', 'g-throws', 'g-slow'].sort())
    for (const r of resets) expect(r.attrs).not.toHaveProperty('cancel_report')

    const officer = demoClient(api.app, 'ak_enf_risk', api.addKey({ id: 'ak_enf_risk', account_id: 'acc_risk', user_id: 'desk.head@example.com', scopes: ['limits:override'] }))
    const ov = await officer.request<{ event_id: string }>('POST', '/v1/admin/limit-overrides', { account_id: 'acc_enf', limit_type: 'price_collar', from: '5%', to: '8%', approved_by: 'cro@example.com', reason: 'reopening auction' })
    expect(ov.status).toBe(201)
    expect(await api.shipper!.flush(15_000)).toBe(true)
    const [change] = await waitFor('the override in storage', async () => {
      const rows = await stored('admin.config_change')
      return rows.length > 0 ? rows : undefined
    })
    expect(change).toMatchObject({ id: ov.body.event_id, source: SOURCE, user_id: 'cro@example.com', account_id: 'acc_enf', attrs: { change: 'limit_override', limit_type: 'price_collar', approved_by: 'cro@example.com', requested_by: 'desk.head@example.com' } })
    // Nobody here enforces another trading API's source switch, so nobody reports it.
    expect(await stored('killswitch.trip', other.value.id)).toEqual([])

    const period = { from: periodStart, to: new Date(Date.now() + 60_000).toISOString() }
    const log = await compileReport(checkReportRequest({ type: 'kill-switch-log', ...period }), { store: vigil.store }, { id: 'rpt_enf_ks' })
    const d = log.data as KillSwitchLogData
    const entry = d.entries.find((e) => e.change === 'trip' && e.killswitch_id === trip.value.id)!
    const [direct] = await vigil.store.query<{ n: string; guards: string }>(
      `SELECT toString(sum(toUInt64OrZero(attrs['orders_cancelled']))) AS n, toString(count()) AS guards FROM events FINAL WHERE action = 'killswitch.trip' AND attrs['kill_switch_id'] = {k:String}`,
      { k: trip.value.id },
    )
    expect(entry.orders_cancelled).toBe(Number(direct!.n))
    expect(entry.orders_cancelled).toBe(3)
    expect(entry.guards).toHaveLength(Number(direct!.guards))
    for (const g of entry.guards) expect(g.change_to_applied_ms).toEqual(expect.any(Number))
    expect(entry.sources_not_reporting).toEqual([])
    expect(d.entries.find((e) => e.change === 'reset')?.guards).toHaveLength(5)
    // Four guards applied the trip without a count: said so, per source, never counted as 0.
    const uncounted = log.not_recorded.filter((n) => n.field.startsWith('orders cancelled at source'))
    expect(uncounted).toHaveLength(1)
    expect(uncounted[0]?.field.startsWith(`orders cancelled at source ${SOURCE}: `)).toBe(true)
    for (const why of ['no_hook', 'not_reported', 'timeout', 'hook_failed']) expect(uncounted[0]?.field).toContain(`${trip.value.id} (${why})`)
    expect(log.not_recorded.map((n) => n.field)).not.toContain('time each guard applied a trip')

    const pre = await compileReport(checkReportRequest({ type: 'pretrade-breaches', ...period }), { store: vigil.store }, { id: 'rpt_enf_pt' })
    expect((pre.data as PretradeBreachesData).overrides.map((o) => [o.event_id, o.limit_type, o.from, o.to, o.approved_by])).toEqual([[ov.body.event_id, 'price_collar', '5%', '8%', 'cro@example.com']])
  }, 120_000)
})
