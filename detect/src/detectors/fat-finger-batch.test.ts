/**
 * order.fat_finger when the batch's own orders are not readable from `key_orders` yet: during
 * one insert ClickHouse fills its views one after another, so the engine can read a batch
 * from detect_stream before key_orders holds it. A key whose history and fat order arrive
 * together must still fire. The lag is made certain here by taking key_orders' view away.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { pino } from 'pino'
import { DetectionEngine } from '../engine.js'
import type { EngineRule } from '../detector.js'
import { loadRules } from '../rules.js'
import { startDetectHarness, storeEvents, type DetectHarness } from '../test-support.js'
import { orderFatFinger } from './behaviour-fat-finger.js'

let h: DetectHarness
beforeAll(async () => {
  h = await startDetectHarness()
  await h.store.command('DROP VIEW IF EXISTS key_orders_mv')
}, 60_000)
afterAll(async () => {
  await h?.close()
})

const rule = { ...(loadRules().find((r) => r.id === 'order.fat_finger') as EngineRule), enabled: true }
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
