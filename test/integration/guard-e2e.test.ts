/**
 * The guard against a real Vigil (issue 5): a real `vigil up` from the built CLI, with its own
 * private Redis, and the demo trading API in this process with the guard's shipper and
 * control client pointed at it. Needs `npx turbo run build` first.
 *
 *  (a) a brute force on a key, as the guard sees it, reaches Vigil; Vigil revokes the key;
 *      the guard refuses it within 2 s of the revocation reaching its control client, and
 *      within 2 s of the alert turning critical (what issue 5 asks: refused within 2 s of the alert);
 *  (b) a kill-switch tripped by a responder cancels resting orders once, blocks new orders
 *      (reads go on), and is reset with four eyes;
 *  (c) with Vigil down, trading goes on (fail_open) and every event arrives afterwards.
 *
 * Only (a)'s enforcement bounds are timing assertions (the issue names them); the rest wait generously.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { rmSync } from 'node:fs'
import { signRequest, type ControlChange } from '@vigil/guard'
import { createDemoApi, demoClient, type DemoApi, type Order } from '@vigil/demo'
import { exited, freePort, startUp, tempDataDir, vigilJson, type Running } from './vigil-process.js'

const SOURCE = 'demo-api'
const dataDir = tempDataDir('vigil-guard-e2e-')
const outboxDir = tempDataDir('vigil-guard-outbox-')
let env: NodeJS.ProcessEnv
let port: number
let up: Running | undefined
let api: DemoApi
let alice: string
let bob: string
let viewer: string
/** Every change the control client applied, with when it arrived. */
const changes: Array<{ change: ControlChange; at: number }> = []

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 30_000, every = 100): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await probe()
    if (v !== undefined && v !== false) return v
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(every)
  }
}

function operator(pathname: string, token: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${up!.url}${pathname}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers ?? {}) } })
}

async function stopVigil(): Promise<void> {
  if (!up) return
  up.child.kill('SIGTERM')
  await exited(up.child)
  up = undefined
}

beforeAll(async () => {
  env = { ...process.env, VIGIL_DATA_DIR: dataDir, VIGIL_LOG_LEVEL: 'warn' }
  // Its own private Redis: the test run's shared one carries other tests' `alerts` queues.
  delete env.REDIS_URL
  const { secret } = vigilJson(['sources', 'add', SOURCE], env) as { secret: string }
  alice = (vigilJson(['tokens', 'create', '--role', 'responder', '--name', 'alice'], env) as { token: string }).token
  bob = (vigilJson(['tokens', 'create', '--role', 'responder', '--name', 'bob'], env) as { token: string }).token
  viewer = (vigilJson(['tokens', 'create', '--role', 'viewer', '--name', 'eve'], env) as { token: string }).token
  port = await freePort()
  up = await startUp(env, port)

  api = await createDemoApi({
    vigilUrl: up.url,
    source: SOURCE,
    secret,
    dataDir: outboxDir,
    lostChannelPolicy: 'fail_open',
    // With the guard's default lockout (10 failures) the key would be locked too: Vigil still
    // revokes it (auth.brute_force counts the `locked_out` refusals that follow), but the
    // guard would then answer a correct request `locked_out`, checked before revocation.
    // Raised here so the test sees Vigil's revocation itself being enforced.
    lockout: { maxFailures: 500 },
    // Short backoffs keep the outage in (c) from stretching the run.
    shipper: { flushMs: 50, retryBaseMs: 100, retryMaxMs: 1_000 },
    control: {
      reconnectBaseMs: 100,
      reconnectMaxMs: 1_000,
      pollMs: 1_000,
      onChange: (change) => changes.push({ change, at: performance.now() }),
    },
  })
  await api.start()
}, 120_000)

afterAll(async () => {
  await api?.close(2_000)
  await stopVigil()
  rmSync(dataDir, { recursive: true, force: true })
  rmSync(outboxDir, { recursive: true, force: true })
})

