/**
 * The simulator against a real Vigil (issue 5): a real `vigil up` from the built CLI with
 * its own private Redis; two demo APIs in this process ship to it as one source. One runs
 * `clean` for 20 s, the other `auth.brute_force` at the same time. The brute force's label
 * must be raised, and clean traffic must raise no alert on any of its keys, users, addresses
 * or networks, nor on the source they share (clock.skew: the guard's shipper batches, which
 * is not skew). What the attack raises besides its label is printed, not asserted. Needs
 * `npx turbo run build` first.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { rmSync } from 'node:fs'
import type { Shipper } from '@vigil/guard'
import { buildPlan, createSimApi, drive, type DemoApi, type Plan, type ShiftingSink } from '@vigil/demo'
import { exited, freePort, startUp, tempDataDir, vigilJson, type Running } from './vigil-process.js'

const SOURCE = 'sim-e2e'
const dataDir = tempDataDir('vigil-sim-e2e-')
const outboxes = [tempDataDir('vigil-sim-outbox-'), tempDataDir('vigil-sim-outbox-')]
let up: Running | undefined
let secret: string
let viewer: string
const apis: Array<{ api: DemoApi; sink: ShiftingSink; shipper: Shipper | undefined }> = []

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface AlertItem {
  rule: string
  severity: string
  entity: { type: string; id: string }
  summary: string
}

async function alerts(query = ''): Promise<AlertItem[]> {
  const res = await fetch(`${up!.url}/v1/alerts?limit=500${query}`, { headers: { authorization: `Bearer ${viewer}` } })
  expect(res.status).toBe(200)
  return ((await res.json()) as { items: AlertItem[] }).items
}

beforeAll(async () => {
  const env: NodeJS.ProcessEnv = { ...process.env, VIGIL_DATA_DIR: dataDir, VIGIL_LOG_LEVEL: 'warn' }
  delete env.REDIS_URL // a private Redis: the shared one carries other tests' queues
  secret = (vigilJson(['sources', 'add', SOURCE], env) as { secret: string }).secret
  viewer = (vigilJson(['tokens', 'create', '--role', 'viewer', '--name', 'sim'], env) as { token: string }).token
  up = await startUp(env, await freePort())
}, 90_000)

afterAll(async () => {
  for (const a of apis) {
    await a.api.close(2_000)
    await a.shipper?.close(2_000)
  }
  if (up) {
    up.child.kill('SIGTERM')
    await exited(up.child)
  }
  rmSync(dataDir, { recursive: true, force: true })
  for (const d of outboxes) rmSync(d, { recursive: true, force: true })
})

describe('simulator ↔ Vigil end to end', () => {
  it('auth.brute_force raises its label; 20 s of clean traffic alongside raises nothing', async () => {
    // The plans' time-of-day curves read a busy hour (14:00 UTC), whatever the hour the test runs at.
    const startMs = Date.UTC(2026, 10, 24, 14, 0, 0)
    const clean = buildPlan('clean', { seed: 20_261_124, startMs, durationMs: 20_000, keys: 40, source: SOURCE })
    const attack = buildPlan('auth.brute_force', { seed: 20_261_124, startMs, durationMs: 0, keys: 0, source: SOURCE })
    const plans: Plan[] = [clean, attack]
    for (const [i, plan] of plans.entries()) apis.push(await createSimApi(plan, { vigilUrl: up!.url, source: SOURCE, secret, dataDir: outboxes[i]! }))
    const results = await Promise.all(plans.map((plan, i) => drive(apis[i]!.api, plan, apis[i]!.sink, { realtime: true })))
    for (const a of apis) expect(await a.shipper!.flush(15_000)).toBe(true)
    expect(results[0]!.sent).toBeGreaterThan(20)
    expect(results[0]!.byCode).toEqual({ success: results[0]!.sent })
    expect(results[1]!.byCode.bad_signature).toBe(10)

    const label = attack.labels[0]!
    const end = Date.now() + 30_000
    let fired: AlertItem[] = []
    while (Date.now() < end) {
      fired = await alerts(`&rule=${label.rule}&api_key_id=${label.entity.id}`)
      if (fired.length > 0) break
      await sleep(250)
    }
    expect(fired.map((a) => [a.rule, a.entity])).toContainEqual([label.rule, label.entity])

    // Give the detectors a few more ticks past the clean run's last events.
    await sleep(3_000)
    const all = await alerts()
    const cleanEntities = new Set(clean.keys.flatMap((k) => [k.id, k.user_id, k.ip, `${k.home.prefix}.0/24`, k.account_id]))
    const onClean = all.filter((a) => cleanEntities.has(a.entity.id))
    console.log(`[sim-e2e] clean ${JSON.stringify(results[0])}; brute force ${JSON.stringify(results[1]!.byCode)}`)
    console.log(`[sim-e2e] alerts: ${all.map((a) => `${a.rule} ${a.entity.type}:${a.entity.id} (${a.severity}): ${a.summary}`).join(' | ')}`)
    expect(onClean.map((a) => `${a.rule} ${a.entity.type}:${a.entity.id} ${a.summary}`)).toEqual([])
    expect(all.filter((a) => a.entity.type === 'source').map((a) => `${a.rule} ${a.entity.id} ${a.summary}`)).toEqual([])
  }, 90_000)
})
