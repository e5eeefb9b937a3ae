import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { pino } from 'pino'
import { DetectionEngine } from './engine.js'
import { BUILTIN_DETECTORS } from './detectors/index.js'
import { expandRuleFixtures } from './fixtures.js'
import { storeFixtureEvents } from './fixture-runner.js'
import { RuleStates, effectiveEnabled } from './rule-states.js'
import { loadRules, type Rule } from './rules.js'
import { startDetectHarness, type DetectHarness } from './test-support.js'

const logger = pino({ level: 'silent' })
let h: DetectHarness
let rule: Rule

beforeAll(async () => {
  h = await startDetectHarness()
  rule = loadRules().find((r) => r.id === 'auth.brute_force') as Rule
})
afterAll(async () => {
  await h?.close()
})

/** A rule test's events as arriving now (the engine walks arrival order). */
async function arrive(test: number): Promise<number> {
  const t = expandRuleFixtures(rule).find((x) => x.test === test)
  if (!t || t.expect !== 'fire') throw new Error(`test ${test} of ${rule.id} is not a firing fixture`)
  const receivedAt = new Date().toISOString()
  await storeFixtureEvents(h.store, t.events.map((e) => ({ ...e, received_at: receivedAt })) as unknown as Record<string, unknown>[])
  return t.events.length
}

describe('switching a rule at runtime', () => {
  it('stops the rule in every engine process, leaves its open alerts alone, and runs it again once switched back on', async () => {
    const detectors = BUILTIN_DETECTORS.filter((d) => d.ruleId === rule.id)
    expect(detectors).toHaveLength(1)
    // Two processes: each reads the switches itself. maxAgeMs 0: every tick reads storage.
    const switchboard = new RuleStates(h.store, { maxAgeMs: 0 })
    const a = new DetectionEngine({ store: h.store, logger, rules: [rule], detectors, ruleStates: switchboard, name: 'a' })
    const b = new DetectionEngine({ store: h.store, logger, rules: [rule], detectors, ruleStates: new RuleStates(h.store, { maxAgeMs: 0 }), name: 'b' })

    const off = await switchboard.record({ rule: rule.id, enabled: false, reason: 'noisy during the migration', actor: 'operator:test' })
    expect(off).toMatchObject({ rule: rule.id, enabled: false, reason: 'noisy during the migration', actor: 'operator:test' })
    expect(effectiveEnabled(rule, await switchboard.fresh())).toBe(false)

    const n1 = await arrive(1)
    const ra = await a.tick()
    const rb = await b.tick()
    // Both walked the events and neither ran the rule on them.
    expect(ra).toMatchObject({ events: n1, findings: 0, created: 0 })
    expect(rb).toMatchObject({ events: n1, findings: 0, created: 0 })
    expect(await a.alerts.list({ limit: 10 })).toHaveLength(0)

    await switchboard.record({ rule: rule.id, enabled: true, reason: 'migration done', actor: 'operator:test' })
    const n2 = await arrive(2)
    const again = await a.tick()
    expect(again).toMatchObject({ events: n2, created: 1 })
    const alerts = await a.alerts.list({ limit: 10 })
    expect(alerts.map((x) => [x.rule, x.entity.id])).toEqual([[rule.id, 'u_4821']])

    // Off again: the open alert stays open, and the other process raises nothing new.
    await switchboard.record({ rule: rule.id, enabled: false, reason: 'second pause', actor: 'operator:test' })
    await arrive(1)
    const rb2 = await b.tick()
    expect(rb2.findings).toBe(0)
    const after = await a.alerts.list({ limit: 10 })
    expect(after.map((x) => [x.entity.id, x.status])).toEqual([['u_4821', 'open']])
    // Control: an engine that reads no switches (the file says enabled) fires on the same events.
    const c = new DetectionEngine({ store: h.store, logger, rules: [rule], detectors, name: 'c' })
    expect((await c.tick()).created).toBeGreaterThanOrEqual(1)
    expect((await c.alerts.list({ limit: 10 })).map((x) => x.entity.id)).toContain('ak_live_7QF2M1')
    await a.stop()
    await b.stop()
  })

  it('keeps the file state for a rule never switched, and the newest switch otherwise', async () => {
    const states = new RuleStates(h.store)
    const changes = await states.fresh()
    expect(effectiveEnabled({ id: 'geo.new_country', enabled: true }, changes)).toBe(true)
    expect(effectiveEnabled({ id: 'geo.new_country', enabled: false }, changes)).toBe(false)
    expect(changes.get(rule.id)).toMatchObject({ enabled: false, reason: 'second pause' })
    // A rule its file switches off can be switched on.
    await states.record({ rule: 'geo.new_country', enabled: true, reason: 'try it', actor: 'operator:test' })
    expect(effectiveEnabled({ id: 'geo.new_country', enabled: false }, await states.latest())).toBe(true)
  })
})
