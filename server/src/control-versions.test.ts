/**
 * The control-version log and the market-access review built on it (issue 8): what `vigil up`
 * records of the rule and playbook files it loads (control-record.ts, the function runtime.ts
 * calls at start), on a real embedded ClickHouse, with copies of the repo's rules edited the
 * way an operator would; then the review compiled over it and its numbers checked against
 * direct queries.
 */
import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { contentSha256, loadConfig, recordControlVersions, type ControlVersion, type VigilError } from '@vigil/core'
import { DEFAULT_RULES_DIR, loadRules, parseRuleTestRun, recordRuleTestRun, RuleStates, summarizeRuleTestRun, type FixtureResult } from '@vigil/detect'
import { ACTIONS, compileReport, DEFAULT_PLAYBOOKS_DIR, loadPlaybooks, renderReport, type MarketAccessReviewData } from '@vigil/respond'
import { controlInventory } from './report-wiring.js'
import { recordLoadedControls } from './control-record.js'
import { captureLogger, openTestStore, type TestStore } from './test-support.js'

let t: TestStore
const work = mkdtempSync(path.join(tmpdir(), 'vigil-controls-'))
const rulesDir = path.join(work, 'detections')
const playbooksDir = path.join(work, 'playbooks')
const BRUTE = path.join(rulesDir, 'auth_brute_force.yaml')

/** What `vigil up` does at start with the files as they are now. */
async function start(operator?: string): Promise<ControlVersion[]> {
  const { logger } = captureLogger()
  return recordLoadedControls({ store: t.store, config: { operator }, logger, rules: loadRules(rulesDir), playbooks: loadPlaybooks(playbooksDir, ACTIONS) })
}

const result = (rule: string, pass: boolean): FixtureResult => ({ rule, test: 0, name: 'n', expect: 'fire', alerts: pass ? 1 : 0, entities: [], severities: [], pass, events: 1 })

async function count(sql: string, params: Record<string, unknown> = {}): Promise<number> {
  const [row] = await t.store.query<{ n: string }>(sql, params)
  return Number(row?.n)
}

beforeAll(async () => {
  cpSync(DEFAULT_RULES_DIR, rulesDir, { recursive: true })
  cpSync(DEFAULT_PLAYBOOKS_DIR, playbooksDir, { recursive: true })
  t = await openTestStore()
}, 60_000)

afterAll(async () => {
  await t?.cleanup()
  rmSync(work, { recursive: true, force: true })
})

