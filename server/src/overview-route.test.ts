/**
 * GET /v1/overview against direct ClickHouse queries on the raw tables: the route reads
 * rollups, these read events and alert_changes, and the two must agree.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { AlertStore, type Finding } from '@vigil/detect'
import { insertEvents, openTestStore, startTestApp, type TestApp, type TestStore } from './test-support.js'
import { overviewRoutes, overviewStep, type Overview } from './overview-route.js'

let t: TestStore
let h: TestApp
let app: FastifyInstance
// A whole minute, so an hour before it splits into exactly 240 buckets of 15 s.
const NOW = Math.floor(Date.now() / 60_000) * 60_000
const FROM = NOW - 3_600_000
const iso = (ms: number) => new Date(ms).toISOString()

/** Events of a source: `n` of them from `startAgo` before NOW, `every` ms apart, received `skew(i)` ms after their ts. */
function events(source: string, n: number, startAgo: number, every: number, skew: (i: number) => number, fail: (i: number) => boolean = () => false) {
  return Array.from({ length: n }, (_, i) => {
    const ts = NOW - startAgo + i * every
    return {
      id: `${source}-${i}`,
      ts: iso(ts),
      received_at: iso(ts + skew(i)),
      clock_skew_ms: skew(i),
      source,
      action: 'api.request',
      outcome: fail(i) ? 'failure' : 'success',
      api_key_id: `key-${source}`,
    }
  })
}

beforeAll(async () => {
  t = await openTestStore()
  h = await startTestApp(t)
  await h.sources.add('src-never')
  await insertEvents(t.store, [
    // In sync, last event 10 s ago (received 3 ms later); every seventh fails.
    ...events('src-ok', 120, 1_200_000, 10_000, (i) => 1 + (i % 5) * 0.5, (i) => i % 7 === 0),
    // clock.skew holds fix-gw-ldn-1 to 1 ms (rules/detections/clock_skew.yaml); it runs 3 ms behind.
    ...events('fix-gw-ldn-1', 60, 600_000, 9_000, (i) => 3 + (i % 3) * 0.25),
    // Quiet for 20 minutes, and for 2 hours; one event outside the period, just before it.
    ...events('src-stale', 10, 1_800_000, 60_000, () => 2),
    ...events('src-old', 5, 7_500_000, 60_000, () => 2),
    ...events('src-edge', 1, 3_600_001, 1, () => -4),
  ])
  const alerts = new AlertStore(t.store)
  const sev = ['low', 'medium', 'high', 'critical', 'high', 'high'] as const
  for (let i = 0; i < sev.length; i++) {
    const at = NOW - 3_000_000 + i * 400_000
    const f: Finding = {
      rule: 'auth.brute_force',
      severity: sev[i] as Finding['severity'],
      score: 10,
      entity: { type: 'api_key', id: `ov-key-${i}` },
      api_key_id: `ov-key-${i}`,
      firstSeenMs: at,
      lastSeenMs: at + 10,
      windowStartMs: at,
      count: 1,
      summary: 's',
      evidence: {},
    }
    await alerts.upsert(f, 60_000)
  }
  // Two incidents open, one of them then closed; one kill-switch tripped.
  const all = await alerts.list({ limit: 10 })
  const a0 = all[0]
  const a1 = all[1]
  if (!a0 || !a1) throw new Error('alerts missing')
  await h.respond.incidents.openForAlert(a0, { actor: 'test', playbook: null })
  const closing = await h.respond.incidents.openForAlert(a1, { actor: 'test', playbook: null })
  await h.respond.incidents.setStatus(closing.incident.id, 'closed', 'done', 'test')
  await h.respond.killswitches.trip({ type: 'account', id: 'acct-ov' }, { reason: 'overview test', actor: 'test' })
  app = await h.extraApp({ plugins: [overviewRoutes({ store: t.store, sources: h.sources, killswitches: h.respond.killswitches, now: () => NOW })] })
})
afterAll(async () => {
  await h?.close()
  await t?.cleanup()
})

