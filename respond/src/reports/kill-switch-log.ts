/**
 * `kill-switch-log` (MiFID II RTS 6 Art. 12, SEC 15c3-5): every kill-switch trip and reset in
 * the period, from the control log (what guards enforce, one version per change):
 * - time in UTC to the µs (`control_log.at`), scope, reason;
 * - trigger: a rule (a playbook tripped it for an alert: the alert's rule and the time of
 *   the event behind it) or a person (`operator:…`);
 * - time from the triggering event (the alert's `last_seen`) to enforcement (the trip's
 *   control version, which is what guards apply);
 * - orders the guard refused under the switch (events with reason `kill_switch` whose
 *   `attrs.kill_switch_id` names it), and the first such refusal;
 * - for a reset, both people of the four-eyes rule: who asked (killswitch_reset_requests)
 *   and who confirmed (the reset's actor);
 * - each guard's own report of applying the change (`killswitch.trip` / `killswitch.reset`
 *   events its control client ships, attrs in docs/reports.md "Extensions to CONTRACT"): when
 *   it applied it, the time from the control version to that, and for a trip the resting
 *   orders the trading API's hook says it cancelled ("not reported" when the hook gave no count).
 * A source that sent events in the period but no such report for a change that covers it is
 * named as not recorded (a guard older than these events, or a trading API without the guard).
 */
import type { ReportBody, ReportContext, ReportQuery } from './report.js'
import { chToIsoExact, diffUs, periodParams, sqlText, usToMs } from './sql-time.js'

/** One guard's report of applying a trip or a reset (one process; a restart reports again). */
export interface GuardApplication {
  source: string
  guard_instance: string
  event_id: string
  applied_at: string | null
  /** From the change's control-log time to the guard's application (negative: the guard's clock is behind). */
  change_to_applied_ms: number | null
  applied_via: string
  control_version: number | null
  /** Trips only: resting orders the trading API said it cancelled; null when it gave no count. */
  orders_cancelled: number | null
  /** Trips only: `reported`, `not_reported`, `no_hook`, `hook_failed`, `timeout`, `invalid`. */
  cancel_report: string | null
}

export interface KillSwitchLogEntry {
  version: number
  change: 'trip' | 'reset'
  at: string
  killswitch_id: string
  scope: { type: string; id: string }
  reason: string
  actor: string
  trigger: 'rule' | 'person'
  rule: string | null
  alert_id: string | null
  incident_id: string | null
  trigger_event_at: string | null
  trigger_to_enforcement_ms: number | null
  orders_blocked: number
  first_block_at: string | null
  reset_requested_by: string | null
  reset_requested_at: string | null
  reset_confirmed_by: string | null
  /** Each guard's report of applying this change, in the order they arrived. */
  guards: GuardApplication[]
  /** Trips: sum of the counts the guards reported; null when none reported a count. */
  orders_cancelled: number | null
  /** Sources active in the period that this change covers but that reported no application. */
  sources_not_reporting: string[]
}

export interface KillSwitchLogData {
  trips: number
  resets: number
  /** Resting orders cancelled on the trips in the period, as the guards reported them. */
  orders_cancelled: number
  /** Guard reports of applying a change (trips and resets). */
  guard_applications: number
  entries: KillSwitchLogEntry[]
}

const CHANGES = `
SELECT version, kind, subject, scope_type, scope_id, reason, actor, incident_id, alert_id, toString(at) AS changed_at
FROM control_log
WHERE kind IN ('killswitch_tripped', 'killswitch_reset') AND at >= toDateTime64({from:String}, 6, 'UTC') AND at < toDateTime64({to:String}, 6, 'UTC')
ORDER BY version`

const TRIGGERS = `
SELECT id, rule, toString(last_seen) AS event_at
FROM alert_changes
WHERE change = 'open' AND id IN {ids:Array(String)}
LIMIT 1 BY id`

