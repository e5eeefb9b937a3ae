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
 *   and who confirmed (the reset's actor).
 * Orders cancelled by the trading API when a switch trips are not reported to Vigil by the
 * guard (its onKillSwitch hook runs in the trading API): named as not recorded.
 */
import type { ReportBody, ReportContext, ReportQuery } from './report.js'
import { chToIsoExact, diffUs, periodParams, sqlText, usToMs } from './sql-time.js'

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
}

export interface KillSwitchLogData {
  trips: number
  resets: number
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
  const [triggers, blocked, requests] = await Promise.all([
    alertIds.length ? store.query<{ id: string; rule: string; event_at: string }>(TRIGGERS, { ids: alertIds }) : [],
    ids.length ? store.query<{ killswitch_id: string; blocked: string; first_block: string }>(BLOCKED, { ids }) : [],
    ids.length ? store.query<{ killswitch_id: string; requested_by: string; requested_at: string }>(REQUESTS, { ids }) : [],
  ])
  const trig = new Map(triggers.map((t) => [t.id, t]))
  const blk = new Map(blocked.map((b) => [b.killswitch_id, b]))
  const req = new Map(requests.map((r) => [r.killswitch_id, r]))

  const entries: KillSwitchLogEntry[] = changes.map((c) => {
    const isTrip = c.kind === 'killswitch_tripped'
    const t = isTrip && c.alert_id ? trig.get(c.alert_id) : undefined
    const b = blk.get(c.subject)
    const r = isTrip ? undefined : req.get(c.subject)
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
    }
  })
  const data: KillSwitchLogData = { trips: entries.filter((e) => e.change === 'trip').length, resets: entries.filter((e) => e.change === 'reset').length, entries }
  const queries: ReportQuery[] = [
    { name: 'kill-switch trips and resets in the period (control log)', sql: sqlText(CHANGES) },
    { name: 'the alert behind each trip by a rule: its rule and event time', sql: sqlText(TRIGGERS) },
    { name: 'orders refused by the guard under each switch', sql: sqlText(BLOCKED) },
    { name: 'who requested each reset (four-eyes)', sql: sqlText(REQUESTS) },
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
        ],
      },
      {
        title: 'Trips and resets',
        table: {
          columns: ['time (UTC, µs)', 'change', 'switch', 'scope', 'trigger', 'by', 'reason', 'event -> enforced ms', 'orders refused', 'reset requested by', 'reset confirmed by'],
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
            e.reset_requested_by,
            e.reset_confirmed_by,
          ]),
        },
      },
    ],
    queries,
    not_recorded: [
      {
        field: 'orders cancelled when a switch tripped',
        why: 'the guard calls the trading API\'s onKillSwitch hook to cancel resting orders but reports no count to Vigil; only refused new orders (reason kill_switch) are recorded',
      },
      {
        field: 'time each guard applied a trip',
        why: 'guards do not acknowledge control versions; the trip\'s control version time and the first refusal under it are what is recorded',
      },
    ],
  }
}
