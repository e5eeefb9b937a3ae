import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { backtest } from './backtest.js'
import type { Detector, EngineRule, Finding } from './detector.js'
import { startDetectHarness, storeEvents, type DetectHarness } from './test-support.js'

// Fires on every `test.trigger` event of a key; backtest must merge repeats within the
// suppression period into one would-be alert, and write nothing.
const trigger: Detector = {
  ruleId: 'test.trigger',
  async detect(events) {
    return events
      .filter((e) => e.action === 'test.trigger')
      .map(
        (e): Finding => ({
          rule: 'test.trigger',
          severity: 'medium',
          score: 10,
          entity: { type: 'api_key', id: e.api_key_id },
          firstSeenMs: e.tsMs,
          lastSeenMs: e.tsMs,
          windowStartMs: e.tsMs,
          count: 1,
          summary: `trigger ${e.api_key_id}`,
          evidence: { sample_event_ids: [e.id] },
        }),
      )
  },
}
const rule: EngineRule = { id: 'test.trigger', severity: 'medium', entity: 'api_key', enabled: true, windowMs: 60_000, latenessMs: 0, suppressionMs: 10 * 60_000, params: {} }

let h: DetectHarness
beforeAll(async () => {
  h = await startDetectHarness()
  const at = (min: number) => new Date(Date.UTC(2026, 10, 20, 12, min)).toISOString()
  await storeEvents(h.store, [
    { id: 'a1', ts: at(0), action: 'test.trigger', outcome: 'success', api_key_id: 'k1' },
    { id: 'a2', ts: at(5), action: 'test.trigger', outcome: 'success', api_key_id: 'k1' },
    { id: 'a3', ts: at(30), action: 'test.trigger', outcome: 'success', api_key_id: 'k1' },
    { id: 'b1', ts: at(1), action: 'api.request', outcome: 'success', api_key_id: 'k2' },
    { id: 'c1', ts: at(50), action: 'test.trigger', outcome: 'success', api_key_id: 'k3' },
  ])
})
afterAll(async () => {
  await h?.close()
})

describe('backtest', () => {
  it('replays stored history in event time and merges repeats within suppression', async () => {
    const r = await backtest(h.store, [rule], [trigger], { fromMs: Date.UTC(2026, 10, 20), toMs: Date.UTC(2026, 10, 21), pageSize: 2 })
    expect(r.events).toBe(5)
    expect(r.alerts.map((a) => [a.entity.id, a.count, a.first_seen])).toEqual([
      ['k1', 2, '2026-11-20T12:00:00.000Z'],
      ['k1', 1, '2026-11-20T12:30:00.000Z'],
      ['k3', 1, '2026-11-20T12:50:00.000Z'],
    ])
    expect(r.byRule).toEqual({ 'test.trigger': 3 })
  })

  it('escalates as the engine would, a merged would-be alert by its summed count', async () => {
    const escalating: EngineRule = { ...rule, escalate: [{ severity: 'high', min_count: 2 }] }
    const r = await backtest(h.store, [escalating], [trigger], { fromMs: Date.UTC(2026, 10, 20), toMs: Date.UTC(2026, 10, 21), pageSize: 2 })
    expect(r.alerts.map((a) => [a.entity.id, a.count, a.severity, a.escalated])).toEqual([
      ['k1', 2, 'high', { from: 'medium', to: 'high', by: 'min_count 2' }],
      ['k1', 1, 'medium', undefined],
      ['k3', 1, 'medium', undefined],
    ])
  })

  it('honours the range and writes no alert', async () => {
    const r = await backtest(h.store, [rule], [trigger], { fromMs: Date.UTC(2026, 10, 20, 12, 40), toMs: Date.UTC(2026, 10, 21) })
    expect(r.events).toBe(1)
    expect(r.alerts).toHaveLength(1)
    const stored = await h.store.query<{ n: string }>('SELECT count() AS n FROM alert_changes')
    expect(Number(stored[0]!.n)).toBe(0)
  })
})
