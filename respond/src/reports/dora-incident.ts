/**
 * `dora-incident` (DORA Art. 19, Commission Delegated Regulation (EU) 2025/301): for one
 * incident, the data of the initial, intermediate and final reports that Vigil recorded, the
 * fields people must complete, and the three deadlines with their status as of the period's
 * end (dora-deadlines.ts has the arithmetic).
 * - Detection: the earliest `detected_at` of the incident's alerts (its opening when none).
 * - Classification: Vigil records no separate "major incident" decision; the incident's
 *   opening (when its severity was assigned) is taken, and the report says so.
 * - Submissions of the reports to the authority are not recorded: deadlines are judged as
 *   not submitted.
 */
import { VigilError } from '@vigil/core'
import type { ReportBody, ReportContext } from './report.js'
import { doraDeadlines, type DoraDeadline } from './dora-deadlines.js'
import { chToIsoExact, sqlText } from './sql-time.js'

export interface DoraIncidentData {
  incident: {
    id: string
    title: string
    severity_at_opening: string
    severity: string
    status: string
    entity: { type: string; id: string }
    opened_at: string
    resolved_at: string | null
  }
  detected_at: string
  classified_at: string
  classification_basis: string
  alerts: Array<{ alert_id: string; rule: string; severity: string; first_seen: string; detected_at: string; api_key_id: string; account_id: string }>
  clients_affected: { accounts: string[]; api_keys: string[] }
  actions: Array<{ at: string; kind: string; actor: string; step: string | null; outcome: string | null }>
  control_actions: Array<{ at: string; kind: string; subject: string; scope: string; actor: string; reason: string }>
  criteria: Array<{ criterion: string; value: string }>
  to_complete: string[]
  deadlines: DoraDeadline[]
}

const INCIDENT = `
SELECT id, toString(min(opened_at)) AS opened, argMin(severity, version) AS first_severity, argMax(severity, version) AS cur_severity,
  argMax(status, version) AS cur_status, argMax(title, version) AS cur_title, any(entity_type) AS et, any(entity_id) AS eid,
  toString(minIf(changed_at, status = 'resolved')) AS resolved, countIf(status = 'resolved') AS resolved_rows
FROM incident_changes WHERE id = {id:String} GROUP BY id`

const ALERTS = `
SELECT id, rule, severity, toString(first_seen) AS first_seen, toString(detected_at) AS detected_at, api_key_id, account_id
FROM alert_changes
WHERE change = 'open' AND id IN (SELECT alert_id FROM incident_alerts WHERE incident_id = {id:String})
ORDER BY detected_at, id
LIMIT 1 BY id`

const TIMELINE = `
SELECT toString(at) AS at, kind, actor, step, outcome FROM incident_timeline WHERE incident_id = {id:String} ORDER BY at, seq`

const CONTROL = `
SELECT toString(at) AS at, kind, subject, scope_type, scope_id, actor, reason FROM control_log WHERE incident_id = {id:String} ORDER BY version`