describe('control versions recorded at start', () => {
  it('records every loaded file once, and nothing on a restart with the files unchanged', async () => {
    const first = await start()
    const rules = loadRules(rulesDir)
    const playbooks = loadPlaybooks(playbooksDir, ACTIONS)
    expect(first).toHaveLength(rules.length + playbooks.length)
    expect(await count('SELECT count() AS n FROM control_versions')).toBe(rules.length + playbooks.length)
    const brute = first.find((v) => v.id === 'auth.brute_force')
    expect(brute).toMatchObject({ kind: 'rule', file: BRUTE, sha256: contentSha256(readFileSync(BRUTE)), previous_sha256: '', operator: '' })
    expect(brute?.by).not.toBe('')
    expect(JSON.parse(brute!.params)).toMatchObject({ severity: 'high', enabled: true, window_ms: 300_000, params: { min_failures: 10 } })
    expect(first.find((v) => v.id === 'high_alert')).toMatchObject({ kind: 'playbook', params: expect.stringContaining('"action":"notify_slack"') })

    expect(await start()).toEqual([])
    expect(await count('SELECT count() AS n FROM control_versions')).toBe(rules.length + playbooks.length)
  })

  it('records one version with the new threshold when a rule file is edited, naming VIGIL_OPERATOR', async () => {
    const before = contentSha256(readFileSync(BRUTE))
    writeFileSync(BRUTE, readFileSync(BRUTE, 'utf8').replace(/^ {2}min_failures: 10$/m, '  min_failures: 15'))
    const edited = await start('Risk Desk (J. Doe)')
    expect(edited).toHaveLength(1)
    expect(edited[0]).toMatchObject({ kind: 'rule', id: 'auth.brute_force', previous_sha256: before, sha256: contentSha256(readFileSync(BRUTE)), operator: 'Risk Desk (J. Doe)' })
    expect(JSON.parse(edited[0]!.params).params.min_failures).toBe(15)
    const stored = await t.store.query<{ previous_sha256: string }>(`SELECT previous_sha256 FROM control_versions WHERE id = 'auth.brute_force' ORDER BY loaded_at`)
    expect(stored.map((r) => r.previous_sha256)).toEqual(['', before])
    expect(await start('Risk Desk (J. Doe)')).toEqual([])
  })

  it('records a retired rule as no longer loaded, and again when it comes back', async () => {
    const parked = path.join(work, 'rate_abuse.yaml')
    renameSync(path.join(rulesDir, 'rate_abuse.yaml'), parked)
    const gone = await start()
    expect(gone).toEqual([expect.objectContaining({ kind: 'rule', id: 'rate.abuse', sha256: '', params: 'null', previous_sha256: contentSha256(readFileSync(parked)) })])
    renameSync(parked, path.join(rulesDir, 'rate_abuse.yaml'))
    const back = await start()
    expect(back).toEqual([expect.objectContaining({ id: 'rate.abuse', sha256: contentSha256(readFileSync(path.join(rulesDir, 'rate_abuse.yaml'))), previous_sha256: '' })])
  })

  it('records a playbook step change, and skips a file edited after it was loaded until the next start', async () => {
    const high = path.join(playbooksDir, 'high_alert.yaml')
    writeFileSync(high, readFileSync(high, 'utf8').replace('  - action: notify_slack\n', '  - action: notify_slack\n    retries: 2\n'))
    const stepChange = await start()
    expect(stepChange.map((v) => [v.kind, v.id])).toEqual([['playbook', 'high_alert']])
    expect(JSON.parse(stepChange[0]!.params).steps[1]).toMatchObject({ action: 'notify_slack', attempts: 3 })

    // Loaded with one threshold, edited on disk before the record: the hash on disk is not what runs.
    const loaded = loadRules(rulesDir)
    const text = readFileSync(BRUTE, 'utf8')
    writeFileSync(BRUTE, text.replace(/^ {2}min_failures: 15$/m, '  min_failures: 20'))
    const { logger, lines } = captureLogger()
    const raced = await recordLoadedControls({ store: t.store, config: {}, logger, rules: loaded, playbooks: loadPlaybooks(playbooksDir, ACTIONS) })
    expect(raced).toEqual([])
    expect(lines.join('')).toMatch(/"control":"auth.brute_force".*"why":"edited since it was loaded".*control version not recorded/)
    writeFileSync(BRUTE, text)
    expect(await start()).toEqual([])
  })

  it('refuses a snapshot that is not a content hash, and a bad VIGIL_OPERATOR', async () => {
    await expect(recordControlVersions(t.store, [{ kind: 'rule', id: 'x.y', file: 'f', sha256: 'abc', params: {} }], { by: 'u', operator: '' })).rejects.toThrow(/sha256/)
    for (const bad of ['a\u0007b', 'x'.repeat(129), '   ']) {
      let err: unknown
      try {
        loadConfig({ VIGIL_OPERATOR: bad }, { cwd: work })
      } catch (e) {
        err = e
      }
      expect((err as VigilError | undefined)?.message).toMatch(/VIGIL_OPERATOR/)
    }
    expect(loadConfig({ VIGIL_OPERATOR: ' Risk Desk ' }, { cwd: work }).operator).toBe('Risk Desk')
  })
})

describe('rule test runs', () => {
  it('refuses a summary whose totals do not add up, or that is not JSON', () => {
    const run = summarizeRuleTestRun([result('clock.skew', true)], [], { startedAt: new Date(), finishedAt: new Date(), by: 'u', operator: '', onlyRule: '' })
    expect(() => parseRuleTestRun(JSON.stringify({ ...run, passed: 5 }))).toThrow(expect.objectContaining({ errName: 'VIGIL_ERR_RULE_TEST_RUN_INVALID' }))
    expect(() => parseRuleTestRun(JSON.stringify({ ...run, id: 'x' }))).toThrow(expect.objectContaining({ errName: 'VIGIL_ERR_RULE_TEST_RUN_INVALID' }))
    expect(() => parseRuleTestRun('{')).toThrow(expect.objectContaining({ errName: 'VIGIL_ERR_RULE_TEST_RUN_INVALID' }))
    expect(parseRuleTestRun(JSON.stringify(run))).toEqual(run)
  })
})

