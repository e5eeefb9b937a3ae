import { describe, expect, it } from 'vitest'
import { areasOf, filterRules, NO_FILTER, reasonError, replaceRule, sparkBars, toRuleRow, type RuleSummary } from './shape.js'

function rule(id: string, over: Partial<RuleSummary> = {}): RuleSummary {
  return {
    id,
    title: `Title of ${id}`,
    description: 'Many failures on one key',
    area: id.split('.')[0] as string,
    severity: 'high',
    enabled: true,
    last_change: null,
    triage: 'look',
    false_positives: [],
    modified: '2026-11-26',
    fires_per_day: [
      { day: '2026-11-25', count: 0 },
      { day: '2026-11-26', count: 3 },
      { day: '2026-11-27', count: 1 },
    ],
    fires_total: 8,
    last_fired: '2026-11-27T00:47:22.911701Z',
    false_positive_marks: 2,
    open_alerts: 1,
    ...over,
  }
}

describe('toRuleRow', () => {
  it('adds the recent fires, the busiest day, the last fire as a number and the false-positive share', () => {
    const row = toRuleRow(rule('auth.brute_force'))
    expect(row).toMatchObject({ fires_recent: 4, fires_peak: 3, last_fired_ms: Date.parse('2026-11-27T00:47:22.911Z'), false_positive_rate: 0.25 })
  })

  it('copes with a rule that never fired', () => {
    const row = toRuleRow(rule('geo.x', { fires_per_day: [], fires_total: 0, last_fired: null, false_positive_marks: 0 }))
    expect(row).toMatchObject({ fires_recent: 0, fires_peak: 0, last_fired_ms: 0, false_positive_rate: null })
  })
})

describe('filterRules', () => {
  const rows = [rule('auth.brute_force'), rule('auth.credential_stuffing', { enabled: false, description: 'leaked credentials' }), rule('geo.new_country')].map(toRuleRow)

  it('filters by area, by switch and by every word of the search', () => {
    expect(filterRules(rows, NO_FILTER)).toHaveLength(3)
    expect(filterRules(rows, { ...NO_FILTER, area: 'auth' }).map((r) => r.id)).toEqual(['auth.brute_force', 'auth.credential_stuffing'])
    expect(filterRules(rows, { ...NO_FILTER, enabled: 'disabled' }).map((r) => r.id)).toEqual(['auth.credential_stuffing'])
    expect(filterRules(rows, { ...NO_FILTER, enabled: 'enabled' })).toHaveLength(2)
    expect(filterRules(rows, { ...NO_FILTER, text: 'LEAKED  auth' }).map((r) => r.id)).toEqual(['auth.credential_stuffing'])
    expect(filterRules(rows, { ...NO_FILTER, text: 'nothing like it' })).toEqual([])
    expect(areasOf(rows)).toEqual(['auth', 'geo'])
  })
})

describe('sparkBars', () => {
  it('scales bars to the busiest day and leaves a stub for days without a fire', () => {
    const bars = sparkBars(
      [
        { day: 'd1', count: 0 },
        { day: 'd2', count: 4 },
        { day: 'd3', count: 1 },
        { day: 'd4', count: 2 },
      ],
      40,
      20,
    )
    expect(bars.map((b) => b.height)).toEqual([1, 20, 5, 10])
    expect(bars.map((b) => b.y)).toEqual([19, 0, 15, 10])
    expect(bars.map((b) => b.x)).toEqual([1, 11, 21, 31])
    expect(bars.every((b) => b.width === 8)).toBe(true)
  })

  it('never draws NaN, whatever the counts', () => {
    const bars = sparkBars(
      [
        { day: 'a', count: 0 },
        { day: 'b', count: Number.NaN },
        { day: 'c', count: -3 },
      ],
      30,
      10,
    )
    for (const b of bars) for (const v of [b.x, b.y, b.width, b.height]) expect(Number.isFinite(v)).toBe(true)
    expect(bars.map((b) => b.count)).toEqual([0, 0, 0])
    expect(sparkBars([], 100, 20)).toEqual([])
  })
})

describe('switching a rule', () => {
  it('needs a reason of 1 to 1000 characters', () => {
    expect(reasonError('  ')).toMatch(/Give a reason/)
    expect(reasonError('x'.repeat(1001))).toMatch(/1000/)
    expect(reasonError('noisy during the migration')).toBeNull()
  })

  it('puts the server’s answer in place of the rule it switched', () => {
    const items = [rule('a.one'), rule('b.two')]
    const out = replaceRule(items, { ...rule('b.two'), enabled: false })
    expect(out.map((r) => [r.id, r.enabled])).toEqual([
      ['a.one', true],
      ['b.two', false],
    ])
    expect(items[1]?.enabled).toBe(true)
  })
})
