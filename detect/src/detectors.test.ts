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
