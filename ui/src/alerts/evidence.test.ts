import { describe, expect, it } from 'vitest'
import { rawEventsQuery, shapeEvidence } from './evidence.js'
import { alert } from './test-fixtures.js'

describe('shaping an alert evidence for the flyout', () => {
  it('draws a volume spike: baseline, actual and threshold on a linear axis, with the ratio', () => {
    const v = shapeEvidence({
      score: 81,
      evidence: { metric: 'orders', value: 120, baseline: 20, median: 20, mad: 3, z: 9.1, threshold: 6, reason: 'zscore', sample_event_ids: ['e1', 'e2'] },
    })
    expect(v).toMatchObject({ value: 120, baseline: 20, threshold: 6, thresholdOf: 'z', z: 9.1, score: 81, measure: 'orders', ratio: 6, scale: 'linear', sampleEventIds: ['e1', 'e2'] })
    // The threshold 6 is a z-score's, not an order count: it is not drawn on the value's axis.
    expect(v.bars.map((b) => b.kind)).toEqual(['baseline', 'value'])
    const at = Object.fromEntries(v.bars.map((b) => [b.kind, b.at]))
    expect(at.value).toBeCloseTo(120 / 132)
    expect(at.baseline).toBeCloseTo(20 / 132)
    expect(v.details.map((d) => d.label)).toEqual(['metric', 'median', 'mad', 'reason'])
  })

  it('switches to a log axis when the actual value dwarfs the baseline, keeping the order of the bars', () => {
    const v = shapeEvidence({ score: 95, evidence: { field: 'qty', value: 50000, median: 211, threshold: 6, breaches: [{ event_id: 'x' }] } })
    expect(v.baseline).toBe(211)
    expect(v.scale).toBe('log')
    expect(v.measure).toBe('qty')
    expect(v.thresholdOf).toBe('value')
    const at = Object.fromEntries(v.bars.map((b) => [b.kind, b.at]))
    expect(at.threshold!).toBeGreaterThan(0)
    expect(at.baseline!).toBeGreaterThan(at.threshold!)
    expect(at.value!).toBeGreaterThan(at.baseline!)
    expect(at.value!).toBeLessThanOrEqual(1)
    expect(v.details.find((d) => d.label === 'breaches')?.text).toBe('[{"event_id":"x"}]')
  })

  it('shows a threshold rule without a baseline, and evidence with no numbers at all', () => {
    const v = shapeEvidence({ score: 60, evidence: { value: 7, threshold: 5, ips: ['1.2.3.4', '5.6.7.8'], window: { from: '2026-11-27T00:00:00Z', to: '2026-11-27T00:05:00Z' } } })
    expect(v.bars.map((b) => b.kind)).toEqual(['value', 'threshold'])
    expect(v.ratio).toBeNull()
    expect(v.thresholdOf).toBe('value')
    // A cold-start volume alert has no z: its threshold is on the value's axis.
    expect(shapeEvidence({ score: 80, evidence: { value: 2e7, threshold: 1e7, reason: 'cold_start' } }).bars.map((b) => b.kind)).toEqual(['value', 'threshold'])
    expect(v.window).toEqual({ from: '2026-11-27T00:00:00Z', to: '2026-11-27T00:05:00Z' })
    expect(v.details).toEqual([{ label: 'ips', text: '1.2.3.4, 5.6.7.8' }])
    const empty = shapeEvidence({ score: 10, evidence: {} })
    expect(empty.bars).toEqual([])
    expect(empty.sampleEventIds).toEqual([])
  })
})

describe('the raw events around an alert', () => {
  it('asks for the key over the alert and its window, a minute either side', () => {
    const a = alert({
      id: 'al_1',
      first_seen: '2026-11-27T00:10:00.000Z',
      last_seen: '2026-11-27T00:11:00.000Z',
      evidence: { window: { from: '2026-11-27T00:05:00.000Z', to: '2026-11-27T00:10:30.000Z' } },
    })
    expect(rawEventsQuery(a)).toEqual({ api_key_id: 'ak_1', from: '2026-11-27T00:04:00.000Z', to: '2026-11-27T00:12:00.000Z', limit: '200' })
  })

  it('falls back to the account, then the address, then the time alone', () => {
    expect(rawEventsQuery(alert({ id: 'a', api_key_id: null }))).toMatchObject({ account_id: 'ACC-1' })
    const ip = rawEventsQuery(alert({ id: 'b', api_key_id: null, account_id: null, client_ip: null, entity: { type: 'ip', id: '198.51.100.1' } }))
    expect(ip.client_ip).toBe('198.51.100.1')
    const source = rawEventsQuery(alert({ id: 'c', api_key_id: null, account_id: null, client_ip: null, entity: { type: 'source', id: 'demo' } }))
    expect(Object.keys(source).sort()).toEqual(['from', 'limit', 'to'])
  })
})
