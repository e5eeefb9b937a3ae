import { describe, expect, it } from 'vitest'
import { alertTotal, eventRates, formatSkew, severityRows, skewHealth } from './series.js'

describe('overview chart shaping', () => {
  it('turns event counts per bucket into events and failures per second', () => {
    const events = [
      { t: '2026-11-27T00:00:00.000Z', count: 600, failures: 60 },
      { t: '2026-11-27T00:01:00.000Z', count: 120, failures: 0 },
    ]
    const now = Date.parse('2026-11-27T01:00:00Z')
    expect(eventRates(events, 60_000, now)).toEqual([
      { x: Date.parse('2026-11-27T00:00:00Z'), events: 10, failures: 1 },
      { x: Date.parse('2026-11-27T00:01:00Z'), events: 2, failures: 0 },
    ])
  })

  it('divides a bucket still filling by the seconds it has covered', () => {
    const now = Date.parse('2026-11-27T00:01:15Z')
    const rates = eventRates([{ t: '2026-11-27T00:01:00.000Z', count: 30, failures: 15 }], 60_000, now)
    expect(rates[0]).toMatchObject({ events: 2, failures: 1 })
    // A bucket starting right now counts at least one second, never divides by zero.
    const fresh = eventRates([{ t: '2026-11-27T00:01:15.000Z', count: 5, failures: 0 }], 60_000, now)
    expect(fresh[0]!.events).toBe(5)
    expect(eventRates([{ t: '2026-11-27T00:01:00.000Z', count: 1, failures: 0 }], 0, now)).toEqual([])
  })

  it('stacks alerts low first and critical last, one row per bucket and severity', () => {
    const alerts = [
      { t: '2026-11-27T00:00:00.000Z', low: 1, medium: 0, high: 2, critical: 3 },
      { t: '2026-11-27T00:05:00.000Z', low: 0, medium: 4, high: 0, critical: 0 },
    ]
    const rows = severityRows(alerts)
    expect(rows).toHaveLength(8)
    expect(rows.slice(0, 4).map((r) => r.severity)).toEqual(['low', 'medium', 'high', 'critical'])
    expect(rows.slice(0, 4).map((r) => r.count)).toEqual([1, 0, 2, 3])
    const x1 = Date.parse('2026-11-27T00:05:00Z')
    expect(rows.filter((r) => r.x === x1).reduce((n, r) => n + r.count, 0)).toBe(4)
    expect(alertTotal(alerts)).toBe(10)
    expect(alertTotal([])).toBe(0)
  })

  it('judges clock skew against the RTS 25 limit', () => {
    expect(skewHealth({ clock_skew_ms: null, limit_ms: 100 })).toBe('subdued')
    expect(skewHealth({ clock_skew_ms: { p50: 1, p99: 5, max: 9 }, limit_ms: null })).toBe('subdued')
    expect(skewHealth({ clock_skew_ms: { p50: 1, p99: 5, max: 9 }, limit_ms: 100 })).toBe('success')
    expect(skewHealth({ clock_skew_ms: { p50: 1, p99: 5, max: 150 }, limit_ms: 100 })).toBe('warning')
    expect(skewHealth({ clock_skew_ms: { p50: 1, p99: -85, max: 90 }, limit_ms: 100 })).toBe('warning')
    expect(skewHealth({ clock_skew_ms: { p50: -50, p99: -120, max: 130 }, limit_ms: 100 })).toBe('danger')
    expect(formatSkew(-1500)).toBe('−1.5 s')
    expect(formatSkew(12.4)).toBe('+12 ms')
    expect(formatSkew(0)).toBe('0 ms')
    expect(formatSkew(null)).toBe('—')
  })
})

describe('overview time range', () => {
  it('resolves the picker range at a fixed now', async () => {
    const { resolveRange } = await import('./timeRange.js')
    const now = new Date('2026-11-27T01:00:00.000Z')
    expect(resolveRange('now-1h', 'now', now)).toEqual({
      from: '2026-11-27T00:00:00.000Z',
      to: '2026-11-27T01:00:00.000Z',
      min: Date.parse('2026-11-27T00:00:00.000Z'),
      max: Date.parse('2026-11-27T01:00:00.000Z'),
    })
    expect(resolveRange('2026-11-26T00:00:00.000Z', '2026-11-26T06:00:00.000Z', now)?.to).toBe('2026-11-26T06:00:00.000Z')
    expect(resolveRange('now', 'now-1h', now)).toBeNull()
    expect(resolveRange('yesterday-ish', 'now', now)).toBeNull()
  })
})