describe('guard ↔ Vigil end to end', () => {
  it('a revoked key is refused by the guard within 2 s of the revocation', async () => {
    const keyId = 'ak_demo_victim'
    const secret = api.addKey({ id: keyId, account_id: 'acc_victim', scopes: ['orders:read', 'orders:write'] })
    const client = demoClient(api.app, keyId, secret)
    expect((await client.request('GET', '/v1/positions')).status).toBe(200)

    // 60 forged signatures on the key from one address (inject's 127.0.0.1), well within a minute:
    // auth.brute_force fires at 10 and is critical from 40 in 5 minutes, so the
    // critical_credential_attack playbook revokes the key.
    const body = JSON.stringify({ symbol: 'AAPL', side: 'buy', type: 'market', qty: 1, venue: 'XNAS', client_order_id: 'forged' })
    const burstStart = Date.now()
    for (let i = 0; i < 60; i++) {
      const headers = signRequest({ keyId, secret: 'not-the-secret-at-all-0123456789', method: 'POST', path: '/v1/orders', body })
      const res = await api.app.inject({ method: 'POST', url: '/v1/orders', headers: { ...headers, 'content-type': 'application/json' }, payload: body })
      expect(res.statusCode).toBe(401)
      expect(res.json<{ error: { code: string } }>().error.code).toBe('bad_signature')
    }
    expect(await api.shipper!.flush(15_000)).toBe(true)

    // A correctly signed client keeps reading; its first refusal is the enforcement.
    let refusedAt: number | undefined
    let refusal: { status: number; code: string } | undefined
    await waitFor(
      'the key to be refused',
      async () => {
        const res = await client.request<{ error?: { code: string } }>('GET', '/v1/positions')
        if (res.status === 200) return undefined
        refusedAt = performance.now()
        refusal = { status: res.status, code: res.body.error?.code ?? '' }
        return true
      },
      60_000,
      20,
    )
    expect(refusal).toEqual({ status: 401, code: 'revoked_key' })
    const delta = changes.find((c) => c.change.type === 'key_revoked' && c.change.api_key_id === keyId)
    expect(delta, 'the key_revoked delta reached the control client before the refusal').toBeDefined()
    const enforcementMs = refusedAt! - delta!.at
    expect(enforcementMs).toBeGreaterThanOrEqual(0)
    expect(enforcementMs).toBeLessThanOrEqual(2_000)
    expect(api.control!.stats().streaming).toBe(true)

    // Vigil's side: the key is revoked by the playbook, under an incident opened by the critical
    // alert. The revocation goes out when the alert is picked up, before the run opens the
    // incident, so the key names its incident once that exists.
    type KeyView = { status: string; incident_id: string | null; revoked_at: string }
    const key = await waitFor('the revoked key to name its incident', async () => {
      const k = (await (await operator(`/v1/keys/${keyId}`, viewer)).json()) as KeyView
      return k.incident_id ? k : undefined
    })
    expect(key.status).toBe('revoked')
    expect(key.incident_id).toMatch(/^in_/)
    const alerts = (await (await operator(`/v1/alerts?rule=auth.brute_force&api_key_id=${keyId}`, viewer)).json()) as {
      items: Array<{ id: string; severity: string; first_seen: string; detected_at?: string }>
    }
    expect(alerts.items.map((a) => a.severity)).toContain('critical')
    // Issue 5: refused within 2 s of the alert that revokes it — the moment the brute force
    // turned critical (its history says when), which is what the playbook acts on.
    const critical = alerts.items.find((a) => a.severity === 'critical')!
    const history = ((await (await operator(`/v1/alerts/${critical.id}`, viewer)).json()) as { history: Array<{ severity: string; changed_at: string }> }).history
    const criticalAt = Date.parse(history.find((c) => c.severity === 'critical')?.changed_at ?? '')
    const refusedAtWall = Date.now() - (performance.now() - refusedAt!)
    expect(refusedAtWall - criticalAt).toBeGreaterThanOrEqual(0)
    expect(refusedAtWall - criticalAt).toBeLessThanOrEqual(2_000)
    const incident = (await (await operator(`/v1/incidents/${key.incident_id}`, viewer)).json()) as { opened_at: string; timeline: Array<{ at: string; kind: string }> }
    const openedAt = Date.parse(incident.timeline[0]?.at ?? incident.opened_at)
    const detectedAt = Math.min(...alerts.items.map((a) => Date.parse(a.detected_at ?? a.first_seen)))
    const refusedWall = refusedAtWall
    const ms = (n: number) => `${Math.round(n)} ms`
    console.log(
      `[guard-e2e] burst→refusal ${ms(refusedWall - burstStart)}; alert detected→refusal ${ms(refusedWall - detectedAt)}; ` +
        `incident opened (critical)→revoked_at ${ms(Date.parse(key.revoked_at) - openedAt)}; incident opened→refusal ${ms(refusedWall - openedAt)}; ` +
        `key_revoked delta→refusal ${enforcementMs.toFixed(1)} ms; alert critical→refusal ${ms(refusedWall - criticalAt)}`,
    )
  }, 90_000)

  it('a tripped kill-switch blocks orders and calls onKillSwitch', async () => {
    const trader = demoClient(api.app, 'ak_demo_trader', api.addKey({ id: 'ak_demo_trader', account_id: 'acc_trader', scopes: ['orders:read', 'orders:write', 'marketdata:read'] }))
    const other = demoClient(api.app, 'ak_demo_other', api.addKey({ id: 'ak_demo_other', account_id: 'acc_other', scopes: ['orders:read', 'orders:write'] }))
    const limit = (n: string, symbol = 'MSFT') => ({ symbol, side: 'buy', type: 'limit', qty: 10, price: 400, venue: 'XNAS', client_order_id: n })
    const resting: string[] = []
    for (const n of ['t-1', 't-2', 't-3']) {
      const res = await trader.request<Order>('POST', '/v1/orders', limit(n))
      expect(res.status).toBe(201)
      resting.push(res.body.id)
    }
    expect((await trader.request('DELETE', `/v1/orders/${resting[2]}`)).status).toBe(200)
    const otherOrder = await other.request<Order>('POST', '/v1/orders', limit('o-1'))
    expect(otherOrder.status).toBe(201)

    const trip = await operator('/v1/killswitches', alice, { method: 'POST', body: JSON.stringify({ scope: { type: 'account', id: 'acc_trader' }, reason: 'runaway algo' }) })
    expect(trip.status).toBe(201)
    const ks = (await trip.json()) as { id: string }

    const call = await waitFor('onKillSwitch', () => api.killSwitchCancels.find((c) => c.killSwitch.id === ks.id), 15_000, 20)
    expect(call.killSwitch.scope).toEqual({ type: 'account', id: 'acc_trader' })
    expect(call.cancelled).toBe(2)
    expect(resting.slice(0, 2).map((id) => api.orders.get(id)?.status)).toEqual(['cancelled', 'cancelled'])
    expect(api.orders.get(resting[0]!)?.cancelled_by).toBe(`killswitch:${ks.id}`)
    expect(api.orders.get(otherOrder.body.id)?.status).toBe('resting')

    const blocked = await trader.request<{ error: { code: string } }>('POST', '/v1/orders', limit('t-4'))
    expect([blocked.status, blocked.body.error.code]).toEqual([403, 'kill_switch'])
    expect((await trader.request('GET', '/v1/positions')).status).toBe(200)
    expect((await trader.request('GET', '/v1/accounts/acc_trader')).status).toBe(200)
    expect((await trader.request('GET', '/v1/marketdata/MSFT')).status).toBe(200)
    expect((await other.request('POST', '/v1/orders', limit('o-2'))).status).toBe(201)

    // Four eyes: alice asks, alice again is refused, bob confirms.
    expect((await operator(`/v1/killswitches/${ks.id}/reset`, alice, { method: 'POST', body: JSON.stringify({ reason: 'algo fixed' }) })).status).toBe(202)
    expect((await operator(`/v1/killswitches/${ks.id}/reset`, alice, { method: 'POST', body: JSON.stringify({ reason: 'algo fixed' }) })).status).toBe(409)
    expect((await trader.request('POST', '/v1/orders', limit('t-5'))).status).toBe(403)
    expect((await operator(`/v1/killswitches/${ks.id}/reset`, bob, { method: 'POST', body: JSON.stringify({ reason: 'checked with the desk head' }) })).status).toBe(200)
    await waitFor('killswitch_reset', () => changes.find((c) => c.change.type === 'killswitch_reset' && c.change.killswitch_id === ks.id), 15_000, 20)
    expect((await trader.request('POST', '/v1/orders', limit('t-6'))).status).toBe(201)
    // The hook ran once for this switch: the stream, its reconnects and polls do not repeat it.
    expect(api.killSwitchCancels.filter((c) => c.killSwitch.id === ks.id)).toHaveLength(1)
  }, 60_000)

  it('Vigil down → no trading request fails and every event arrives afterwards (counted)', async () => {
    const keyId = 'ak_demo_steady'
    const client = demoClient(api.app, keyId, api.addKey({ id: keyId, account_id: 'acc_steady', scopes: ['orders:read', 'orders:write'] }))
    const countEvents = async (): Promise<number> => {
      let n = 0
      let cursor: string | null = null
      do {
        const q: string = `/v1/events?api_key_id=${keyId}&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`
        const res = await operator(q, viewer)
        expect(res.status).toBe(200)
        const page = (await res.json()) as { items: unknown[]; next: string | null }
        n += page.items.length
        cursor = page.next
      } while (cursor)
      return n
    }

    for (let i = 0; i < 5; i++) expect((await client.request('GET', '/v1/positions')).status).toBe(200)
    expect(await api.shipper!.flush(15_000)).toBe(true)
    // 5 reads and the key store's key.create.
    const before = await waitFor('the first events to be queryable', async () => ((await countEvents()) === 6 ? 6 : undefined), 15_000, 200)
    const sentBefore = api.shipper!.stats().sent

    await stopVigil()
    // The issue says "for a minute"; 10 s keeps CI time sane and is well past every retry
    // and reconnect backoff used here (still under the control client's 30 s grace, and the
    // policy is fail_open anyway), so the shipper has retried and queued throughout.
    const N = 200
    const outageStart = Date.now()
    for (let i = 0; i < N; i++) {
      const res =
        i % 2 === 0
          ? await client.request('POST', '/v1/orders', { symbol: 'IBM', side: i % 4 === 0 ? 'buy' : 'sell', type: 'market', qty: 1 + (i % 7), venue: 'XNYS', client_order_id: `s-${i}` })
          : await client.request('GET', '/v1/positions')
      expect(res.status, `request ${i} during the outage`).toBe(i % 2 === 0 ? 201 : 200)
      await sleep(Math.max(0, outageStart + ((i + 1) * 10_000) / N - Date.now()))
    }
    const during = api.shipper!.stats()
    expect(during.sent).toBe(sentBefore)
    expect(during.queued + during.inFlight + during.onDisk).toBeGreaterThanOrEqual(N)
    expect(during.lastError).toBeDefined()

    up = await startUp(env, port)
    const outageMs = Date.now() - outageStart
    expect(await api.shipper!.flush(60_000)).toBe(true)
    const after = api.shipper!.stats()
    expect(after.sent - sentBefore).toBe(N)
    expect([after.dropped, after.rejected]).toEqual([0, 0])

    const total = await waitFor('every event to be queryable', async () => {
      const n = await countEvents()
      return n >= before + N ? n : undefined
    }, 30_000, 250)
    expect(total).toBe(before + N)
    console.log(`[guard-e2e] outage ${outageMs} ms (stop→healthy again): ${N} requests served, ${after.sent - sentBefore} events delivered after restart (${after.duplicates} duplicates)`)
    // The control client is back on the stream.
    await waitFor('the control stream to reopen', () => api.control!.stats().streaming, 15_000).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(api.control!.stats())}`)
    })
  }, 120_000)
})
