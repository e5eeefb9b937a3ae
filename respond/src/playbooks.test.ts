import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { isVigilError, type Alert } from '@vigil/core'
import { ACTIONS } from './actions/index.js'
import { PLAYBOOK_SCHEMA_FILE, playbookSchemaJson } from './playbook-schema.js'
import {
  DEFAULT_PLAYBOOKS_DIR,
  MAX_PLAYBOOK_BYTES,
  PlaybookError,
  alertFromTest,
  checkPlaybookCorpus,
  conditionFails,
  formatPlaybookProblem,
  loadPlaybooks,
  matchPlaybooks,
  parsePlaybook,
  triggerMatches,
} from './playbooks.js'

const GOOD = `id: test_playbook
name: Test playbook
description: A playbook for tests.
created: 2026-11-26
modified: 2026-11-26
trigger:
  rules: [auth.*]
  min_severity: high
steps:
  - action: open_incident
  - action: notify_slack
    params:
      mention: "@here"
    when:
      severity_at_least: critical
      evidence:
        - { path: stats.failures, op: gte, value: 10 }
    require_approval: { timeout: 15m, on_timeout: skip }
    retries: 2
    backoff: 1.5s
tests:
  - name: fires
    alert: { rule: auth.brute_force, severity: critical, entity: { type: api_key, id: k1 }, evidence: { stats: { failures: 12 } } }
    expect: run
    steps: [open_incident, notify_slack]
  - name: does not fire
    alert: { rule: volume.spike, severity: critical, entity: { type: api_key, id: k1 } }
    expect: none
`

const problemsOf = (text: string, file = 'rules/playbooks/test_playbook.yaml'): string[] => {
  try {
    parsePlaybook(text, file, ACTIONS)
  } catch (err) {
    if (err instanceof PlaybookError) return err.problems.map(formatPlaybookProblem)
    throw err
  }
  return []
}

const dirs: string[] = []
function corpus(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-playbooks-'))
  dirs.push(dir)
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text)
  return dir
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const alert = (over: Partial<Alert> = {}): Alert => ({
  ...alertFromTest({ rule: 'auth.brute_force', severity: 'high', entity: { type: 'api_key', id: 'k1' } }, 'x', 0),
  ...over,
})

describe('playbook templates', () => {
  it('refuses a template field that names nothing, and accepts the known ones', () => {
    const withTemplates = (reason: string) =>
      GOOD.replace('  - action: notify_slack\n', `  - action: revoke_key\n    params:\n      reason: "${reason}"\n  - action: notify_slack\n`)
    expect(problemsOf(withTemplates('{{alert.rule}} on {{alert.api_key_id}}'))).toEqual([])
    const problems = problemsOf(withTemplates('{{alert.secret_thing}} hit'))
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(/^rules\/playbooks\/test_playbook\.yaml: \/steps\/1\/params\/reason unknown template field \{\{alert\.secret_thing\}\}/)
  })
})

