/**
 * `market-access-review` (SEC Rule 15c3-5(e)): the annual review pack.
 * - Inventory of the controls in force (rules, playbooks, guard settings, as the server
 *   loaded them) with evidence each ran in the period: a rule's alerts, a playbook's runs.
 * - Each change of a control's settings in the period, old and new values with who and when
 *   (`control_versions`, recorded by `vigil up` when a rule or playbook file it loads differs
 *   from the last version recorded: core/src/control-versions.ts), and every runtime switch
 *   of a rule (`rule_changes`).
 * - The tests of each control in the period (`rule_test_runs`, one row per `vigil rules test`
 *   run, with the hash of each rule file it tested); a rule without one is a finding.
 * - Configuration changes the trading APIs reported (`admin.config_change` events), with who
 *   and when.
 * - A certification page for the CEO to sign (15c3-5(e)(2)).
 */
import type { NotRecorded, ReportBody, ReportContext } from './report.js'
import { chToIsoExact, periodParams, sqlText } from './sql-time.js'

export interface MarketAccessControl {
  kind: string
  id: string
  name: string
  settings: string
  modified: string | null
  fired_or_ran: number
  evidence: string
  /** Versions of its settings recorded in the period (control_versions). */
  changes: number
  /** Runtime switches in the period (rules only, rule_changes). */
  switches: number
  /** `vigil rules test` runs in the period that tested it (rules only; null for playbooks and guard settings). */
  test_runs: number | null
  /** The end of the newest of those runs, RFC 3339 UTC. */
  last_tested: string | null
}

/** One setting that differs between two versions: a dotted path and its values as JSON text (`null` when absent). */
export interface SettingDiff {
  path: string
  old: string | null
  new: string | null
}

/** A version of a control's settings recorded in the period. */
export interface ControlSettingsChange {
  at: string
  kind: string
  id: string
  /** `first recorded`: no earlier version is recorded; `removed`: no longer loaded. */
  change: 'first recorded' | 'changed' | 'removed'
  file: string
  sha256: string
  previous_sha256: string
  by: string
  operator: string
  /** The settings that differ from the previous version; empty when only text (a description, a test) changed. */
  diff: SettingDiff[]
}

export interface RuleSwitch {
  at: string
  rule: string
  enabled: boolean
  actor: string
  reason: string
}

export interface ControlTestRun {
  id: string
  started_at: string
  finished_at: string
  by: string
  operator: string
  only_rule: string
  tests: number
  passed: number
  failed: number
  /** `in_force`: whether the file tested is the version recorded in force when the run ended (null: none recorded then). */
  rules: Array<{ rule: string; sha256: string; tests: number; failed: number; in_force: boolean | null }>
}

export interface MarketAccessReviewData {
  controls: MarketAccessControl[]
  control_changes: ControlSettingsChange[]
  rule_switches: RuleSwitch[]
  test_runs: ControlTestRun[]
  /** What the review should look at: untested rules, failed tests, tests of a file not in force. */
  findings: string[]
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

// Every version up to the end of the period: a change's old values are the version before it,
// which may be older than the period.
const CONTROL_VERSIONS = `
SELECT kind, id, file, sha256, params, toString(loaded_at) AS loaded, by, operator, previous_sha256 FROM control_versions
WHERE loaded_at < toDateTime64({to:String}, 6, 'UTC')
ORDER BY kind, id, loaded_at`

const RULE_SWITCHES = `
SELECT rule, enabled, reason, actor, toString(at) AS switched_at FROM rule_changes
WHERE at >= toDateTime64({from:String}, 6, 'UTC') AND at < toDateTime64({to:String}, 6, 'UTC')
ORDER BY at, rule`

const TEST_RUNS = `
SELECT id, toString(started_at) AS started, toString(finished_at) AS finished, by, operator, only_rule, tests, passed, failed, rules, rule_sha256, rule_tests, rule_failed
FROM rule_test_runs
WHERE finished_at >= toDateTime64({from:String}, 6, 'UTC') AND finished_at < toDateTime64({to:String}, 6, 'UTC')
ORDER BY finished_at, id`

interface VersionRow {
  kind: string
  id: string
  file: string
  sha256: string
  params: string
  loaded: string
  by: string
  operator: string
  previous_sha256: string
}

interface TestRunRow {
  id: string
  started: string
  finished: string
  by: string
  operator: string
  only_rule: string
  tests: number | string
  passed: number | string
  failed: number | string
  rules: string[]
  rule_sha256: string[]
  rule_tests: Array<number | string>
  rule_failed: Array<number | string>
}

/** Leaves of a settings value by dotted path (`params.min_failures`, `steps[1].action`), each as JSON text. */
function leaves(value: unknown, prefix: string, out: Map<string, string>): Map<string, string> {
  if (Array.isArray(value) && value.length > 0) value.forEach((v, i) => leaves(v, `${prefix}[${i}]`, out))
  else if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) leaves(v, prefix ? `${prefix}.${k}` : k, out)
  } else out.set(prefix || '(all)', JSON.stringify(value) ?? 'null')
  return out
}

