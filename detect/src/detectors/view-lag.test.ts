/**
 * Detectors when the batch's own rows are not readable from their tables yet: during one
 * insert ClickHouse fills its views one after another, so the engine can read a batch from
 * detect_stream before key_orders or key_geo hold it. The lag is made certain here by taking
 * a view away.
 * - order.fat_finger: a key whose history and fat order arrive together must still fire.
 * - geo.new_country: a new country whose key_geo row is not there yet must still fire.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { pino } from 'pino'
import { DetectionEngine } from '../engine.js'
import type { EngineRule } from '../detector.js'
import { loadRules } from '../rules.js'
import { startDetectHarness, storeEvents, type DetectHarness } from '../test-support.js'
import { orderFatFinger } from './behaviour-fat-finger.js'
import { geoNewCountry } from './behaviour-geo.js'

let h: DetectHarness
beforeAll(async () => {
  h = await startDetectHarness()
  await h.store.command('DROP VIEW IF EXISTS key_orders_mv')
}, 60_000)
afterAll(async () => {
  await h?.close()
})

const ruleOf = (id: string) => ({ ...(loadRules().find((r) => r.id === id) as EngineRule), enabled: true })
const rule = ruleOf('order.fat_finger')
let seq = 0
const order = (key: string, tsMs: number, qty: number, notional: number) => ({
  id: `ffb-${++seq}`,
  ts: new Date(tsMs).toISOString(),
  action: 'order.new',
  outcome: 'success',
  api_key_id: key,
  client_ip: '192.0.2.33',
  order: { symbol: 'AAPL', side: 'buy', type: 'limit', qty, price: notional / qty, notional, currency: 'USD', venue: 'XNAS' },
})

describe('order.fat_finger with its history in the same batch', () => {
  for (const memory of [true, false]) {
    it(`fires on the batch's own history ${memory ? 'with' : 'without'} engine memory`, async () => {
      const key = `ak_ffb_${memory ? 'mem' : 'plain'}`
      const now = Date.now()
      const history = Array.from({ length: 40 }, (_, i) => order(key, now - 60_000 + i * 1000, 40 + (i % 5) * 10, (40 + (i % 5) * 10) * 250))
      await storeEvents(h.store, [...history, order(key, now, 40_000, 10_000_000)])
      expect(Number((await h.store.query<{ n: string }>('SELECT count() AS n FROM key_orders WHERE api_key_id = {k:String}', { k: key }))[0]?.n)).toBe(0)
      const engine = new DetectionEngine({ store: h.store, logger: pino({ level: 'silent' }), rules: [rule], detectors: [orderFatFinger], name: key, memory })
      await engine.tick()
      const alerts = await engine.alerts.list({ limit: 10, rule: 'order.fat_finger' })
      expect(alerts.filter((a) => a.entity.id === key).map((a) => a.evidence.reason)).toEqual(['zscore'])
    }, 120_000)
  }
})

describe("geo.new_country with the new country's key_geo row not there yet", () => {
  it('fires on a key with readable history whose country row is missing', async () => {
    const key = 'ak_geo_lag'
    const now = Date.now()
    const use = (tsMs: number, ip: string, geo: Record<string, unknown>) => ({
      id: `ffb-${++seq}`,
      ts: new Date(tsMs).toISOString(),
      action: 'api.request',
      outcome: 'success',
      api_key_id: key,
      client_ip: ip,
      geo,
    })
    const GB = { country: 'GB', city: 'London', lat: 51.5142, lon: -0.0931 }
    const BR = { country: 'BR', city: 'Sao Paulo', lat: -23.5475, lon: -46.6361 }
    // Ten days of London, readable in key_geo; then the view is gone and Brazil arrives.
    await storeEvents(h.store, Array.from({ length: 80 }, (_, i) => use(now - 10 * 86_400_000 + i * 3 * 3_600_000, '81.2.69.142', GB)))
    await h.store.command('DROP VIEW IF EXISTS key_geo_mv')
    await storeEvents(h.store, [use(now, '200.147.67.142', BR)])
    expect((await h.store.query<{ c: string }>('SELECT country AS c FROM key_geo WHERE api_key_id = {k:String} GROUP BY c', { k: key })).map((r) => r.c)).toEqual(['GB'])
    for (const memory of [true, false]) {
      const engine = new DetectionEngine({ store: h.store, logger: pino({ level: 'silent' }), rules: [ruleOf('geo.new_country')], detectors: [geoNewCountry], name: `geo-${memory}`, memory })
      await engine.tick()
      const alerts = (await engine.alerts.list({ limit: 10, rule: 'geo.new_country' })).filter((a) => a.entity.id === key)
      expect(alerts.map((a) => a.evidence.country)).toEqual(['BR'])
      expect(alerts[0]?.evidence.history_events).toBe(80)
    }
  }, 120_000)
})