const BLOCKED = `
SELECT attrs['kill_switch_id'] AS killswitch_id, count() AS blocked, toString(min(ts)) AS first_block
FROM events FINAL
WHERE reason = 'kill_switch' AND attrs['kill_switch_id'] IN {ids:Array(String)}
GROUP BY killswitch_id`

const REQUESTS = `
SELECT killswitch_id, argMax(requested_by, at) AS requested_by, toString(max(at)) AS requested_at
FROM killswitch_reset_requests
WHERE killswitch_id IN {ids:Array(String)}
GROUP BY killswitch_id`

const APPLIED = `
SELECT id, source, action, attrs['kill_switch_id'] AS killswitch_id, attrs['guard_instance'] AS guard_instance,
  attrs['applied_at'] AS applied_at, attrs['applied_via'] AS applied_via, attrs['control_version'] AS control_version,
  attrs['cancel_report'] AS cancel_report, attrs['orders_cancelled'] AS orders_cancelled
FROM events FINAL
WHERE action IN ('killswitch.trip', 'killswitch.reset') AND attrs['kill_switch_id'] IN {ids:Array(String)}
ORDER BY received_at, id`

const ACTIVE_SOURCES = `
SELECT DISTINCT source FROM events
WHERE ts >= toDateTime64({from:String}, 9, 'UTC') AND ts < toDateTime64({to:String}, 9, 'UTC')
ORDER BY source`

interface AppliedRow {
  id: string
  source: string
  action: string
  killswitch_id: string
  guard_instance: string
  applied_at: string
  applied_via: string
  control_version: string
  cancel_report: string
  orders_cancelled: string
}

const RFC3339_US = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d{1,9})?Z$/

/** The guard's `applied_at` (RFC 3339 UTC) as ClickHouse-style text, or undefined when malformed. */
function appliedText(v: string): string | undefined {
  const m = RFC3339_US.exec(v)
  return m ? `${m[1]} ${m[2]}${m[3] ?? ''}` : undefined
}

const COUNT = /^\d{1,15}$/

function application(row: AppliedRow, changedAt: string, isTrip: boolean): GuardApplication {
  const at = appliedText(row.applied_at)
  const version = COUNT.test(row.control_version) ? Number(row.control_version) : null
  const counted = isTrip && row.cancel_report === 'reported' && COUNT.test(row.orders_cancelled)
  // A count that does not read as one is not passed on as a number, and said so.
  const report = !isTrip ? null : row.cancel_report === 'reported' && !counted ? 'invalid' : row.cancel_report || 'not_reported'
  return {
    source: row.source,
    guard_instance: row.guard_instance,
    event_id: row.id,
    applied_at: at ? chToIsoExact(at) : null,
    change_to_applied_ms: at ? usToMs(diffUs(changedAt, at)) : null,
    applied_via: row.applied_via,
    control_version: version,
    orders_cancelled: counted ? Number(row.orders_cancelled) : null,
    cancel_report: report,
  }
}

/** Sources a change may bind: a `source` switch binds one; every other scope binds them all. */
function covered(scopeType: string, scopeId: string, sources: string[]): string[] {
  return scopeType === 'source' ? sources.filter((s) => s === scopeId) : sources
}

interface ChangeRow {
  version: string
  kind: string
  subject: string
  scope_type: string
  scope_id: string
  reason: string
  actor: string
  incident_id: string
  alert_id: string
  changed_at: string
}

