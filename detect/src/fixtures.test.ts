import AjvModule from 'ajv'
import { describe, expect, it } from 'vitest'
import { AuditEventSchema, CLICKHOUSE_KEYWORD } from '@vigil/core'
import { DEFAULT_FIXTURE_BASE, absoluteMicros, expandFixture, expandRuleFixtures, formatMicros } from './fixtures.js'
import type { RuleTest } from './rule-schema.js'
import { loadRules } from './rules.js'

const Ajv = AjvModule as unknown as typeof AjvModule.default
const ajv = new Ajv({ allErrors: true, strict: false })
ajv.addKeyword(CLICKHOUSE_KEYWORD)
const validateEvent = ajv.compile(AuditEventSchema)

const base = new Date('2026-11-24T14:30:00Z')
const login = { action: 'auth.login', outcome: 'failure', reason: 'bad_password', user_id: 'u_1' } as const
const test = (events: RuleTest['events']): RuleTest => ({ name: 't', expect: 'fire', events })

describe('fixture times', () => {
  it('offsets from the base time, with fractions and compound units', () => {
    const events = expandFixture(
      test([
        { ...login, ts: '+0s' },
        { ...login, ts: '+1.5s' },
        { ...login, ts: '-7d' },
        { ...login, ts: '+2h' },
        { ...login, ts: '+1h30m' },
        { ...login, ts: '+250ms' },
        { ...login, ts: '+0.000125s' },
      ]),
      base,
    )
    expect(events.map((e) => e.ts)).toEqual([
      '2026-11-24T14:30:00.000000Z',
      '2026-11-24T14:30:01.500000Z',
      '2026-11-17T14:30:00.000000Z',
      '2026-11-24T16:30:00.000000Z',
      '2026-11-24T16:00:00.000000Z',
      '2026-11-24T14:30:00.250000Z',
      '2026-11-24T14:30:00.000125Z',
    ])
  })

  it('absolute times stay put whatever the base, at µs precision', () => {
    const t = test([
      { ...login, ts: '2026-03-02T08:00:00Z' },
      { ...login, ts: '2026-03-02T08:00:00.123456789Z' },
    ])
    expect(expandFixture(t, base).map((e) => e.ts)).toEqual(['2026-03-02T08:00:00.000000Z', '2026-03-02T08:00:00.123456Z'])
    expect(expandFixture(t, new Date('2030-01-01T00:00:00Z')).map((e) => e.ts)).toEqual(expandFixture(t, base).map((e) => e.ts))
  })

  it('refuses what is not a time', () => {
    expect(() => expandFixture(test([{ ...login, ts: '2026-02-30T00:00:00Z' }]), base, { rule: 'auth.brute_force', test: 3 })).toThrow(
      'auth.brute_force test 3 event 1: "2026-02-30T00:00:00Z" is not a fixture time',
    )
    expect(() => expandFixture(test([{ ...login, ts: '+0s' }]), new Date('nope'))).toThrow('fixture base time is not a valid date')
    expect(absoluteMicros('2026-11-24T24:00:00Z')).toBeNaN()
    expect(formatMicros(Date.UTC(2026, 10, 24) * 1000 + 7)).toBe('2026-11-24T00:00:00.000007Z')
  })
})