export async function doraIncident(ctx: ReportContext): Promise<ReportBody<DoraIncidentData>> {
  const { store } = ctx.deps
  const id = ctx.parameters.incident_id
  if (id === undefined) throw new VigilError('VIGIL_ERR_REPORT_INCIDENT_REQUIRED')
  const [inc] = await store.query<{ id: string; opened: string; first_severity: string; cur_severity: string; cur_status: string; cur_title: string; et: string; eid: string; resolved: string; resolved_rows: string }>(INCIDENT, { id })
  if (!inc) throw new VigilError('VIGIL_ERR_INCIDENT_NOT_FOUND')
  const [alerts, timeline, control] = await Promise.all([
    store.query<{ id: string; rule: string; severity: string; first_seen: string; detected_at: string; api_key_id: string; account_id: string }>(ALERTS, { id }),
    store.query<{ at: string; kind: string; actor: string; step: string; outcome: string }>(TIMELINE, { id }),
    store.query<{ at: string; kind: string; subject: string; scope_type: string; scope_id: string; actor: string; reason: string }>(CONTROL, { id }),
  ])
  const openedAt = chToIsoExact(inc.opened)
  const detectedAt = alerts.length > 0 ? chToIsoExact(alerts.map((a) => a.detected_at).sort()[0] as string) : openedAt
  const resolvedAt = Number(inc.resolved_rows) > 0 ? chToIsoExact(inc.resolved) : null
  const accounts = [...new Set(alerts.map((a) => a.account_id).filter(Boolean))].sort()
  const apiKeys = [...new Set(alerts.map((a) => a.api_key_id).filter(Boolean))].sort()
  const deadlines = doraDeadlines({ detectedAt, classifiedAt: openedAt, asOf: ctx.period.to })
  const durationEnd = resolvedAt ?? ctx.period.to
  const durationH = Math.max(0, (Date.parse(durationEnd) - Date.parse(openedAt)) / 3_600_000)
  const data: DoraIncidentData = {
    incident: {
      id: inc.id,
      title: inc.cur_title,
      severity_at_opening: inc.first_severity,
      severity: inc.cur_severity,
      status: inc.cur_status,
      entity: { type: inc.et, id: inc.eid },
      opened_at: openedAt,
      resolved_at: resolvedAt,
    },
    detected_at: detectedAt,
    classified_at: openedAt,
    classification_basis: 'the incident\'s opening, when Vigil assigned its severity (a separate DORA "major" decision is not recorded)',
    alerts: alerts.map((a) => ({ alert_id: a.id, rule: a.rule, severity: a.severity, first_seen: chToIsoExact(a.first_seen), detected_at: chToIsoExact(a.detected_at), api_key_id: a.api_key_id, account_id: a.account_id })),
    clients_affected: { accounts, api_keys: apiKeys },
    actions: timeline.map((t) => ({ at: chToIsoExact(t.at), kind: t.kind, actor: t.actor, step: t.step || null, outcome: t.outcome || null })),
    control_actions: control.map((c) => ({ at: chToIsoExact(c.at), kind: c.kind, subject: c.subject, scope: c.scope_type ? `${c.scope_type}:${c.scope_id}` : '', actor: c.actor, reason: c.reason })),
    criteria: [
      { criterion: 'clients affected (RTS 2024/1772 Art. 1)', value: `${accounts.length} account(s), ${apiKeys.length} API key(s) named by the incident's alerts` },
      { criterion: 'duration (Art. 3)', value: `${durationH.toFixed(2)} h from opening to ${resolvedAt ? 'resolution' : 'the period end (not resolved)'}` },
      { criterion: 'reputational impact (Art. 2)', value: 'to be completed by people' },
      { criterion: 'geographical spread (Art. 4)', value: 'to be completed by people' },
      { criterion: 'data losses (Art. 5)', value: 'to be completed by people' },
      { criterion: 'critical services affected (Art. 6)', value: 'to be completed by people' },
      { criterion: 'economic impact (Art. 7)', value: 'to be completed by people' },
    ],
    to_complete: [
      'services and functions affected',
      'root cause',
      'direct and indirect costs and losses',
      'communication to clients',
      'recurring incident: yes/no',
      'date and time of the initial, intermediate and final submissions',
    ],
    deadlines,
  }
  return {
    title: `DORA major incident report: ${inc.id}`,
    regulation: ['DORA (Regulation (EU) 2022/2554) Art. 19', 'Commission Delegated Regulation (EU) 2025/301 (content and time limits)', 'Commission Delegated Regulation (EU) 2024/1772 (classification)'],
    data,
    sections: [
      {
        title: 'Incident',
        facts: [
          ['Incident', inc.id],
          ['Title', inc.cur_title],
          ['Severity (at opening / now)', `${inc.first_severity} / ${inc.cur_severity}`],
          ['Status', inc.cur_status],
          ['Entity', `${inc.et}:${inc.eid}`],
          ['Detected (UTC)', detectedAt],
          ['Classified (UTC)', `${openedAt} (${data.classification_basis})`],
          ['Resolved (UTC)', resolvedAt],
        ],
      },
      {
        title: `Deadlines (status as of ${ctx.period.to})`,
        text: ['Initial: the earlier of 4 h after classification and 24 h after detection. Intermediate: 72 h after the initial notification. Final: 1 calendar month after the last intermediate report (UTC, clamped to the month\'s last day). Submissions are not recorded by Vigil, so each is judged as not yet submitted.'],
        table: { columns: ['report', 'due (UTC)', 'counted from', 'submitted', 'status'], rows: deadlines.map((d) => [d.stage, d.due, d.basis, d.submitted_at, d.status]) },
      },
      { title: 'Classification criteria', table: { columns: ['criterion', 'value'], rows: data.criteria.map((c) => [c.criterion, c.value]) } },
      { title: 'Alerts', table: { columns: ['alert', 'rule', 'severity', 'first seen (UTC)', 'detected (UTC)', 'API key', 'account'], rows: data.alerts.map((a) => [a.alert_id, a.rule, a.severity, a.first_seen, a.detected_at, a.api_key_id, a.account_id]) } },
      { title: 'Actions taken (incident timeline)', table: { columns: ['time (UTC)', 'kind', 'actor', 'step', 'outcome'], rows: data.actions.map((a) => [a.at, a.kind, a.actor, a.step, a.outcome]) } },
      { title: 'Keys revoked and kill-switches for this incident', table: { columns: ['time (UTC)', 'change', 'subject', 'scope', 'actor', 'reason'], rows: data.control_actions.map((c) => [c.at, c.kind, c.subject, c.scope, c.actor, c.reason]) } },
      { title: 'To be completed by people', text: data.to_complete.map((t) => `${t}: ____________________`) },
    ],
    queries: [
      { name: 'the incident (first and current state)', sql: sqlText(INCIDENT) },
      { name: 'its alerts', sql: sqlText(ALERTS) },
      { name: 'its timeline', sql: sqlText(TIMELINE) },
      { name: 'control changes made for it', sql: sqlText(CONTROL) },
    ],
    not_recorded: [
      { field: 'classification as a major ICT-related incident', why: 'Vigil records severity, not the DORA classification decision; the opening time is used' },
      { field: 'submission times of the initial, intermediate and final reports', why: 'reports are submitted to the authority outside Vigil' },
      { field: 'root cause, costs and losses, services affected', why: 'to be completed by people' },
    ],
  }
}