describe('playbook schema', () => {
  it('rules/schema/playbook.v1.json is generated from PlaybookSchema (npx tsx scripts/playbook-schema.ts)', () => {
    expect(readFileSync(PLAYBOOK_SCHEMA_FILE, 'utf8')).toBe(playbookSchemaJson())
  })

  it('the default playbooks load, pass lint, and their tests hold', () => {
    expect(checkPlaybookCorpus(DEFAULT_PLAYBOOKS_DIR, ACTIONS).map(formatPlaybookProblem)).toEqual([])
    const ids = loadPlaybooks(DEFAULT_PLAYBOOKS_DIR, ACTIONS).map((p) => p.id)
    expect(ids).toEqual(['critical_alert', 'critical_credential_attack', 'critical_trading_anomaly', 'high_alert', 'low_medium_alert'])
  })

  it('every built-in rule at every severity starts exactly one default playbook', () => {
    const playbooks = loadPlaybooks(DEFAULT_PLAYBOOKS_DIR, ACTIONS)
    const rules = ['auth.brute_force', 'auth.credential_stuffing', 'auth.success_after_failures', 'volume.spike', 'geo.new_country', 'geo.impossible_travel',
      'access.ip_not_allowed', 'access.scope_violation', 'rate.abuse', 'ids.injection', 'order.fat_finger', 'clock.skew']
    for (const rule of rules) {
      for (const severity of ['low', 'medium', 'high', 'critical'] as const) {
        const matched = matchPlaybooks(playbooks, alert({ rule, severity }))
        expect(matched.map((p) => p.id), `${rule} ${severity}`).toHaveLength(1)
      }
    }
  })

  it('a good playbook loads with durations in ms, defaults and decoded params', () => {
    const pb = parsePlaybook(GOOD, 'rules/playbooks/test_playbook.yaml', ACTIONS)
    expect(pb.enabled).toBe(true)
    expect(pb.steps[0]).toMatchObject({ index: 0, action: 'open_incident', attempts: 5, backoffMs: 1000, approval: null, when: null })
    expect(pb.steps[1]).toMatchObject({ action: 'notify_slack', attempts: 3, backoffMs: 1500, approval: { timeoutMs: 900_000, onTimeout: 'skip' } })
    expect(pb.steps[1]?.params).toMatchObject({ mention: '@here' })
  })

  it('unknown keys anywhere are problems naming file and path', () => {
    const bad = GOOD.replace('enabled', 'x')
      .replace('trigger:\n', 'trigger:\n  rule: [x.y]\n')
      .replace('    retries: 2\n', '    retries: 2\n    retry: 3\n')
      .replace('      severity_at_least: critical\n', '      severity_at_least: critical\n      severity: high\n')
      .replace('id: test_playbook\n', 'id: test_playbook\nauthor: eve\n')
    const p = problemsOf(bad)
    expect(p).toContain('rules/playbooks/test_playbook.yaml: /author is not a known key')
    expect(p).toContain('rules/playbooks/test_playbook.yaml: /trigger/rule is not a known key')
    expect(p).toContain('rules/playbooks/test_playbook.yaml: /steps/1/retry is not a known key')
    expect(p).toContain('rules/playbooks/test_playbook.yaml: /steps/1/when/severity is not a known key')
  })

  it('bad durations, enums, dates and ids are named precisely', () => {
    expect(problemsOf(GOOD.replace('backoff: 1.5s', 'backoff: 5 minutes'))).toEqual([
      'rules/playbooks/test_playbook.yaml: /steps/1/backoff "5 minutes" is not a duration (use e.g. 500ms, 30s, 5m, 1h, 7d)',
    ])
    expect(problemsOf(GOOD.replace('timeout: 15m', 'timeout: -1m'))).toEqual([
      'rules/playbooks/test_playbook.yaml: /steps/1/require_approval/timeout "-1m" is not a duration (use e.g. 500ms, 30s, 5m, 1h, 7d)',
    ])
    expect(problemsOf(GOOD.replace('timeout: 15m', 'timeout: 0s'))).toEqual(['rules/playbooks/test_playbook.yaml: /steps/1/require_approval/timeout must be longer than 0'])
    expect(problemsOf(GOOD.replace('timeout: 15m', 'timeout: 30d'))).toEqual(['rules/playbooks/test_playbook.yaml: /steps/1/require_approval/timeout must be at most 7d'])
    expect(problemsOf(GOOD.replace('on_timeout: skip', 'on_timeout: maybe'))).toEqual([
      'rules/playbooks/test_playbook.yaml: /steps/1/require_approval/on_timeout "maybe" must be one of proceed, skip, abort',
    ])
    expect(problemsOf(GOOD.replace('min_severity: high', 'min_severity: severe'))).toEqual([
      'rules/playbooks/test_playbook.yaml: /trigger/min_severity "severe" must be one of low, medium, high, critical',
    ])
    expect(problemsOf(GOOD.replace('modified: 2026-11-26', 'modified: 2026-02-30'))).toEqual(['rules/playbooks/test_playbook.yaml: /modified "2026-02-30" is not a real date'])
    expect(problemsOf(GOOD.replace('id: test_playbook', 'id: "Bad:Id"'))[0]).toMatch(/\/id "Bad:Id" is not a name of a-z/)
    expect(problemsOf(GOOD.replace('rules: [auth.*]', 'rules: ["auth.*.x"]'))[0]).toMatch(/\/trigger\/rules\/0 "auth\.\*\.x" is not a rule id/)
    expect(problemsOf(GOOD.replace('    retries: 2', '    retries: 500'))).toEqual(['rules/playbooks/test_playbook.yaml: /steps/1/retries must be <= 20'])
  })

  it('an unknown action, and params the action refuses, are problems', () => {
    const unknown = problemsOf(GOOD.replace('  - action: notify_slack', '  - action: launch_missiles'))
    expect(unknown).toHaveLength(1)
    expect(unknown[0]).toMatch(/^rules\/playbooks\/test_playbook\.yaml: \/steps\/1\/action "launch_missiles" is not a known action \(known: .*notify_slack/)
    const badParam = problemsOf(GOOD.replace('mention: "@here"', 'mention: "everyone"'))
    expect(badParam).toHaveLength(1)
    expect(badParam[0]).toMatch(/^rules\/playbooks\/test_playbook\.yaml: \/steps\/1\/params\/mention .*\(notify_slack\)$/)
    const extraParam = problemsOf(GOOD.replace('mention: "@here"', 'mention: "@here"\n      channel_id: C1'))
    expect(extraParam.some((l) => l.includes('/steps/1/params') && l.includes('(notify_slack)'))).toBe(true)
  })

  it('hostile YAML is refused with one clear line, never crashes or hangs', () => {
    const huge = `${GOOD}\n# ${'x'.repeat(MAX_PLAYBOOK_BYTES)}\n`
    expect(problemsOf(huge)).toEqual(['rules/playbooks/test_playbook.yaml: is larger than 256 KiB'])
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
      'e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]',
    ].join('\n')
    const started = Date.now()
    expect(problemsOf(bomb)[0]).toMatch(/is not valid YAML: .*alias/i)
    // Refused by the alias limit, not after expanding 10^5 nodes (generous: the machine is shared).
    expect(Date.now() - started).toBeLessThan(10_000)
    expect(problemsOf(`${GOOD}id: again\n`)[0]).toMatch(/is not valid YAML: Map keys must be unique/)
    expect(problemsOf('- just\n- a list\n')).toEqual(['rules/playbooks/test_playbook.yaml: / must be object'])
    expect(problemsOf('')).toEqual(['rules/playbooks/test_playbook.yaml: / must be object'])
    expect(problemsOf('id: [unclosed\n')[0]).toMatch(/is not valid YAML/)
    const proto = problemsOf(GOOD.replace('id: test_playbook\n', 'id: test_playbook\n__proto__: { enabled: false }\n'))
    expect(proto).toEqual(['rules/playbooks/test_playbook.yaml: /__proto__ is not a known key'])
    expect(({} as Record<string, unknown>).enabled).toBeUndefined()
    const taggedParams = problemsOf(GOOD.replace('mention: "@here"', 'mention: !!binary aGVsbG8='))
    expect(taggedParams.length).toBeGreaterThan(0)
  })

  it('problems are thrown as VIGIL_ERR_PLAYBOOK_INVALID with one line per problem', () => {
    try {
      parsePlaybook(GOOD.replace('backoff: 1.5s', 'backoff: soon').replace('min_severity: high', 'min_severity: x'), 'p.yaml', ACTIONS)
      expect.unreachable()
    } catch (err) {
      expect(isVigilError(err)).toBe(true)
      expect((err as PlaybookError).code).toBe('playbook_invalid')
      expect((err as PlaybookError).message.split('\n').slice(1)).toHaveLength(2)
    }
  })
})