describe('repeat, every, vary', () => {
  it('expands in place with ts advancing by every and values cycling', () => {
    const events = expandFixture(
      test([
        { ...login, ts: '+0s', user_id: 'first' },
        {
          ...login,
          ts: '+10s',
          repeat: 5,
          every: '1.5s',
          http: { method: 'POST', status: 401 },
          vary: { user_id: ['a', 'b'], 'http.path': ['/v1/session', '/v2/session', '/v3/session'], 'attrs.note': ['x'], client_ip: ['192.0.2.1', '2001:db8::1'] },
        },
        { ...login, ts: '+1m', user_id: 'last' },
      ]),
      base,
      { rule: 'auth.brute_force', test: 2 },
    )
    expect(events.map((e) => [e.id, e.ts.slice(11), e.user_id, e.http?.path, e.client_ip])).toEqual([
      ['fx-auth.brute_force-2-1', '14:30:00.000000Z', 'first', undefined, undefined],
      ['fx-auth.brute_force-2-2', '14:30:10.000000Z', 'a', '/v1/session', '192.0.2.1'],
      ['fx-auth.brute_force-2-3', '14:30:11.500000Z', 'b', '/v2/session', '2001:db8::1'],
      ['fx-auth.brute_force-2-4', '14:30:13.000000Z', 'a', '/v3/session', '192.0.2.1'],
      ['fx-auth.brute_force-2-5', '14:30:14.500000Z', 'b', '/v1/session', '2001:db8::1'],
      ['fx-auth.brute_force-2-6', '14:30:16.000000Z', 'a', '/v2/session', '192.0.2.1'],
      ['fx-auth.brute_force-2-7', '14:31:00.000000Z', 'last', undefined, undefined],
    ])
    // A varied field of a nested object keeps that object's other fields.
    expect(events[1]?.http).toEqual({ method: 'POST', status: 401, path: '/v1/session' })
    expect(events[1]?.attrs).toEqual({ note: 'x' })
    expect(events[1]).not.toHaveProperty('repeat')
    expect(events[1]).not.toHaveProperty('vary')
  })

  it('keeps given ids, numbering repeats of one', () => {
    const events = expandFixture(
      test([
        { ...login, ts: '+0s', id: 'evt-1' },
        { ...login, ts: '+1s', id: 'burst', repeat: 3, every: '1s' },
        { ...login, ts: '+5s', repeat: 2, every: '1s', vary: { id: ['own-a', 'own-b'] } },
      ]),
      base,
    )
    expect(events.map((e) => e.id)).toEqual(['evt-1', 'burst-1', 'burst-2', 'burst-3', 'own-a', 'own-b'])
  })

  it('turns clock_skew_ms into a matching received_at', () => {
    const [e1, e2] = expandFixture(test([{ ...login, ts: '+0s', source: 'gw-1', repeat: 2, every: '1s', vary: { clock_skew_ms: [3.21, -12.5] } }]), base)
    expect([e1?.clock_skew_ms, e1?.received_at]).toEqual([3.21, '2026-11-24T14:30:00.003210Z'])
    expect([e2?.clock_skew_ms, e2?.received_at]).toEqual([-12.5, '2026-11-24T14:30:00.987500Z'])
    expect(e1?.source).toBe('gw-1')
  })

  it('does not share or change the fixture objects', () => {
    const t = test([{ ...login, ts: '+0s', http: { method: 'GET' }, repeat: 2, every: '1s', vary: { 'http.path': ['/a', '/b'] } }])
    const before = structuredClone(t)
    const events = expandFixture(t, base)
    expect(t).toEqual(before)
    expect(events[0]?.http).not.toBe(events[1]?.http)
  })
})

describe('determinism', () => {
  it('the same test and base give the same events; another base shifts only relative times', () => {
    const rules = loadRules()
    for (const rule of rules) expect(expandRuleFixtures(rule, base)).toEqual(expandRuleFixtures(rule, base))
    const spike = rules.find((r) => r.id === 'volume.spike')
    if (!spike) throw new Error('volume.spike missing')
    const a = expandRuleFixtures(spike, base)[0]?.events ?? []
    const b = expandRuleFixtures(spike, new Date(base.getTime() + 3_600_000))[0]?.events ?? []
    expect(b.map((e) => e.id)).toEqual(a.map((e) => e.id))
    expect(b.map((e) => Date.parse(e.ts) - 3_600_000)).toEqual(a.map((e) => Date.parse(e.ts)))
  })

  it('expandRuleFixtures defaults to the shared base time', () => {
    const rule = loadRules()[0]
    if (!rule) throw new Error('no rules')
    expect(expandRuleFixtures(rule)).toEqual(expandRuleFixtures(rule, new Date(DEFAULT_FIXTURE_BASE)))
  })
})

describe('every committed fixture', () => {
  const rules = loadRules()

  it.each(rules.map((r) => [r.id, r]))('%s expands to CONTRACT §1 events with unique ids', (_id, rule) => {
    for (const t of expandRuleFixtures(rule, base)) {
      expect(t.events.length).toBeGreaterThan(0)
      expect(new Set(t.events.map((e) => e.id)).size).toBe(t.events.length)
      for (const e of t.events) {
        const ok = validateEvent(e)
        expect(validateEvent.errors ?? [], `${rule.id} test ${t.test} (${t.name}) event ${e.id}`).toEqual([])
        expect(ok).toBe(true)
        expect(e.ts).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/)
      }
    }
  })

  it('stays small enough to replay in CI (under 60,000 events in all)', () => {
    const total = rules.reduce((n, r) => n + expandRuleFixtures(r, base).reduce((m, t) => m + t.events.length, 0), 0)
    expect(total).toBeLessThan(60_000)
  })
})