describe('market-access-review over the recorded history', () => {
  it('lists each threshold change with old and new values, the runtime switches and the test runs, checked against the tables', async () => {
    const from = new Date(Date.now() - 3_600_000)
    // A run on the edited brute-force file, and one on an older clock.skew file than the one in force.
    const brute = contentSha256(readFileSync(BRUTE))
    const now = new Date()
    await recordRuleTestRun(
      t.store,
      summarizeRuleTestRun([result('auth.brute_force', true), result('auth.brute_force', false), result('clock.skew', true)], [
        { id: 'auth.brute_force', sha256: brute },
        { id: 'clock.skew', sha256: 'f'.repeat(64) },
      ], { startedAt: now, finishedAt: now, by: 'cli:alice', operator: 'Risk Desk', onlyRule: '' }),
    )
    await new RuleStates(t.store).record({ rule: 'geo.new_country', enabled: false, reason: 'VPN rollout', actor: 'cli:bob' })

    const to = new Date(Date.now() + 60_000)
    const rules = loadRules(rulesDir)
    const playbooks = loadPlaybooks(playbooksDir, ACTIONS)
    const r = await compileReport({ type: 'market-access-review', period: { from: from.toISOString(), to: to.toISOString() }, parameters: {} }, { store: t.store, controls: controlInventory(rules, playbooks) })
    const d = r.data as MarketAccessReviewData
    const p = { from: from.toISOString().replace('T', ' ').replace('Z', ''), to: to.toISOString().replace('T', ' ').replace('Z', '') }
    const inPeriod = `loaded_at >= toDateTime64({from:String}, 6, 'UTC') AND loaded_at < toDateTime64({to:String}, 6, 'UTC')`

    expect(d.control_changes).toHaveLength(await count(`SELECT count() AS n FROM control_versions WHERE ${inPeriod}`, p))
    const changed = d.control_changes.filter((c) => c.change === 'changed')
    expect(changed).toHaveLength(2)
    expect(changed[0]).toMatchObject({ kind: 'rule', id: 'auth.brute_force', operator: 'Risk Desk (J. Doe)', diff: [{ path: 'params.min_failures', old: '10', new: '15' }] })
    expect(changed[1]).toMatchObject({ kind: 'playbook', id: 'high_alert', diff: [{ path: 'steps[1].attempts', old: '5', new: '3' }] })
    expect(d.control_changes.filter((c) => c.change === 'removed').map((c) => c.id)).toEqual(['rate.abuse'])
    const brute_ = d.controls.find((c) => c.id === 'auth.brute_force')
    expect(brute_?.changes).toBe(await count(`SELECT count() AS n FROM control_versions WHERE id = 'auth.brute_force' AND ${inPeriod}`, p))
    expect(brute_?.test_runs).toBe(1)

    expect(d.rule_switches).toHaveLength(await count(`SELECT count() AS n FROM rule_changes WHERE at >= toDateTime64({from:String}, 6, 'UTC') AND at < toDateTime64({to:String}, 6, 'UTC')`, p))
    expect(d.rule_switches[0]).toMatchObject({ rule: 'geo.new_country', enabled: false, actor: 'cli:bob', reason: 'VPN rollout' })
    expect(d.controls.find((c) => c.id === 'geo.new_country')?.switches).toBe(1)

    expect(d.test_runs).toHaveLength(await count(`SELECT count() AS n FROM rule_test_runs WHERE finished_at >= toDateTime64({from:String}, 6, 'UTC') AND finished_at < toDateTime64({to:String}, 6, 'UTC')`, p))
    expect(d.test_runs[0]).toMatchObject({ by: 'cli:alice', operator: 'Risk Desk', tests: 3, passed: 2, failed: 1 })
    expect(d.test_runs[0]?.rules).toEqual([
      { rule: 'auth.brute_force', sha256: brute, tests: 2, failed: 1, in_force: true },
      { rule: 'clock.skew', sha256: 'f'.repeat(64), tests: 1, failed: 0, in_force: false },
    ])
    expect(d.findings).toContain('rate.abuse: no test run recorded in the period.')
    expect(d.findings.some((f) => f.startsWith('auth.brute_force: 1 of 2 fixture(s) failed'))).toBe(true)
    expect(d.findings.some((f) => f.startsWith('clock.skew: test run') && f.includes('not the version in force'))).toBe(true)
    expect(d.findings.some((f) => f.startsWith('auth.brute_force: no test run'))).toBe(false)

    // Recording began inside this period: what came before is named as not recorded, and only that.
    expect(r.not_recorded.map((n) => n.field)).toEqual([expect.stringMatching(/^threshold changes before 20/), 'tests of playbooks'])
    const csv = (await renderReport(r, 'csv')).toString('utf8')
    expect(csv).toContain('params.min_failures: 10 → 15')
    expect(csv).toContain('Risk Desk (J. Doe) (OS user')
  })

  it('says there is no test run and no history when the store has neither', async () => {
    const empty = await compileReport({ type: 'market-access-review', period: { from: '2020-01-01T00:00:00.000Z', to: '2020-02-01T00:00:00.000Z' }, parameters: {} }, { store: t.store, controls: controlInventory(loadRules(rulesDir), []) })
    const d = empty.data as MarketAccessReviewData
    expect(d.test_runs).toEqual([])
    expect(d.control_changes).toEqual([])
    expect(d.findings).toEqual(['No test run recorded in the period (vigil rules test): no rule has test evidence for it.'])
    expect(empty.not_recorded.map((n) => n.field)).toEqual(['history of threshold changes with who and when', 'tests of playbooks'])
  })
})
