/**
 * Rule fixtures → concrete CONTRACT §1 events.
 *
 * Relied on by: `vigil rules test` and the engine's fixture run (which replay each test's
 * events and compare what fires with `expect`), and the rule loader (which checks fixture
 * times and `vary` values with the helpers here). Expansion is deterministic: the same
 * test and base time always give the same events, ids included, so alert ids repeat too.
 */
import type { AuditEvent } from '@vigil/core'
import { durationMicros, type FixtureEvent, type RuleTest } from './rule-schema.js'

/**
 * The base time runners use unless told otherwise: a Tuesday at the New York open
 * (14:30 UTC in November), when EU and US desks both trade.
 */
export const DEFAULT_FIXTURE_BASE = '2026-11-24T14:30:00Z'

/** Which rule and test (1-based) a fixture belongs to; it names the generated event ids. */
export interface FixtureRef {
  rule: string
  test: number
}

export type FixtureGeo = NonNullable<FixtureEvent['geo']>

/**
 * One expanded fixture event: a CONTRACT §1 event with an id and an absolute `ts` (µs), plus
 * the ingest-side fields the fixture chose to fix. A runner stores `source`, `geo` and
 * `received_at`/`clock_skew_ms` as given and lets ingest decide those that are absent.
 */
export type ExpandedEvent = AuditEvent & {
  id: string
  ts: string
  source?: string
  geo?: FixtureGeo
  clock_skew_ms?: number
  received_at?: string
}

const ABSOLUTE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$/

/** Epoch µs of an absolute RFC 3339 UTC time, or NaN when it is not a real instant (Feb 30). */
export function absoluteMicros(ts: string): number {
  const m = ABSOLUTE.exec(ts)
  if (!m) return NaN
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number]
  const ms = Date.UTC(y, mo - 1, d, h, mi, s)
  const back = new Date(ms)
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || back.getUTCHours() !== h || back.getUTCMinutes() !== mi) {
    return NaN
  }
  // Storage keeps µs at least; digits past the sixth are dropped, not rounded, as ClickHouse does.
  const frac = (m[7] ?? '').padEnd(6, '0').slice(0, 6)
  return ms * 1000 + Number(frac)
}

/** Epoch µs of a fixture time: absolute, or an offset (`+1.5s`, `-7d`) from `baseMicros`. */
export function fixtureTimeMicros(ts: string, baseMicros: number): number {
  const sign = ts[0]
  if (sign === '+' || sign === '-') {
    const us = durationMicros(ts.slice(1))
    return sign === '+' ? baseMicros + us : baseMicros - us
  }
  return absoluteMicros(ts)
}

/** RFC 3339 UTC with exactly six fractional digits. */
export function formatMicros(us: number): string {
  const ms = Math.floor(us / 1000)
  const sub = us - ms * 1000
  return `${new Date(ms).toISOString().slice(0, 23)}${String(sub).padStart(3, '0')}Z`
}

/** Sets `field` (`client_ip`, or dotted into an object: `http.path`, `attrs.note`) on `event`. */
export function setFixtureField(event: Record<string, unknown>, field: string, value: unknown): void {
  const dot = field.indexOf('.')
  if (dot < 0) {
    event[field] = value
    return
  }
  const head = field.slice(0, dot)
  const inner = event[head]
  const obj = inner !== null && typeof inner === 'object' && !Array.isArray(inner) ? (inner as Record<string, unknown>) : {}
  event[head] = { ...obj, [field.slice(dot + 1)]: value }
}

/**
 * The events of one test, in the order written, each `repeat` expanded in place: copy k is
 * `every`·k after `ts` and takes value k mod n of each `vary` list. Ids are
 * `fx-<rule>-<test>-<n>` (n counts from 1 over the whole test) unless the fixture gives one;
 * a given id on a repeated event gets `-<k>` appended (k from 1).
 */
export function expandFixture(test: Pick<RuleTest, 'events'>, base: Date, ref: FixtureRef = { rule: 'rule', test: 1 }): ExpandedEvent[] {
  const baseMicros = base.getTime() * 1000
  if (Number.isNaN(baseMicros)) throw new RangeError('fixture base time is not a valid date')
  const out: ExpandedEvent[] = []
  test.events.forEach((fixture, at) => {
    const { ts, repeat = 1, every, vary, id, ...fields } = fixture
    const start = fixtureTimeMicros(ts, baseMicros)
    if (Number.isNaN(start)) throw new RangeError(`${ref.rule} test ${ref.test} event ${at + 1}: "${ts}" is not a fixture time`)
    const step = every === undefined ? 0 : durationMicros(every)
    if (Number.isNaN(step)) throw new RangeError(`${ref.rule} test ${ref.test} event ${at + 1}: "${every}" is not a duration`)
    for (let k = 0; k < repeat; k++) {
      const event = structuredClone(fields) as Record<string, unknown>
      for (const [field, values] of Object.entries(vary ?? {})) setFixtureField(event, field, values[k % values.length])
      const tsMicros = start + k * step
      const varied = typeof event.id === 'string' ? event.id : undefined
      delete event.id
      const eventId = varied ?? (id === undefined ? `fx-${ref.rule}-${ref.test}-${out.length + 1}` : repeat > 1 ? `${id}-${k + 1}` : id)
      const expanded = { id: eventId, ts: formatMicros(tsMicros), ...event } as ExpandedEvent
      if (typeof expanded.clock_skew_ms === 'number') {
        expanded.received_at = formatMicros(tsMicros + Math.round(expanded.clock_skew_ms * 1000))
      }
      out.push(expanded)
    }
  })
  return out
}

export interface ExpandedTest {
  /** 1-based, as in the event ids. */
  test: number
  name: string
  expect: RuleTest['expect']
  alerts?: number
  entity?: string
  severity?: RuleTest['severity']
  events: ExpandedEvent[]
}

/** Every test of a rule, expanded against one base time. */
export function expandRuleFixtures(rule: { id: string; tests: readonly RuleTest[] }, base: Date = new Date(DEFAULT_FIXTURE_BASE)): ExpandedTest[] {
  return rule.tests.map((t, i) => ({
    test: i + 1,
    name: t.name,
    expect: t.expect,
    ...(t.alerts === undefined ? {} : { alerts: t.alerts }),
    ...(t.entity === undefined ? {} : { entity: t.entity }),
    ...(t.severity === undefined ? {} : { severity: t.severity }),
    events: expandFixture(t, base, { rule: rule.id, test: i + 1 }),
  }))
}