/** The settings that differ between two versions' canonical JSON, by path, sorted. */
export function settingsDiff(oldJson: string | null, newJson: string | null): SettingDiff[] {
  const parse = (t: string | null): unknown => (t === null ? undefined : JSON.parse(t))
  const before = oldJson === null ? new Map<string, string>() : leaves(parse(oldJson), '', new Map())
  const after = newJson === null ? new Map<string, string>() : leaves(parse(newJson), '', new Map())
  const paths = [...new Set([...before.keys(), ...after.keys()])].sort()
  return paths.filter((p) => before.get(p) !== after.get(p)).map((p) => ({ path: p, old: before.get(p) ?? null, new: after.get(p) ?? null }))
}

const who = (by: string, operator: string) => (operator ? `${operator} (OS user ${by})` : by)
const shortHash = (h: string) => (h ? h.slice(0, 12) : '—')
const diffText = (c: ControlSettingsChange) =>
  c.change === 'removed' ? 'no longer loaded' : c.diff.length === 0 ? 'text only: no setting changed' : c.diff.map((d) => `${d.path}: ${d.old ?? '—'} → ${d.new ?? '—'}`).join('; ')

/** Versions per control in load order, a row repeating the hash before it (two processes starting at once) left out. */
function versionHistory(rows: readonly VersionRow[]): Map<string, VersionRow[]> {
  const byControl = new Map<string, VersionRow[]>()
  for (const r of rows) {
    const key = `${r.kind}:${r.id}`
    const list = byControl.get(key) ?? []
    if (list.length > 0 && list[list.length - 1]!.sha256 === r.sha256) continue
    list.push(r)
    byControl.set(key, list)
  }
  return byControl
}