async function overview(query = `?from=${iso(FROM)}&to=${iso(NOW)}`) {
  return app.inject({ url: `/v1/overview${query}`, headers: { authorization: `Bearer ${h.tokens.viewer}` } })
}
const code = (res: { json(): unknown }) => (res.json() as { error?: { code?: string } }).error?.code

describe('GET /v1/overview', () => {
  let o: Overview
  beforeAll(async () => {
    const res = await overview()
    expect(res.statusCode, res.body).toBe(200)
    o = res.json() as Overview
  })

  it('answers 240 buckets of 15 s for an hour, the period as asked', () => {
    expect(o.from).toBe(iso(FROM).replace('.000Z', 'Z'))
    expect(o.to).toBe(iso(NOW).replace('.000Z', 'Z'))
    expect(o.bucket_ms).toBe(15_000)
    expect(o.events).toHaveLength(240)
    expect(o.alerts).toHaveLength(240)
    expect(o.events[0]?.t).toBe(iso(FROM).replace('.000Z', 'Z'))
  })

  it('counts events and failures per bucket as the raw events do', async () => {
    const direct = await t.store.query<{ t: string; n: string; f: string }>(
      `SELECT toString(intDiv(toUnixTimestamp(ts), 15) * 15) AS t, toString(count()) AS n, toString(countIf(outcome != 'success')) AS f
       FROM events FINAL WHERE ts >= fromUnixTimestamp64Milli({from:Int64}) AND ts < fromUnixTimestamp64Milli({to:Int64}) GROUP BY t`,
      { from: FROM, to: NOW },
    )
    const want = new Map(direct.map((r) => [iso(Number(r.t) * 1000).replace('.000Z', 'Z'), { count: Number(r.n), failures: Number(r.f) }]))
    const got = new Map(o.events.filter((b) => b.count > 0).map((b) => [b.t, { count: b.count, failures: b.failures }]))
    expect(got).toEqual(want)
    expect([...got.values()].reduce((s, b) => s + b.failures, 0)).toBeGreaterThan(0)
  })

  it('counts alerts by severity per bucket as alert_changes does', async () => {
    const direct = await t.store.query<{ t: string; s: string; n: string }>(
      `SELECT toString(intDiv(toUnixTimestamp(fs), 15) * 15) AS t, s, toString(count()) AS n FROM
         (SELECT id, argMax(severity, version) AS s, min(first_seen) AS fs FROM alert_changes GROUP BY id)
       WHERE fs >= fromUnixTimestamp64Milli({from:Int64}) AND fs < fromUnixTimestamp64Milli({to:Int64}) GROUP BY t, s`,
      { from: FROM, to: NOW },
    )
    let total = 0
    for (const r of direct) {
      const bucket = o.alerts.find((b) => b.t === iso(Number(r.t) * 1000).replace('.000Z', 'Z'))
      expect(bucket?.[r.s as 'low' | 'medium' | 'high' | 'critical'], `${r.t} ${r.s}`).toBe(Number(r.n))
      total += Number(r.n)
    }
    expect(total).toBe(6)
    expect(o.alerts.reduce((s, b) => s + b.low + b.medium + b.high + b.critical, 0)).toBe(6)
  })

  it('counts open incidents as the incidents list does, and lists tripped kill-switches', async () => {
    const list = async (status: string) =>
      ((await h.app.inject({ url: `/v1/incidents?status=${status}`, headers: { authorization: `Bearer ${h.tokens.viewer}` } })).json() as { items: unknown[] }).items.length
    expect(o.open_incidents).toBe((await list('open')) + (await list('contained')))
    expect(o.open_incidents).toBe(1)
    expect(o.tripped_killswitches).toEqual([expect.objectContaining({ scope: { type: 'account', id: 'acct-ov' }, status: 'tripped' })])
  })

  it("gives each source's last event, lag, last 5 minutes, skew against its clock.skew limit, and status", async () => {
    const by = new Map(o.sources.map((s) => [s.source, s]))
    expect([...by.keys()]).toEqual(['fix-gw-ldn-1', 'src-edge', 'src-never', 'src-ok', 'src-old', 'src-stale'])
    const last = await t.store.query<{ source: string; at: string }>(`SELECT source, toString(max(received_at)) AS at FROM events GROUP BY source`)
    for (const r of last) {
      const s = by.get(r.source)
      expect(Date.parse(s?.last_event_at ?? ''), r.source).toBe(Date.parse(`${r.at.replace(' ', 'T')}Z`))
      expect(s?.lag_ms, r.source).toBe(NOW - Date.parse(s?.last_event_at ?? ''))
    }
    const recent = await t.store.query<{ source: string; n: string }>(
      `SELECT source, toString(count()) AS n FROM events FINAL WHERE ts >= fromUnixTimestamp64Milli({since:Int64}) GROUP BY source`,
      { since: NOW - 300_000 },
    )
    for (const s of o.sources) expect(s.events_5m, s.source).toBe(Number(recent.find((r) => r.source === s.source)?.n ?? 0))
    expect(by.get('src-ok')?.events_5m).toBeGreaterThan(0)

    const skew = await t.store.query<{ source: string; p50: number; p99: number; mx: number }>(
      `SELECT source, quantileExact(0.5)(clock_skew_ms) AS p50, quantileExact(0.99)(clock_skew_ms) AS p99, max(abs(clock_skew_ms)) AS mx
       FROM events FINAL WHERE ts >= fromUnixTimestamp64Milli({from:Int64}) AND ts < fromUnixTimestamp64Milli({to:Int64}) GROUP BY source`,
      { from: FROM, to: NOW },
    )
    for (const r of skew) {
      const s = by.get(r.source)?.clock_skew_ms
      // p50 and p99 come from t-digests: close to the exact percentiles, not equal.
      expect(s?.p50, r.source).toBeCloseTo(r.p50, 0)
      expect(Math.abs((s?.p99 ?? 0) - r.p99), r.source).toBeLessThan(0.6)
      expect(s?.max, r.source).toBe(r.mx)
    }
    expect(by.get('src-old')?.clock_skew_ms).toBeNull()

    expect(by.get('fix-gw-ldn-1')).toMatchObject({ limit_ms: 1, status: 'skew_breach' })
    expect(by.get('src-ok')).toMatchObject({ limit_ms: 250, status: 'ok', lag_ms: 9_997 })
    expect(by.get('src-stale')?.status).toBe('stale')
    expect(by.get('src-old')?.status).toBe('silent')
    expect(by.get('src-never')).toEqual({
      source: 'src-never',
      last_event_at: null,
      lag_ms: null,
      events_5m: 0,
      clock_skew_ms: null,
      limit_ms: 250,
      status: 'silent',
    })
  })

  it('defaults to the last hour', async () => {
    const res = await overview('')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ to: iso(NOW).replace('.000Z', 'Z'), from: iso(FROM).replace('.000Z', 'Z'), bucket_ms: 15_000 })
  })

  it('never answers more than 240 buckets', () => {
    for (const span of [1_000, 60_000, 3_600_000, 86_400_000, 7 * 86_400_000, 35 * 86_400_000, 239 * 86_400_000]) {
      for (const offset of [0, 1, 7_777]) {
        const from = NOW - span + offset
        const step = overviewStep(from, NOW)
        expect(Math.ceil(NOW / step) - Math.floor(from / step), `${span} ${offset}`).toBeLessThanOrEqual(240)
      }
    }
  })

  it('refuses a bad period with 400 bad_time_range and an unknown parameter with 400 bad_request', async () => {
    for (const q of ['?from=yesterday', `?from=${iso(NOW)}&to=${iso(FROM)}`, `?from=${iso(NOW - 240 * 86_400_000)}&to=${iso(NOW)}`, '?to=2026-13-01T00:00:00Z', '?from=a&from=b']) {
      const res = await overview(q)
      expect([res.statusCode, code(res)], q).toEqual([400, 'bad_time_range'])
    }
    const unknown = await overview('?bucket=1')
    expect([unknown.statusCode, code(unknown)]).toEqual([400, 'bad_request'])
    const regulator = await app.inject({ url: '/v1/overview', headers: { authorization: `Bearer ${h.tokens.regulator}` } })
    expect(regulator.statusCode).toBe(403)
  })
})