export async function killSwitchLog(ctx: ReportContext): Promise<ReportBody<KillSwitchLogData>> {
  const { store } = ctx.deps
  const changes = await store.query<ChangeRow>(CHANGES, periodParams(ctx.period))
  const ids = [...new Set(changes.map((c) => c.subject))]
  const alertIds = [...new Set(changes.map((c) => c.alert_id).filter(Boolean))]
  const [triggers, blocked, requests, applied, active] = await Promise.all([
    alertIds.length ? store.query<{ id: string; rule: string; event_at: string }>(TRIGGERS, { ids: alertIds }) : [],
    ids.length ? store.query<{ killswitch_id: string; blocked: string; first_block: string }>(BLOCKED, { ids }) : [],
    ids.length ? store.query<{ killswitch_id: string; requested_by: string; requested_at: string }>(REQUESTS, { ids }) : [],
    ids.length ? store.query<AppliedRow>(APPLIED, { ids }) : [],
    ids.length ? store.query<{ source: string }>(ACTIVE_SOURCES, periodParams(ctx.period)) : [],
  ])
  const activeSources = active.map((a) => a.source)
  const appliedBy = new Map<string, AppliedRow[]>()
  for (const a of applied) {
    const key = `${a.action === 'killswitch.trip' ? 'killswitch_tripped' : 'killswitch_reset'}\u0000${a.killswitch_id}`
    const list = appliedBy.get(key)
    if (list) list.push(a)
    else appliedBy.set(key, [a])
  }
  const trig = new Map(triggers.map((t) => [t.id, t]))
  const blk = new Map(blocked.map((b) => [b.killswitch_id, b]))
  const req = new Map(requests.map((r) => [r.killswitch_id, r]))

  const entries: KillSwitchLogEntry[] = changes.map((c) => {
    const isTrip = c.kind === 'killswitch_tripped'
    const t = isTrip && c.alert_id ? trig.get(c.alert_id) : undefined
    const b = blk.get(c.subject)
    const r = isTrip ? undefined : req.get(c.subject)
    const guards = (appliedBy.get(`${c.kind}\u0000${c.subject}`) ?? []).map((a) => application(a, c.changed_at, isTrip))
    const counts = guards.map((g) => g.orders_cancelled).filter((n): n is number => n !== null)
    const reporting = new Set(guards.map((g) => g.source))
    return {
      version: Number(c.version),
      change: isTrip ? 'trip' : 'reset',
      at: chToIsoExact(c.changed_at),
      killswitch_id: c.subject,
      scope: { type: c.scope_type, id: c.scope_id },
      reason: c.reason,
      actor: c.actor,
      trigger: isTrip && c.alert_id ? 'rule' : 'person',
      rule: t?.rule ?? null,
      alert_id: isTrip && c.alert_id ? c.alert_id : null,
      incident_id: c.incident_id || null,
      trigger_event_at: t ? chToIsoExact(t.event_at) : null,
      trigger_to_enforcement_ms: t ? usToMs(diffUs(t.event_at, c.changed_at)) : null,
      orders_blocked: isTrip ? Number(b?.blocked ?? 0) : 0,
      first_block_at: isTrip && b ? chToIsoExact(b.first_block) : null,
      reset_requested_by: r?.requested_by ?? null,
      reset_requested_at: r ? chToIsoExact(r.requested_at) : null,
      reset_confirmed_by: isTrip ? null : c.actor,
      guards,
      orders_cancelled: isTrip && counts.length > 0 ? counts.reduce((a, n) => a + n, 0) : null,
      sources_not_reporting: covered(c.scope_type, c.scope_id, activeSources).filter((s) => !reporting.has(s)),
    }
  })
  const data: KillSwitchLogData = {
    trips: entries.filter((e) => e.change === 'trip').length,
    resets: entries.filter((e) => e.change === 'reset').length,
    orders_cancelled: entries.reduce((a, e) => a + (e.orders_cancelled ?? 0), 0),
    guard_applications: entries.reduce((a, e) => a + e.guards.length, 0),
    entries,
  }
  const silent = new Map<string, string[]>()
  for (const e of entries) for (const s of e.sources_not_reporting) silent.set(s, [...(silent.get(s) ?? []), `${e.change} ${e.killswitch_id}`])
  const uncounted = new Map<string, string[]>()
  for (const e of entries) for (const g of e.guards) if (e.change === 'trip' && g.orders_cancelled === null) uncounted.set(g.source, [...(uncounted.get(g.source) ?? []), `${e.killswitch_id} (${g.cancel_report ?? 'not_reported'})`])
  const listed = (xs: string[]) => (xs.length > 5 ? `${xs.slice(0, 5).join(', ')} and ${xs.length - 5} more` : xs.join(', '))
  const queries: ReportQuery[] = [
    { name: 'kill-switch trips and resets in the period (control log)', sql: sqlText(CHANGES) },
    { name: 'the alert behind each trip by a rule: its rule and event time', sql: sqlText(TRIGGERS) },
    { name: 'orders refused by the guard under each switch', sql: sqlText(BLOCKED) },
    { name: 'who requested each reset (four-eyes)', sql: sqlText(REQUESTS) },
    { name: 'each guard\'s report of applying a trip or reset (killswitch.trip / killswitch.reset events)', sql: sqlText(APPLIED) },
    { name: 'sources that sent events in the period', sql: sqlText(ACTIVE_SOURCES) },
  ]
  return {
    title: 'Kill-switch log',
    regulation: ['MiFID II RTS 6 Art. 12 (kill functionality)', 'SEC Rule 15c3-5 (market access controls)'],
    data,
    sections: [
      {
        title: 'Summary',
        text: [
          'Every trip and reset of a kill-switch in the period, as recorded in the control log that guards enforce. Enforcement is the trip\'s control version: guards apply it from that moment.',
          'A trip by a rule was made by a playbook for an alert; its triggering event is the newest event behind that alert. A reset needs two people: one requests it, a second confirms it.',
        ],
        facts: [
          ['Trips', data.trips],
          ['Resets', data.resets],
          ['Orders refused under the switches tripped in the period', entries.reduce((a, e) => a + e.orders_blocked, 0)],
          ['Resting orders cancelled on those trips, as the guards reported', data.orders_cancelled],
          ['Guard reports of applying a trip or reset', data.guard_applications],
        ],
      },
      {
        title: 'Trips and resets',
        table: {
          columns: ['time (UTC, µs)', 'change', 'switch', 'scope', 'trigger', 'by', 'reason', 'event -> enforced ms', 'orders refused', 'orders cancelled', 'guards applied', 'reset requested by', 'reset confirmed by'],
          rows: entries.map((e) => [
            e.at,
            e.change,
            e.killswitch_id,
            `${e.scope.type}:${e.scope.id}`,
            e.change === 'reset' ? 'person' : e.trigger === 'rule' ? `rule ${e.rule ?? '(alert not found)'}` : 'person',
            e.actor,
            e.reason,
            e.trigger_to_enforcement_ms,
            e.change === 'trip' ? e.orders_blocked : null,
            e.change === 'trip' ? (e.orders_cancelled ?? 'not reported') : null,
            e.guards.length,
            e.reset_requested_by,
            e.reset_confirmed_by,
          ]),
        },
      },
      {
        title: 'Application by each guard',
        text: [
          'Each guard reports when it applied a trip or reset (its clock) and, for a trip, how many resting orders the trading API cancelled. "change -> applied ms" runs from the control-log time of the change; a guard started after the trip applies it from its first state (via state).',
        ],
        table: {
          columns: ['switch', 'change', 'source', 'guard instance', 'applied at (UTC)', 'change -> applied ms', 'via', 'orders cancelled', 'count'],
          rows: entries.flatMap((e) =>
            e.guards.map((g) => [e.killswitch_id, e.change, g.source, g.guard_instance, g.applied_at, g.change_to_applied_ms, g.applied_via, e.change === 'trip' ? (g.orders_cancelled ?? 'not reported') : null, g.cancel_report]),
          ),
        },
      },
    ],
    queries,
    not_recorded: [
      ...[...silent].map(([source, changes]) => ({
        field: `time source ${source} applied: ${listed(changes)}`,
        why: `source ${source} sent events in the period but no killswitch.trip/killswitch.reset report for these changes (a guard older than these reports, a trading API without the guard, or the source was not running then)`,
      })),
      ...[...uncounted].map(([source, trips]) => ({
        field: `orders cancelled at source ${source}: ${listed(trips)}`,
        why: 'the guard applied the trip but the trading API\'s onKillSwitch hook gave no count of the resting orders it cancelled',
      })),
    ],
  }
}
