/**
 * The conformance suite every detector passes (STYLE.md: one shared test behind the
 * Detector interface): each rule's fixtures, through the real engine on embedded ClickHouse,
 * must fire where they say fire and stay silent where they say none.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { pino } from 'pino'
import { loadRules } from './rules.js'
import { BUILTIN_DETECTORS } from './detectors/index.js'
import { BUILTIN_RULE_IDS } from './rule-schema.js'
import { runRuleFixtures } from './fixture-runner.js'
import { startDetectHarness, type DetectHarness } from './test-support.js'

const rules = loadRules()
const implemented = rules.filter((r) => BUILTIN_DETECTORS.some((d) => d.ruleId === r.id))
let h: DetectHarness

beforeAll(async () => {
  h = await startDetectHarness()
})
afterAll(async () => {
  await h?.close()
})

describe('detectors', () => {
  it('has exactly one detector per built-in rule', () => {
    const ids = BUILTIN_DETECTORS.map((d) => d.ruleId).sort()
    expect(new Set(ids).size).toBe(ids.length)
    expect(ids).toEqual([...BUILTIN_RULE_IDS].sort())
  })

  it('a fixture that says a severity fails when an alert has another, naming it with its score', async () => {
    const bf = rules.find((r) => r.id === 'auth.brute_force')
    if (!bf) throw new Error('auth.brute_force is not loaded')
    // Test 1 raises one high alert (score 56.6): asserting critical must fail, high must pass.
    const as = (severity: 'high' | 'critical') => ({ ...bf, tests: bf.tests.map((t, i) => (i === 0 ? { ...t, severity } : t)) })
    const [wrong] = await runRuleFixtures(h.store, [as('critical')], BUILTIN_DETECTORS, pino({ level: 'silent' }), { test: 1 })
    expect(wrong).toMatchObject({ pass: false, severities: ['high'], why: 'expected every alert to be critical, got high on ak_live_7QF2M1 (score 56.6, count 1)' })
    const [right] = await runRuleFixtures(h.store, [as('high')], BUILTIN_DETECTORS, pino({ level: 'silent' }), { test: 1 })
    expect(right).toMatchObject({ pass: true, severities: ['high'] })
  })

  for (const rule of implemented) {
    describe(rule.id, () => {
      it.each(rule.tests.map((t, i) => [i + 1, t.name, t.expect] as const))('fixture %i: %s (%s)', async (n) => {
        const [result] = await runRuleFixtures(h.store, [rule], BUILTIN_DETECTORS, pino({ level: 'silent' }), { test: n })
        expect(result?.why).toBeUndefined()
        expect(result?.pass).toBe(true)
      })
    })
  }
})
