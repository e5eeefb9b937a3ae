/**
 * `market-access-review` (SEC Rule 15c3-5(e)): the annual review pack.
 * - Inventory of the controls in force (rules, playbooks, guard settings, as the server
 *   loaded them) with evidence each ran in the period: a rule's alerts, a playbook's runs.
 * - Configuration changes the trading APIs reported (`admin.config_change` events), with who
 *   and when. Changes to Vigil's own thresholds (rule files) are not recorded by Vigil.
 * - A certification page for the CEO to sign (15c3-5(e)(2)).
 */
import type { ReportBody, ReportContext } from './report.js'
import { chToIsoExact, periodParams, sqlText } from './sql-time.js'

export interface MarketAccessControl {
  kind: string
  id: string
  name: string
  settings: string
  modified: string | null
  fired_or_ran: number
  evidence: string
}

export interface MarketAccessReviewData {
  controls: MarketAccessControl[]
  config_changes: Array<{ at: string; source: string; user_id: string; api_key_id: string; outcome: string; detail: string }>
}

const RULE_FIRES = `
SELECT rule, uniqExact(id) AS fires FROM alert_changes
WHERE change = 'open' AND detected_at >= toDateTime64({from:String}, 6, 'UTC') AND detected_at < toDateTime64({to:String}, 6, 'UTC')
GROUP BY rule`

const PLAYBOOK_RUNS = `
SELECT playbook, uniqExact(run_id) AS runs FROM respond_runs
WHERE changed_at >= toDateTime64({from:String}, 6, 'UTC') AND changed_at < toDateTime64({to:String}, 6, 'UTC')
GROUP BY playbook`

const CONFIG_CHANGES = `
SELECT toString(ts) AS at, source, user_id, api_key_id, outcome, toJSONString(attrs) AS detail FROM events FINAL
WHERE action = 'admin.config_change' AND ts >= toDateTime64({from:String}, 9, 'UTC') AND ts < toDateTime64({to:String}, 9, 'UTC')
ORDER BY ts, id`

export async function marketAccessReview(ctx: ReportContext): Promise<ReportBody<MarketAccessReviewData>> {
  const { store } = ctx.deps
  const p = periodParams(ctx.period)
  const [fires, runs, changes] = await Promise.all([
    store.query<{ rule: string; fires: string }>(RULE_FIRES, p),
    store.query<{ playbook: string; runs: string }>(PLAYBOOK_RUNS, p),
    store.query<{ at: string; source: string; user_id: string; api_key_id: string; outcome: string; detail: string }>(CONFIG_CHANGES, p),
  ])
  const fired = new Map(fires.map((f) => [f.rule, Number(f.fires)]))
  const ran = new Map(runs.map((r) => [r.playbook, Number(r.runs)]))
  const controls: MarketAccessControl[] = [...(ctx.deps.controls ?? [])]
    .sort((a, b) => (a.kind + a.id < b.kind + b.id ? -1 : a.kind + a.id > b.kind + b.id ? 1 : 0))
    .map((c) => {
      const n = c.kind === 'rule' ? (fired.get(c.id) ?? 0) : c.kind === 'playbook' ? (ran.get(c.id) ?? 0) : 0
      const evidence =
        c.kind === 'rule' ? `${n} alert(s) raised in the period` : c.kind === 'playbook' ? `${n} run(s) in the period` : 'enforced by the guard in the trading API; no run record in Vigil'
      return { kind: c.kind, id: c.id, name: c.name, settings: c.settings, modified: c.modified, fired_or_ran: n, evidence }
    })
  const config_changes = changes.map((c) => ({ at: chToIsoExact(c.at), source: c.source, user_id: c.user_id, api_key_id: c.api_key_id, outcome: c.outcome, detail: c.detail }))
  return {
    title: 'Market access controls: annual review',
    regulation: ['SEC Rule 15c3-5(e) (annual review and CEO certification)'],
    data: { controls, config_changes },
    sections: [
      {
        title: 'Controls in force and evidence they ran',
        text: [ctx.deps.controls ? 'The rules and playbooks loaded by Vigil when the report was compiled, with their current settings.' : 'No control inventory was given to this compilation.'],
        table: {
          columns: ['kind', 'id', 'name', 'settings', 'file modified', 'evidence in the period'],
          rows: controls.map((c) => [c.kind, c.id, c.name, c.settings, c.modified, c.evidence]),
        },
      },
      {
        title: 'Configuration changes reported by the trading APIs',
        ...(config_changes.length === 0 ? { text: ['No admin.config_change event in the period.'] } : {}),
        table: { columns: ['time (UTC)', 'source', 'user', 'API key', 'outcome', 'detail'], rows: config_changes.map((c) => [c.at, c.source, c.user_id, c.api_key_id, c.outcome, c.detail]) },
      },
      {
        title: 'CEO certification',
        new_page: true,
        text: [
          `I certify that the broker-dealer has in place processes to establish, document, maintain, review, test and modify the risk management controls and supervisory procedures required by SEC Rule 15c3-5, and that they were reviewed for the period from ${ctx.period.from} to ${ctx.period.to}, as set out in this report (${'see its id and content SHA-256 on each page'}).`,
          'Name: ______________________________',
          'Title: Chief Executive Officer',
          'Signature: __________________________',
          'Date: ______________________________',
        ],
      },
    ],
    queries: [
      { name: 'alerts raised per rule in the period', sql: sqlText(RULE_FIRES) },
      { name: 'playbook runs in the period', sql: sqlText(PLAYBOOK_RUNS) },
      { name: 'configuration changes reported by trading APIs', sql: sqlText(CONFIG_CHANGES) },
    ],
    not_recorded: [
      { field: 'history of threshold changes with who and when', why: 'rule and playbook files are versioned outside Vigil (in git); Vigil records the settings in force, not their history' },
      { field: 'tests of each control in the period', why: 'rule test runs (vigil rules test) are not recorded in the store' },
    ],
  }
}