describe('playbook corpus lint', () => {
  it('first step open_incident, run and none tests, file name = id, test expectations, strays', () => {
    const noIncident = GOOD.replace('  - action: open_incident\n', '').replace('steps: [open_incident, notify_slack]', 'steps: [notify_slack]')
    const onlyRun = GOOD.replace('rule: volume.spike', 'rule: auth.other').replace('expect: none', 'expect: run')
    const wrongExpect = GOOD.replace('steps: [open_incident, notify_slack]', 'steps: [open_incident]')
    const dir = corpus({
      'test_playbook.yaml': noIncident,
      'other_name.yaml': onlyRun.replace('id: test_playbook', 'id: only_run'),
      'wrong_expect.yaml': wrongExpect.replace('id: test_playbook', 'id: wrong_expect'),
      'dup.yaml': GOOD.replace('id: test_playbook', 'id: wrong_expect'),
      'README.txt': 'notes',
    })
    const lines = checkPlaybookCorpus(dir, ACTIONS).map(formatPlaybookProblem).map((l) => l.replace(`${dir}/`, ''))
    expect(lines).toContain('test_playbook.yaml: /steps/0/action must be open_incident (every run has an incident for its timeline), not notify_slack')
    expect(lines).toContain('other_name.yaml: file name must be only_run.yaml for id only_run')
    expect(lines).toContain('other_name.yaml: /tests needs at least one test with expect: none')
    expect(lines).toContain('wrong_expect.yaml: /tests/0/steps expects [open_incident], the playbook would run [open_incident, notify_slack]')
    expect(lines.some((l) => l.startsWith('wrong_expect.yaml: /id wrong_expect is already the id of') || l.startsWith('dup.yaml: /id wrong_expect is already the id of'))).toBe(true)
    expect(lines).toContain('README.txt: holds no playbook: a playbooks folder holds only <id>.yaml files')
    expect(() => loadPlaybooks(dir, ACTIONS)).toThrow(PlaybookError)
  })

  it('a test whose expectation the trigger contradicts is a problem', () => {
    const dir = corpus({ 'test_playbook.yaml': GOOD.replace('rule: volume.spike', 'rule: auth.other') })
    expect(checkPlaybookCorpus(dir, ACTIONS).map(formatPlaybookProblem).map((l) => l.replace(`${dir}/`, ''))).toEqual([
      'test_playbook.yaml: /tests/1 expects none, but the trigger matches this alert',
    ])
  })
})

