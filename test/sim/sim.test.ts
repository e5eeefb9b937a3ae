/**
 * The simulator without a Vigil: plans are reproducible by seed, every CONTRACT §5 rule has
 * a labelled scenario, clean order sizes cannot look like a fat finger, the addresses map
 * to the countries they claim, and what the guard emits for every scenario is a valid
 * CONTRACT §1 event (checked with ingest's own schema, through ajv).
 */
import { describe, it, expect } from 'vitest'
import { readFileSync, readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import geoip from 'geoip-lite'
import { parse } from 'yaml'
import { AuditEventSchema } from '@vigil/core'
import { BUILTIN_RULE_IDS } from '@vigil/detect'
import type { GuardEvent } from '@vigil/guard'
import { BRUTE_FORCE_ATTEMPTS, buildPlan, createRng, createSimApi, drive, FOREIGN, HOME_NETS, population, SCENARIO_NAMES, SCENARIOS, shiftTs } from '@vigil/demo'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const START = Date.UTC(2026, 10, 24, 14, 0, 0) // a Tuesday afternoon in Europe, morning in New York
const SOURCE = 'sim-test'

/** CONTRACT §5's rule ids, as detect defines them once. */
const CONTRACT_RULES = BUILTIN_RULE_IDS

function rule(file: string): { id: string; params: Record<string, unknown> } {
  return parse(readFileSync(path.join(ROOT, 'rules/detections', file), 'utf8')) as { id: string; params: Record<string, unknown> }
}

describe('simulator plans', () => {
  it('the same seed gives the same request sequence, another seed another', () => {
    for (const name of SCENARIO_NAMES) {
      const a = buildPlan(name, { seed: 42, startMs: START, source: SOURCE })
      const b = buildPlan(name, { seed: 42, startMs: START, source: SOURCE })
      expect(JSON.stringify(b)).toBe(JSON.stringify(a))
      const c = buildPlan(name, { seed: 43, startMs: START, source: SOURCE })
      expect(JSON.stringify(c.requests)).not.toBe(JSON.stringify(a.requests))
    }
  })

  it('the PRNG is mulberry32 and forks are stable', () => {
    const r = createRng(1)
    expect([r.next(), r.next()].map((x) => x.toFixed(6))).toEqual(['0.627074', '0.002736'])
    expect(createRng('x').fork('a').next()).toBe(createRng('x').fork('a').next())
  })

  it('every CONTRACT §5 rule (and every rule in rules/detections) has a scenario labelled with it, plus clean and takeover', () => {
    const ruleIds = readdirSync(path.join(ROOT, 'rules/detections'))
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => rule(f).id)
    for (const id of new Set([...CONTRACT_RULES, ...ruleIds])) {
      expect(SCENARIO_NAMES, id).toContain(id)
      const plan = buildPlan(id, { seed: 1, startMs: START, source: SOURCE })
      expect(plan.labels.map((l) => l.rule)).toContain(id)
      expect(plan.labels.every((l) => l.entity.id.length > 0)).toBe(true)
    }
    expect(buildPlan('clean', { seed: 1, startMs: START, source: SOURCE }).labels).toEqual([])
    expect(buildPlan('takeover', { seed: 1, startMs: START, source: SOURCE }).labels.map((l) => l.rule)).toEqual(
      expect.arrayContaining(['auth.credential_stuffing', 'auth.success_after_failures', 'geo.new_country']),
    )
    for (const name of SCENARIO_NAMES) expect(SCENARIOS[name]!.description.length).toBeGreaterThan(20)
  })

  it("clean order sizes never exceed the fat-finger rule's multiple of the key's own median", () => {
    const ratio = Number(rule('order_fat_finger.yaml').params.min_ratio_to_median)
    expect(ratio).toBeGreaterThan(1)
    for (const seed of [1, 2, 3]) {
      const plan = buildPlan('clean', { seed, startMs: START, durationMs: 4 * 3_600_000, keys: 40, source: SOURCE })
      const byKey = new Map<string, number[]>()
      for (const r of plan.requests) {
        if (r.path !== '/v1/orders' || r.method !== 'POST') continue
        const qty = (r.body as { qty: number }).qty
        byKey.set(r.keyId, [...(byKey.get(r.keyId) ?? []), qty])
      }
      expect(byKey.size).toBeGreaterThan(20)
      for (const [keyId, qtys] of byKey) {
        const sorted = [...qtys].sort((x, y) => x - y)
        const median = sorted[Math.floor(sorted.length / 2)]!
        expect(sorted.at(-1)! / median, keyId).toBeLessThan(ratio)
        expect(median / sorted[0]!, keyId).toBeLessThan(ratio)
      }
    }
  })

  it('clean traffic follows each key: its home address only, and more by day than by night', () => {
    const day = buildPlan('clean', { seed: 5, startMs: START, durationMs: 600_000, source: SOURCE })
    const night = buildPlan('clean', { seed: 5, startMs: Date.UTC(2026, 10, 24, 2, 0, 0), durationMs: 600_000, source: SOURCE })
    expect(day.requests.length).toBeGreaterThan(2 * night.requests.length)
    const home = new Map(day.keys.map((k) => [k.id, k.ip]))
    for (const r of day.requests) expect(r.ip).toBe(home.get(r.keyId))
    expect(day.requests.every((r) => r.signing === 'own' && r.tsShiftMs === undefined)).toBe(true)
  })

  it('home and attacker addresses map to the countries they claim (geoip-lite)', () => {
    for (const k of population(createRng(9), 60)) expect(geoip.lookup(k.ip)?.country, k.ip).toBe(k.home.country)
    for (const n of HOME_NETS) expect(geoip.lookup(`${n.prefix}.200`)?.country, n.prefix).toBe(n.country)
    for (const f of [FOREIGN.br, FOREIGN.brSaoPaulo, FOREIGN.sg, FOREIGN.ng]) expect(geoip.lookup(f.ip)?.country, f.ip).toBe(f.country)
    expect(geoip.lookup(`${FOREIGN.ruNet.prefix}.37`)?.country).toBe(FOREIGN.ruNet.country)
  })

  it('shiftTs moves an RFC 3339 µs timestamp and keeps its precision', () => {
    expect(shiftTs('2026-11-24T09:30:00.123456Z', -750)).toBe('2026-11-24T09:29:59.373456Z')
    expect(shiftTs('2026-11-24T09:30:00.123456Z', -14 * 86_400_000)).toBe('2026-11-10T09:30:00.123456Z')
  })
})

