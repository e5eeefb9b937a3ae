/**
 * Runs rules' fixtures through the real engine on real storage: each test starts from empty
 * tables, its events are stored as ingest would store them (materialized views fill the
 * rollups), one engine tick runs the rule's detector, and the alerts it stored are compared
 * with what the test expects. Used by the test suite and by `vigil rules test`.
 */
import type { Logger } from 'pino'
import type { Store } from '@vigil/core'
import { EVENT_COLUMNS } from '@vigil/core'
import type { Detector } from './detector.js'
import { DetectionEngine } from './engine.js'
import { expandRuleFixtures } from './fixtures.js'
import type { Rule } from './rules.js'

export interface FixtureResult {
  rule: string
  test: number
  name: string
  expect: 'fire' | 'none'
  /** Alerts the engine stored. */
  alerts: number
  entities: string[]
  /** The severity of each alert, in the order of `entities`. */
  severities: string[]
  pass: boolean
  /** Why it failed, in words. */
  why?: string
  events: number
}

/** Tables a fixture may fill; emptied before each one. */
export const DETECTION_TABLES = [
  'events',
  'detect_stream',
  'rollup_entity_1s',
  'rollup_key_1h',
  'key_geo',
  'alert_changes',
  'detect_cursor',
  // migration 003 (behaviour detectors)
  'rollup_key_orders_1m',
  'key_action_first_seen',
  'key_geo_1d',
  'rollup_source_skew_1s',
  // migration 004 (account detectors)
  'rollup_denials_1s',
  // migration 005 (order.fat_finger's per-key orders)
  'key_orders',
]

const toCh = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, iso.length - 1)}`

/** Stores events as ingest would: flattened by EVENT_COLUMNS; received_at = ts + skew unless given. */
export async function storeFixtureEvents(store: Store, events: ReadonlyArray<Record<string, unknown>>): Promise<void> {
  if (events.length === 0) return
  const cols = EVENT_COLUMNS.map((c) => c.name)
  const lines: string[] = []
  for (const ev of events) {
    const e: Record<string, unknown> = { source: 'fixtures', clock_skew_ms: 0, received_at: ev.ts, ...ev }
    const row: Record<string, unknown> = {}
    for (const c of EVENT_COLUMNS) {
      let v: unknown = e[c.path[0] as string]
      if (c.path[1] !== undefined) v = v == null ? undefined : (v as Record<string, unknown>)[c.path[1]]
      if (v === undefined || v === null) continue
      row[c.name] = c.type.startsWith('DateTime64') ? toCh(v as string) : v
    }
    lines.push(JSON.stringify(row))
  }
  // Sorted by arrival, as a live stream would have delivered them.
  await store.insertNdjson('events', cols, lines.join('\n') + '\n')
}

export async function runRuleFixtures(
  store: Store,
  rules: readonly Rule[],
  detectors: readonly Detector[],
  logger: Logger,
  opts: { only?: string; test?: number } = {},
): Promise<FixtureResult[]> {
  const results: FixtureResult[] = []
  for (const rule of rules) {
    if (opts.only && rule.id !== opts.only) continue
    const detector = detectors.find((d) => d.ruleId === rule.id)
    for (const t of expandRuleFixtures(rule)) {
      if (opts.test !== undefined && t.test !== opts.test) continue
      const base = { rule: rule.id, test: t.test, name: t.name, expect: t.expect, events: t.events.length }
      if (!detector) {
        results.push({ ...base, alerts: 0, entities: [], severities: [], pass: false, why: 'no detector implements this rule' })
        continue
      }
      for (const table of DETECTION_TABLES) await store.command(`TRUNCATE TABLE IF EXISTS ${table}`)
      await storeFixtureEvents(store, t.events as unknown as Record<string, unknown>[])
      const engine = new DetectionEngine({ store, logger, rules: [{ ...rule, enabled: true }], detectors: [detector], name: 'fixtures' })
      await engine.tick()
      const alerts = await engine.alerts.list({ limit: 1000 })
      const entities = alerts.map((a) => a.entity.id)
      const severities = alerts.map((a) => a.severity)
      let why: string | undefined
      if (t.expect === 'none' && alerts.length > 0) why = `expected no alert, got ${alerts.length} (${entities.join(', ')})`
      if (t.expect === 'fire' && alerts.length === 0) why = 'expected an alert, got none'
      if (t.expect === 'fire' && t.alerts !== undefined && alerts.length !== t.alerts) why = `expected ${t.alerts} alert(s), got ${alerts.length} (${entities.join(', ')})`
      if (t.expect === 'fire' && t.entity !== undefined && !entities.includes(t.entity)) why = `expected an alert on ${t.entity}, got ${entities.join(', ') || 'none'}`
      const offSeverity = alerts.filter((a) => a.severity !== t.severity)
      if (t.expect === 'fire' && t.severity !== undefined && alerts.length > 0 && offSeverity.length > 0) {
        why = `expected every alert to be ${t.severity}, got ${offSeverity.map((a) => `${a.severity} on ${a.entity.id} (score ${a.score}, count ${a.count})`).join(', ')}`
      }
      results.push({ ...base, alerts: alerts.length, entities, severities, pass: why === undefined, ...(why ? { why } : {}) })
    }
  }
  return results
}