describe('matching and conditions', () => {
  const trigger = { rules: ['auth.*', 'volume.spike'], except_rules: ['auth.success_after_failures'], min_severity: 'medium' as const, max_severity: 'high' as const }
  it('rules by id, family and *, except_rules, a severity range and entity types', () => {
    expect(triggerMatches(trigger, alert({ rule: 'auth.brute_force', severity: 'high' }))).toBe(true)
    expect(triggerMatches(trigger, alert({ rule: 'volume.spike', severity: 'medium' }))).toBe(true)
    expect(triggerMatches(trigger, alert({ rule: 'authx.brute_force', severity: 'high' }))).toBe(false)
    expect(triggerMatches(trigger, alert({ rule: 'auth.success_after_failures', severity: 'high' }))).toBe(false)
    expect(triggerMatches(trigger, alert({ rule: 'auth.brute_force', severity: 'low' }))).toBe(false)
    expect(triggerMatches(trigger, alert({ rule: 'auth.brute_force', severity: 'critical' }))).toBe(false)
    expect(triggerMatches({ rules: ['*'], min_severity: 'low', entity_types: ['ip'] }, alert())).toBe(false)
    expect(triggerMatches({ rules: ['*'], min_severity: 'low', entity_types: ['ip', 'api_key'] }, alert())).toBe(true)
  })

  it('conditions compare plainly; a missing or non-numeric value never holds; no prototype walk', () => {
    const a = alert({ severity: 'high', score: 7, count: 3, evidence: { stats: { failures: 12, label: 'x' }, n: '5' } })
    expect(conditionFails({ evidence: [{ path: 'stats.failures', op: 'gte', value: 12 }] }, a)).toBeNull()
    expect(conditionFails({ evidence: [{ path: 'stats.failures', op: 'gt', value: 12 }] }, a)).toMatch(/does not hold/)
    expect(conditionFails({ evidence: [{ path: 'n', op: 'lt', value: 6 }] }, a)).toBeNull()
    expect(conditionFails({ evidence: [{ path: 'stats.label', op: 'eq', value: 'x' }] }, a)).toBeNull()
    expect(conditionFails({ evidence: [{ path: 'stats.label', op: 'gt', value: 'a' }] }, a)).not.toBeNull()
    expect(conditionFails({ evidence: [{ path: 'stats.missing', op: 'ne', value: 1 }] }, a)).not.toBeNull()
    expect(conditionFails({ evidence: [{ path: 'constructor', op: 'ne', value: 'x' }] }, a)).not.toBeNull()
    expect(conditionFails({ evidence: [{ path: 'stats.toString', op: 'ne', value: 'x' }] }, a)).not.toBeNull()
    expect(conditionFails({ severity_at_least: 'critical' }, a)).toBe('severity high is below critical')
    expect(conditionFails({ has: ['account_id'] }, a)).toBe('the alert has no account_id')
    expect(conditionFails({ has: ['api_key_id'], score_at_least: 7, count_at_least: 3, entity_type: ['api_key'], rule: ['auth.*'] }, a)).toBeNull()
  })
})