describe('simulator against an in-process demo API (no Vigil)', () => {
  // Ingest's own schema, compiled by the ajv that @vigil/core uses (the root's is ajv 6).
  const requireFromCore = createRequire(path.join(ROOT, 'core/package.json'))
  const AjvCtor = requireFromCore('ajv') as { default: new (o: object) => { compile(s: object): ((v: unknown) => boolean) & { errors?: unknown } } }
  const validate = new AjvCtor.default({ strict: false, allErrors: true }).compile(AuditEventSchema)

  it.each(SCENARIO_NAMES)('%s: every event the guard emits is a valid CONTRACT §1 event, and the attack shows', async (name) => {
    const plan = buildPlan(name, { seed: 11, startMs: START, durationMs: 20_000, keys: 8, source: SOURCE })
    const events: GuardEvent[] = []
    const { api, sink } = await createSimApi(plan, { vigilUrl: 'http://127.0.0.1:1', source: SOURCE, secret: 'x', dataDir: '/nonexistent', sink: { emit: (e) => events.push(e) },
      offline: true,
      // Faster than real time, every tier's limit would bite; rate.abuse keeps the real ones.
      ...(name === 'rate.abuse' ? {} : { limits: { retail: { perSecond: 100_000, perDay: 1e9 } } }),
    })
    try {
      const result = await drive(api, plan, sink, { realtime: false })
      await new Promise((r) => setImmediate(r))
      expect(result.sent + result.skipped).toBe(plan.requests.length)
      const requestEvents = events.filter((e) => e.http)
      expect(requestEvents.length).toBe(result.sent)
      for (const e of events) {
        const ok = validate(e)
        expect(ok, `${JSON.stringify(e)}: ${JSON.stringify(validate.errors)}`).toBe(true)
      }
      const reasons = (pred: (e: GuardEvent) => boolean) => events.filter((e) => e.http && pred(e)).map((e) => e.reason ?? e.outcome)
      const labelled = plan.labels.find((l) => l.entity.type === 'api_key')?.entity.id
      switch (name) {
        case 'clean':
          expect(events.filter((e) => e.http && e.outcome !== 'success')).toEqual([])
          break
        case 'auth.brute_force':
          expect(reasons((e) => e.api_key_id === labelled).filter((r) => r === 'bad_signature' || r === 'locked_out')).toHaveLength(BRUTE_FORCE_ATTEMPTS)
          break
        case 'auth.credential_stuffing':
          expect(new Set(events.filter((e) => e.reason === 'unknown_key').map((e) => e.client_ip)).size).toBe(4)
          expect(events.filter((e) => e.reason === 'unknown_key')).toHaveLength(36)
          break
        case 'auth.success_after_failures':
          expect(reasons((e) => e.api_key_id === labelled)).toEqual([...Array(7).fill('bad_signature'), 'success'])
          break
        case 'volume.spike':
          expect(events.filter((e) => e.api_key_id === labelled && e.action === 'order.new' && e.outcome === 'success')).toHaveLength(650)
          break
        case 'geo.new_country': {
          const mine = events.filter((e) => e.api_key_id === labelled && e.http)
          expect(mine.filter((e) => Date.parse(e.ts) < Date.now() - 3 * 86_400_000).length).toBeGreaterThanOrEqual(50)
          expect(mine.at(-1)!.client_ip).toBe(FOREIGN.br.ip)
          break
        }
        case 'access.ip_not_allowed':
          expect(reasons((e) => e.api_key_id === labelled).filter((r) => r === 'ip_not_allowed')).toHaveLength(8)
          break
        case 'access.scope_violation':
          expect(reasons((e) => e.api_key_id === labelled).filter((r) => r === 'scope_denied')).toHaveLength(8)
          break
        case 'rate.abuse':
          expect(reasons((e) => e.api_key_id === labelled).filter((r) => r === 'rate_limited').length).toBeGreaterThanOrEqual(120)
          break
        case 'order.fat_finger': {
          const qtys = events.filter((e) => e.api_key_id === labelled && e.order?.qty !== undefined && e.outcome === 'success').map((e) => e.order!.qty!)
          expect(qtys).toHaveLength(41)
          expect(qtys.at(-1)).toBe(50_000)
          break
        }
        case 'clock.skew':
          // Every event of the run is 750 ms behind the guard's clock.
          expect(events.every((e) => Date.parse(e.ts) <= Date.now() - 700)).toBe(true)
          break
        case 'takeover':
          expect(events.some((e) => e.api_key_id === labelled && e.action === 'funds.withdraw' && e.outcome === 'success' && e.client_ip === FOREIGN.brSaoPaulo.ip)).toBe(true)
          break
      }
    } finally {
      await api.close()
    }
  })
})
