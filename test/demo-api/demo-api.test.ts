/**
 * The demo trading API on its own (no Vigil): a signed order is accepted into the book and
 * its event carries the order; a key without the scope is refused, and that is an event too;
 * a limit override names its approver and is shipped as an admin.config_change.
 */
import { describe, it, expect, afterEach } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { ActiveKillSwitch, ControlView, GuardEvent } from '@vigil/guard'
import { createDemoApi, demoClient, validateOrder, type DemoApi, type Order } from '@vigil/demo'

const dirs: string[] = []
let api: DemoApi | undefined
afterEach(async () => {
  await api?.close(0)
  api = undefined
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

async function demo(control?: ControlView) {
  const events: GuardEvent[] = []
  const dataDir = mkdtempSync(path.join(tmpdir(), 'vigil-demo-api-'))
  dirs.push(dataDir)
  api = await createDemoApi({
    vigilUrl: 'http://127.0.0.1:9',
    source: 'demo-api',
    secret: 'unused-secret-0123456789',
    dataDir,
    lostChannelPolicy: 'fail_open',
    sink: { emit: (e) => events.push(e) },
    controlView: control ?? { isRevoked: () => false, killSwitchFor: () => undefined, degraded: () => false, version: () => 1 },
  })
  return { api, events }
}

const order = { symbol: 'AAPL', side: 'buy', type: 'limit', qty: 100, price: 187.5, venue: 'XNAS', client_order_id: 'c-1' }

describe('demo trading API', () => {
  it('accepts a signed order into the book and ships an order.new event carrying it', async () => {
    const { api, events } = await demo()
    const secret = api.addKey({ id: 'ak_demo_1', account_id: 'acc-1', scopes: ['orders:read', 'orders:write'] })
    const client = demoClient(api.app, 'ak_demo_1', secret)

    const res = await client.request<Order>('POST', '/v1/orders', order)
    expect(res.status).toBe(201)
    expect(res.body).toMatchObject({ status: 'resting', account_id: 'acc-1', symbol: 'AAPL', qty: 100 })
    expect(api.orders.get(res.body.id)?.status).toBe('resting')

    const ev = events.find((e) => e.action === 'order.new')
    expect(ev).toMatchObject({
      outcome: 'success',
      api_key_id: 'ak_demo_1',
      account_id: 'acc-1',
      http: { method: 'POST', path: '/v1/orders', status: 201 },
      order: { id: res.body.id, client_order_id: 'c-1', symbol: 'AAPL', side: 'buy', type: 'limit', qty: 100, price: 187.5, venue: 'XNAS', notional: 18750 },
    })

    // Validation is the API's own: 422, and the event says invalid_request.
    expect((await client.request('POST', '/v1/orders', { ...order, client_order_id: 'c-2', type: 'limit', price: undefined })).status).toBe(422)
    expect(events.at(-1)).toMatchObject({ action: 'order.new', outcome: 'failure', reason: 'invalid_request' })
    expect(validateOrder({ ...order, type: 'market', price: undefined })).toMatchObject({ ok: true })
  })

  it('refuses a key without the route scope, and an order under a kill-switch, each with one event', async () => {
    const ks: ActiveKillSwitch = { id: 'ks_1', scope: { type: 'account', id: 'acc-2' }, tripped_at: new Date().toISOString(), reason: 'test' }
    const { api, events } = await demo({ isRevoked: () => false, killSwitchFor: (ctx) => (ctx.account_id === 'acc-2' ? ks : undefined), degraded: () => false, version: () => 1 })
    const secret = api.addKey({ id: 'ak_demo_ro', account_id: 'acc-1', scopes: ['orders:read'] })
    const ro = demoClient(api.app, 'ak_demo_ro', secret)
    const res = await ro.request<{ error: { code: string } }>('POST', '/v1/withdrawals', { amount: 10, currency: 'USD', destination: 'x' })
    expect([res.status, res.body.error.code]).toEqual([403, 'scope_denied'])
    expect(events.at(-1)).toMatchObject({ action: 'funds.withdraw', outcome: 'denied', reason: 'scope_denied', attrs: { required_scope: 'funds:withdraw' } })
    expect((await ro.request('GET', '/v1/accounts/acc-1')).status).toBe(200)

    const halted = demoClient(api.app, 'ak_demo_2', api.addKey({ id: 'ak_demo_2', account_id: 'acc-2', scopes: ['orders:read', 'orders:write'] }))
    const refused = await halted.request<{ error: { code: string } }>('POST', '/v1/orders', order)
    expect([refused.status, refused.body.error.code]).toEqual([403, 'kill_switch'])
    expect(api.orders.size).toBe(0)
    // Three requests, three events (plus the key store's two key.create).
    expect(events.filter((e) => e.http)).toHaveLength(3)
    expect(events.filter((e) => e.action === 'key.create')).toHaveLength(2)
  })

  it('reports a limit override with its approver; refuses a bad one by name and a key without the scope', async () => {
    const { api, events } = await demo()
    const officer = demoClient(api.app, 'ak_risk', api.addKey({ id: 'ak_risk', account_id: 'acc-risk', user_id: 'desk.head@example.com', scopes: ['limits:override'] }))
    const body = { account_id: 'acc-7', limit_type: 'order_value', from: 1_000_000, to: 2_500_000, until: new Date(Date.now() + 3_600_000).toISOString(), approved_by: 'cro@example.com', reason: 'index rebalance' }
    const res = await officer.request<{ event_id: string }>('POST', '/v1/admin/limit-overrides', body)
    expect(res.status).toBe(201)
    const change = events.find((e) => e.action === 'admin.config_change')
    expect(change).toMatchObject({
      id: res.body.event_id,
      user_id: 'cro@example.com',
      account_id: 'acc-7',
      attrs: { change: 'limit_override', limit_type: 'order_value', from: '1000000', to: '2500000', approved_by: 'cro@example.com', requested_by: 'desk.head@example.com', override_reason: 'index rebalance' },
    })
    expect(api.limitOverrides.map((o) => [o.limitType, o.approvedBy, o.event_id])).toEqual([['order_value', 'cro@example.com', res.body.event_id]])
    // The request itself is an ordinary api.request pointing at the override's event.
    expect(events.find((e) => e.http?.path === '/v1/admin/limit-overrides')).toMatchObject({ action: 'api.request', outcome: 'success', attrs: { limit_override_event: res.body.event_id } })

    for (const [bad, why] of [
      [{ ...body, approved_by: undefined }, /approvedBy must be a non-empty string/],
      [{ ...body, approver: 'cro@example.com' }, /unknown field\(s\): "approver"/],
      [{ ...body, until: '2020-01-01T00:00:00Z' }, /until is not in the future/],
      [[body], /body must be a JSON object/],
    ] as const) {
      const r = await officer.request<{ error: { code: string; message: string } }>('POST', '/v1/admin/limit-overrides', bad)
      expect(r.status).toBe(422)
      expect(r.body.error.message).toMatch(why)
    }
    expect(events.filter((e) => e.action === 'admin.config_change')).toHaveLength(1)
    const trader = demoClient(api.app, 'ak_trader', api.addKey({ id: 'ak_trader', account_id: 'acc-7', scopes: ['orders:write'] }))
    expect((await trader.request('POST', '/v1/admin/limit-overrides', body)).status).toBe(403)
    expect(api.limitOverrides).toHaveLength(1)
  })
})