export async function marketAccessReview(ctx: ReportContext): Promise<ReportBody<MarketAccessReviewData>> {
  const { store } = ctx.deps
  const p = periodParams(ctx.period)
  const [fires, runs, changes, versions, switchRows, testRows] = await Promise.all([
    store.query<{ rule: string; fires: string }>(RULE_FIRES, p),
    store.query<{ playbook: string; runs: string }>(PLAYBOOK_RUNS, p),
    store.query<{ at: string; source: string; user_id: string; api_key_id: string; outcome: string; detail: string }>(CONFIG_CHANGES, p),
    store.query<VersionRow>(CONTROL_VERSIONS, p),
    store.query<{ rule: string; enabled: number | string; reason: string; actor: string; switched_at: string }>(RULE_SWITCHES, p),
    store.query<TestRunRow>(TEST_RUNS, p),
  ])
  const fromUs = p.from
  const history = versionHistory(versions)
  const control_changes: ControlSettingsChange[] = []
  for (const list of history.values()) {
    list.forEach((v, i) => {
      if (v.loaded < fromUs) return
      const before = i > 0 ? list[i - 1]! : undefined
      const removed = v.sha256 === ''
      control_changes.push({
        at: chToIsoExact(v.loaded),
        kind: v.kind,
        id: v.id,
        change: removed ? 'removed' : before === undefined || before.sha256 === '' ? 'first recorded' : 'changed',
        file: v.file,
        sha256: v.sha256,
        previous_sha256: v.previous_sha256,
        by: v.by,
        operator: v.operator,
        diff: removed || before === undefined || before.sha256 === '' ? [] : settingsDiff(before.params, v.params),
      })
    })
  }
  control_changes.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.kind + a.id < b.kind + b.id ? -1 : 1))

  /** The hash of a rule's version in force at a ClickHouse time, if one was recorded by then. */
  const inForceAt = (rule: string, chTime: string): string | undefined => {
    const list = history.get(`rule:${rule}`) ?? []
    let sha: string | undefined
    for (const v of list) if (v.loaded <= chTime) sha = v.sha256
    return sha
  }
  const rule_switches: RuleSwitch[] = switchRows.map((r) => ({ at: chToIsoExact(r.switched_at), rule: r.rule, enabled: Number(r.enabled) === 1, actor: r.actor, reason: r.reason }))
  const test_runs: ControlTestRun[] = testRows.map((r) => ({
    id: r.id,
    started_at: chToIsoExact(r.started),
    finished_at: chToIsoExact(r.finished),
    by: r.by,
    operator: r.operator,
    only_rule: r.only_rule,
    tests: Number(r.tests),
    passed: Number(r.passed),
    failed: Number(r.failed),
    rules: r.rules.map((rule, i) => {
      const sha = r.rule_sha256[i] ?? ''
      const force = inForceAt(rule, r.finished)
      return { rule, sha256: sha, tests: Number(r.rule_tests[i] ?? 0), failed: Number(r.rule_failed[i] ?? 0), in_force: force === undefined ? null : force === sha }
    }),
  }))

  const fired = new Map(fires.map((f) => [f.rule, Number(f.fires)]))
  const ran = new Map(runs.map((r) => [r.playbook, Number(r.runs)]))
  const controls: MarketAccessControl[] = [...(ctx.deps.controls ?? [])]
    .sort((a, b) => (a.kind + a.id < b.kind + b.id ? -1 : a.kind + a.id > b.kind + b.id ? 1 : 0))
    .map((c) => {
      const n = c.kind === 'rule' ? (fired.get(c.id) ?? 0) : c.kind === 'playbook' ? (ran.get(c.id) ?? 0) : 0
      const evidence =
        c.kind === 'rule' ? `${n} alert(s) raised in the period` : c.kind === 'playbook' ? `${n} run(s) in the period` : 'enforced by the guard in the trading API; no run record in Vigil'
      const tested = c.kind === 'rule' ? test_runs.filter((t) => t.rules.some((r) => r.rule === c.id)) : []
      return {
        kind: c.kind,
        id: c.id,
        name: c.name,
        settings: c.settings,
        modified: c.modified,
        fired_or_ran: n,
        evidence,
        changes: control_changes.filter((x) => x.kind === c.kind && x.id === c.id).length,
        switches: c.kind === 'rule' ? rule_switches.filter((s) => s.rule === c.id).length : 0,
        test_runs: c.kind === 'rule' ? tested.length : null,
        last_tested: tested.length > 0 ? tested[tested.length - 1]!.finished_at : null,
      }
    })

  const findings: string[] = []
  const rules = controls.filter((c) => c.kind === 'rule')
  if (test_runs.length === 0) findings.push('No test run recorded in the period (vigil rules test): no rule has test evidence for it.')
  else for (const c of rules) if (c.test_runs === 0) findings.push(`${c.id}: no test run recorded in the period.`)
  for (const t of test_runs) {
    for (const r of t.rules) {
      if (r.failed > 0) findings.push(`${r.rule}: ${r.failed} of ${r.tests} fixture(s) failed in test run ${t.id} at ${t.finished_at}.`)
      if (r.in_force === false) findings.push(`${r.rule}: test run ${t.id} at ${t.finished_at} tested a file (${shortHash(r.sha256)}) that was not the version in force then.`)
    }
  }

  const not_recorded: NotRecorded[] = []
  const recordedFrom = versions.reduce<string | undefined>((min, v) => (min === undefined || v.loaded < min ? v.loaded : min), undefined)
  if (recordedFrom === undefined) {
    not_recorded.push({ field: 'history of threshold changes with who and when', why: 'no rule or playbook version was recorded by the end of the period: vigil up records the files it loads from the release that added control_versions on' })
  } else if (recordedFrom > fromUs) {
    not_recorded.push({ field: `threshold changes before ${chToIsoExact(recordedFrom)}`, why: 'Vigil began recording rule and playbook versions then; earlier changes are only in the files\' own history (git)' })
  }
  not_recorded.push({ field: 'tests of playbooks', why: 'playbook fixtures run in the test suite (npm test); no command records a run in the store' })

  const config_changes = changes.map((c) => ({ at: chToIsoExact(c.at), source: c.source, user_id: c.user_id, api_key_id: c.api_key_id, outcome: c.outcome, detail: c.detail }))
  return {
    title: 'Market access controls: annual review',
    regulation: ['SEC Rule 15c3-5(e) (annual review and CEO certification)'],
    data: { controls, control_changes, rule_switches, test_runs, findings, config_changes },
    sections: [
      {
        title: 'Controls in force and evidence they ran',
        text: [ctx.deps.controls ? 'The rules and playbooks loaded by Vigil when the report was compiled, with their current settings; changes, runtime switches and test runs are counted over the period.' : 'No control inventory was given to this compilation.'],
        table: {
          columns: ['kind', 'id', 'name', 'settings', 'file modified', 'evidence in the period', 'changes', 'switches', 'test runs', 'last tested'],
          rows: controls.map((c) => [c.kind, c.id, c.name, c.settings, c.modified, c.evidence, c.changes, c.switches, c.test_runs ?? 'n/a', c.last_tested]),
        },
      },
      {
        title: 'Threshold and parameter changes',
        text: [
          'Each version of a rule or playbook file that Vigil loaded in the period and that differed from the version before it, with the settings that changed (old → new), who ran Vigil then (VIGIL_OPERATOR, and the OS user) and the file\'s SHA-256.',
          ...(control_changes.length === 0 ? ['No version recorded in the period: the rule and playbook files loaded were those in force before it.'] : []),
        ],
        table: {
          columns: ['loaded (UTC)', 'kind', 'control', 'change', 'settings changed', 'who', 'SHA-256', 'previous'],
          rows: control_changes.map((c) => [c.at, c.kind, c.id, c.change, diffText(c), who(c.by, c.operator), shortHash(c.sha256), shortHash(c.previous_sha256)]),
        },
      },
      {
        title: 'Rules switched on or off at runtime',
        ...(rule_switches.length === 0 ? { text: ['No rule was switched on or off at runtime in the period.'] } : {}),
        table: { columns: ['time (UTC)', 'rule', 'switched', 'who', 'reason'], rows: rule_switches.map((s) => [s.at, s.rule, s.enabled ? 'on' : 'off', s.actor, s.reason]) },
      },
      {
        title: 'Tests of the controls (vigil rules test)',
        text: [
          'Each run of every fixture of the rules through the real engine, as recorded in the store: the rule files tested (their SHA-256 against the version in force), and the fixtures passed and failed.',
          ...(test_runs.length === 0 ? ['No test run recorded in the period.'] : []),
        ],
        table: {
          columns: ['finished (UTC)', 'run', 'who', 'rules', 'passed', 'failed', 'failed rules', 'tested files not in force'],
          rows: test_runs.map((t) => [
            t.finished_at,
            t.id,
            who(t.by, t.operator),
            t.only_rule || `all (${t.rules.length})`,
            t.passed,
            t.failed,
            t.rules.filter((r) => r.failed > 0).map((r) => r.rule).join(', '),
            t.rules.filter((r) => r.in_force === false).map((r) => r.rule).join(', '),
          ]),
        },
      },
      { title: 'Findings', text: findings.length === 0 ? ['None: every rule in force was tested in the period and passed.'] : findings },
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
      { name: 'rule and playbook versions up to the end of the period', sql: sqlText(CONTROL_VERSIONS) },
      { name: 'rules switched at runtime in the period', sql: sqlText(RULE_SWITCHES) },
      { name: 'rule test runs in the period', sql: sqlText(TEST_RUNS) },
      { name: 'configuration changes reported by trading APIs', sql: sqlText(CONFIG_CHANGES) },
    ],
    not_recorded,
  }
}
