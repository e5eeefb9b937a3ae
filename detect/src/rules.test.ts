import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import AjvModule from 'ajv'
import { afterAll, describe, expect, it } from 'vitest'
import { parse, stringify } from 'yaml'
import {
  BUILTIN_RULE_IDS,
  RULE_SCHEMA_FILE,
  RuleSchema,
  formatDuration,
  parseDuration,
  ruleSchemaJson,
  type RuleFile,
} from './rule-schema.js'
import {
  DEFAULT_RULES_DIR,
  RuleError,
  builtinParams,
  checkRuleCorpus,
  cidrProblem,
  displayPath,
  formatProblem,
  lintRules,
  listRuleFiles,
  loadDeprecatedRules,
  loadLintExceptions,
  loadRules,
  parseRule,
  readRule,
  type Rule,
} from './rules.js'

const Ajv = AjvModule as unknown as typeof AjvModule.default
const BRUTE_FORCE = 'rules/detections/auth_brute_force.yaml'
const committedFiles = listRuleFiles()

/** The problems a loader throws, as the CLI prints them; [] when it loads. */
function loadProblems(load: () => unknown): string[] {
  try {
    load()
    return []
  } catch (err) {
    if (err instanceof RuleError) return err.problems.map(formatProblem)
    throw err
  }
}

describe('committed rules', () => {
  it('rules/detections holds a rule file for every CONTRACT §5 rule', () => {
    expect(committedFiles.map((f) => path.basename(f)).sort()).toEqual(BUILTIN_RULE_IDS.map((id) => `${id.replace(/\./g, '_')}.yaml`).sort())
  })

  // One test per file, so a broken file names itself.
  it.each(committedFiles.map((f) => [displayPath(f), f]))('%s loads and follows the conventions', (_shown, file) => {
    expect(loadProblems(() => readRule(file))).toEqual([])
    const rule = readRule(file)
    const problems = lintRules([rule], [file]).filter((p) => p.check !== 'builtin-missing')
    expect(problems.map(formatProblem)).toEqual([])
  })

  it.each(committedFiles.map((f) => [displayPath(f), f]))('%s is valid against the committed JSON Schema on its own', (_shown, file) => {
    // What an editor or another CI sees: the JSON file alone, no TypeBox, no extra checks.
    const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(RULE_SCHEMA_FILE, 'utf8')))
    const ok = validate(parse(readFileSync(file, 'utf8'), { merge: true }))
    expect(validate.errors ?? []).toEqual([])
    expect(ok).toBe(true)
  })

  it('the corpus as a whole passes every check: each built-in once, no stray file, no stale waiver', () => {
    expect(checkRuleCorpus().map(formatProblem)).toEqual([])
    expect(loadRules().map((r) => r.id).sort()).toEqual([...BUILTIN_RULE_IDS].sort())
  })

  it('loads durations as milliseconds, enabled by default, duration params decoded', () => {
    const rules = loadRules()
    const bf = rules.find((r) => r.id === 'auth.brute_force') as Rule
    expect(bf).toMatchObject({ windowMs: 300_000, latenessMs: 5_000, suppressionMs: 1_800_000, enabled: true, file: BRUTE_FORCE })
    const saf = rules.find((r) => r.id === 'auth.success_after_failures') as Rule
    const p = builtinParams(saf, 'auth.success_after_failures')
    expect(p.success_within).toBe(300_000)
    expect(p.min_failures).toBe(5)
    expect(() => builtinParams(bf, 'clock.skew')).toThrow('rule auth.brute_force is not clock.skew')
  })
})

describe('rules/schema/detection.v1.json', () => {
  it('equals the TypeBox RuleSchema', () => {
    const committed = readFileSync(RULE_SCHEMA_FILE, 'utf8')
    expect(ruleSchemaJson()).toBe(`${JSON.stringify(RuleSchema, null, 2)}\n`)
    expect(
      committed === ruleSchemaJson(),
      'rules/schema/detection.v1.json is out of date; regenerate it with `npm run build -w @vigil/detect && npx tsx scripts/rule-schema.ts`',
    ).toBe(true)
  })

  it('carries no storage annotations of the event schema', () => {
    expect(ruleSchemaJson()).not.toContain('x-clickhouse')
  })
})

// ---------------------------------------------------------------------------------------

const goodText = readFileSync(path.join(DEFAULT_RULES_DIR, 'auth_brute_force.yaml'), 'utf8')
/** The committed brute-force rule, changed by `edit`, as YAML text. */
function variant(edit: (doc: Record<string, unknown> & RuleFile) => void): string {
  const doc = parse(goodText, { merge: true }) as Record<string, unknown> & RuleFile
  edit(doc)
  return stringify(doc)
}
const parseProblems = (text: string, file = BRUTE_FORCE) => loadProblems(() => parseRule(text, file))
const lintOf = (text: string, file: string) => lintRules([parseRule(text, file)], [file]).filter((p) => p.check !== 'builtin-missing').map(formatProblem)

describe('bad rules give precise messages', () => {
  it('missing triage', () => {
    expect(parseProblems(variant((d) => delete (d as Partial<RuleFile>).triage))).toEqual([`${BRUTE_FORCE}: /triage is required`])
  })

  it('a param of the wrong type', () => {
    expect(parseProblems(variant((d) => (d.params.min_failures = 2.5)))).toEqual([`${BRUTE_FORCE}: /params/min_failures must be integer`])
    expect(parseProblems(variant((d) => (d.params.min_failures = 'ten')))).toEqual([`${BRUTE_FORCE}: /params/min_failures must be integer`])
  })

  it('a missing or misspelt param', () => {
    expect(
      parseProblems(
        variant((d) => {
          delete d.params.max_distinct_ips
          d.params.max_distinct_ip = 3
        }),
      ),
    ).toEqual([`${BRUTE_FORCE}: /params/max_distinct_ips is required`, `${BRUTE_FORCE}: /params/max_distinct_ip is not a known key`])
  })

  it('duplicate id', () => {
    const copy = 'rules/detections/auth_brute_force_copy.yaml'
    const problems = lintRules([parseRule(goodText, BRUTE_FORCE), parseRule(goodText, copy)], [BRUTE_FORCE, copy]).map(formatProblem)
    expect(problems).toContain(`${copy}: /id auth.brute_force is already the id of ${BRUTE_FORCE}`)
  })

  it('wrong file name', () => {
    expect(lintOf(goodText, 'rules/detections/brute_force.yaml')).toEqual([
      'rules/detections/brute_force.yaml: file name must be auth_brute_force.yaml for id auth.brute_force',
    ])
  })

  it('zero `none` fixtures', () => {
    const text = variant((d) => (d.tests = d.tests.filter((t) => t.expect === 'fire')))
    expect(lintOf(text, BRUTE_FORCE)).toEqual([`${BRUTE_FORCE}: /tests needs at least one test with expect: none`])
  })

  it('fewer than two tests', () => {
    expect(parseProblems(variant((d) => (d.tests = d.tests.slice(0, 1))))).toEqual([`${BRUTE_FORCE}: /tests must have at least 2 items`])
  })

  it('bad duration', () => {
    expect(parseProblems(variant((d) => (d.window = '5 minutes')))).toEqual([
      `${BRUTE_FORCE}: /window "5 minutes" is not a duration (use e.g. 500ms, 30s, 5m, 1h, 7d)`,
    ])
    expect(parseProblems(variant((d) => (d.window = '0s')))).toEqual([`${BRUTE_FORCE}: /window must be longer than 0`])
  })

  it('unknown top-level key', () => {
    expect(parseProblems(variant((d) => (d.severty = 'high')))).toEqual([`${BRUTE_FORCE}: /severty is not a known key`])
  })

  it('a CIDR that is not one', () => {
    const withIps = (ips: string[]) => parseProblems(variant((d) => (d.allowlist = { ips })))
    expect(withIps(['10.0.0.0/33'])).toEqual([`${BRUTE_FORCE}: /allowlist/ips/0 "10.0.0.0/33" is not a CIDR: the prefix length of an IPv4 network is 0-32`])
    expect(withIps(['office-nat'])).toEqual([`${BRUTE_FORCE}: /allowlist/ips/0 "office-nat" is not a CIDR (e.g. 192.0.2.0/24, 2001:db8::/32)`])
    expect(withIps(['192.0.2.0/24', '10.1.2.3/24'])).toEqual([`${BRUTE_FORCE}: /allowlist/ips/1 "10.1.2.3/24" has host bits set; the network is 10.1.2.0/24`])
    expect(withIps(['300.1.2.0/24'])).toEqual([`${BRUTE_FORCE}: /allowlist/ips/0 "300.1.2.0/24" is not a CIDR: "300.1.2.0" is not an IP address`])
    expect(withIps(['192.0.2.0/24', '2001:db8::/32', '10.0.0.7/32', '::/0'])).toEqual([])
  })

  it('severity out of range', () => {
    expect(parseProblems(variant((d) => (d.severity = 'urgent' as RuleFile['severity'])))).toEqual([
      `${BRUTE_FORCE}: /severity "urgent" must be one of low, medium, high, critical`,
    ])
  })

  it('modified before created', () => {
    expect(lintOf(variant((d) => (d.modified = '2026-01-01')), BRUTE_FORCE)).toEqual([`${BRUTE_FORCE}: /modified 2026-01-01 is before created 2026-11-26`])
    expect(parseProblems(variant((d) => (d.created = '2026-02-30')))).toEqual([`${BRUTE_FORCE}: /created "2026-02-30" is not a real date`])
  })

  it('a country that is not ISO 3166-1 alpha-2', () => {
    expect(parseProblems(variant((d) => (d.allowlist = { countries: ['GB', 'UK'] })))).toEqual([
      `${BRUTE_FORCE}: /allowlist/countries/1 "UK" is not an ISO 3166-1 alpha-2 country code`,
    ])
  })

  it('fixture mistakes: a misspelt field, repeat without every, a bad time, a vary on an unknown field or of the wrong type', () => {
    const first = (d: RuleFile) => d.tests[0]?.events[0] as Record<string, unknown>
    expect(
      parseProblems(
        variant((d) => {
          first(d).api_key = 'ak_x'
        }),
      ),
    ).toEqual([`${BRUTE_FORCE}: /tests/0/events/0/api_key is not a known key`])
    expect(parseProblems(variant((d) => delete first(d).every))).toEqual([`${BRUTE_FORCE}: /tests/0/events/0/every is required with repeat`])
    expect(parseProblems(variant((d) => (first(d).ts = 'yesterday')))).toEqual([
      `${BRUTE_FORCE}: /tests/0/events/0/ts "yesterday" is not an RFC 3339 UTC time or an offset like +1.5s or -7d`,
    ])
    expect(parseProblems(variant((d) => (first(d).ts = '2026-11-31T10:00:00Z')))).toEqual([
      `${BRUTE_FORCE}: /tests/0/events/0/ts "2026-11-31T10:00:00Z" is not a real instant`,
    ])
    expect(parseProblems(variant((d) => (first(d).vary = { api_key: ['a', 'b'] })))).toEqual([
      `${BRUTE_FORCE}: /tests/0/events/0/vary/api_key is not a field a fixture event can vary`,
    ])
    expect(parseProblems(variant((d) => (first(d).vary = { 'http.status': [401, 'forbidden'] })))).toEqual([
      `${BRUTE_FORCE}: /tests/0/events/0/vary/http.status/1 must be integer`,
    ])
    expect(parseProblems(variant((d) => (first(d).vary = { 'http.stauts': [401] })))).toEqual([
      `${BRUTE_FORCE}: /tests/0/events/0/vary/http.stauts is not a field a fixture event can vary`,
    ])
  })

  it('alerts on a test that must not fire', () => {
    expect(parseProblems(variant((d) => ((d.tests[2] as RuleFile['tests'][number]).alerts = 1)))).toEqual([
      `${BRUTE_FORCE}: /tests/2/alerts goes only with expect: fire`,
    ])
  })

  it('escalation steps: a condition, above the rule, in increasing severity, in range; one line each', () => {
    type Step = NonNullable<RuleFile['escalate']>[number]
    const withSteps = (steps: Step[], severity: RuleFile['severity'] = 'high') =>
      parseProblems(
        variant((d) => {
          d.severity = severity
          d.escalate = steps
          for (const t of d.tests) delete t.severity
        }),
      )
    expect(withSteps([{ severity: 'critical' }])).toEqual([
      `${BRUTE_FORCE}: /escalate/0 needs min_count or min_score (or both): a step without a condition would always hold`,
    ])
    expect(withSteps([{ severity: 'high', min_score: 90 }])).toEqual([`${BRUTE_FORCE}: /escalate/0/severity "high" must be above the rule's severity high`])
    expect(withSteps([{ severity: 'medium', min_count: 5 }])).toEqual([`${BRUTE_FORCE}: /escalate/0/severity "medium" must be above the rule's severity high`])
    expect(
      withSteps(
        [
          { severity: 'critical', min_score: 90 },
          { severity: 'high', min_count: 50 },
        ],
        'medium',
      ),
    ).toEqual([`${BRUTE_FORCE}: /escalate/1/severity "high" must be above the previous step's critical: steps go in increasing severity`])
    expect(withSteps([{ severity: 'critical', min_score: 120, min_count: 0 }])).toEqual([
      `${BRUTE_FORCE}: /escalate/0/min_count must be >= 1`,
      `${BRUTE_FORCE}: /escalate/0/min_score must be <= 100`,
    ])
    expect(withSteps([{ severity: 'critical', min_scor: 90 } as Step])).toEqual([`${BRUTE_FORCE}: /escalate/0/min_scor is not a known key`])
    expect(withSteps([])).toEqual([`${BRUTE_FORCE}: /escalate must have at least 1 item`])
    // Steps that climb, each with a condition, load.
    expect(
      withSteps(
        [
          { severity: 'high', min_count: 50 },
          { severity: 'critical', min_count: 50, min_score: 90 },
        ],
        'medium',
      ),
    ).toEqual([])
  })

  it('escalation steps of a rule built in code are linted too', () => {
    const rule = { ...parseRule(goodText, BRUTE_FORCE), escalate: [{ severity: 'low' as const, min_score: 10 }] }
    // Every fixture asserting critical is now out of reach: one problem each.
    const critical = rule.tests.flatMap((t, i) => (t.severity === 'critical' ? [i] : []))
    expect(critical.length).toBeGreaterThan(0)
    expect(lintRules([rule], [BRUTE_FORCE]).filter((p) => p.check !== 'builtin-missing').map(formatProblem)).toEqual([
      `${BRUTE_FORCE}: /escalate/0/severity "low" must be above the rule's severity high`,
      ...critical.map((i) => `${BRUTE_FORCE}: /tests/${i}/severity "critical" is neither the rule's severity nor one of its escalate steps`),
    ])
  })

  it('a fixture severity: only with expect: fire, and one the rule can give', () => {
    const none = (d: RuleFile) => d.tests.findIndex((t) => t.expect === 'none')
    let at = 0
    expect(
      parseProblems(
        variant((d) => {
          at = none(d)
          ;(d.tests[at] as RuleFile['tests'][number]).severity = 'high'
        }),
      ),
    ).toEqual([`${BRUTE_FORCE}: /tests/${at}/severity goes only with expect: fire`])
    expect(parseProblems(variant((d) => ((d.tests[0] as RuleFile['tests'][number]).severity = 'medium')))).toEqual([
      `${BRUTE_FORCE}: /tests/0/severity "medium" is neither the rule's severity nor one of its escalate steps`,
    ])
    expect(parseProblems(variant((d) => ((d.tests[0] as RuleFile['tests'][number]).severity = 'loud' as 'low')))).toEqual([
      `${BRUTE_FORCE}: /tests/0/severity "loud" must be one of low, medium, high, critical`,
    ])
  })

  it('YAML that does not parse, or repeats a key', () => {
    const [dup] = parseProblems(`${goodText}\nseverity: low\n`)
    expect(dup).toMatch(/^rules\/detections\/auth_brute_force\.yaml: is not valid YAML: Map keys must be unique \(line \d+, column 1\)$/)
  })

  it('every problem of a file at once, not just the first', () => {
    const problems = parseProblems(
      variant((d) => {
        delete (d as Partial<RuleFile>).triage
        d.window = '5 minutes'
        d.severity = 'urgent' as RuleFile['severity']
      }),
    )
    expect(problems).toHaveLength(3)
  })
})

describe('corpus checks', () => {
  const good = () => loadRules()

  it('a missing built-in is named with the file it needs', () => {
    const rules = good().filter((r) => r.id !== 'clock.skew')
    expect(lintRules(rules).map(formatProblem)).toEqual([
      'rules/detections: built-in rule clock.skew (CONTRACT §5) has no rule file; expected clock_skew.yaml',
    ])
  })

  it('a stray file in the rule folder', () => {
    const rules = good()
    expect(lintRules(rules, [...rules.map((r) => r.file), 'rules/detections/notes.txt']).map(formatProblem)).toEqual([
      'rules/detections/notes.txt: holds no rule: a rule folder holds only <id with . as _>.yaml rule files',
    ])
  })

  it('deprecated_reason on an active rule', () => {
    expect(lintOf(variant((d) => (d.deprecated_reason = 'superseded')), BRUTE_FORCE)).toEqual([
      `${BRUTE_FORCE}: /deprecated_reason belongs only to rules moved to rules/_deprecated/`,
    ])
  })

  it('a key the schema does not know, on a rule built in code', () => {
    const rule = { ...good()[0], severty: 'high' } as Rule
    expect(lintRules([rule], [rule.file]).filter((p) => p.check === 'unknown-key').map(formatProblem)).toEqual([`${rule.file}: /severty is not a known key`])
  })

  it('a waiver applies to its rule and check only, and a stale one is reported', () => {
    const noNone = variant((d) => (d.tests = d.tests.filter((t) => t.expect === 'fire')))
    const rules = [...good().filter((r) => r.id !== 'auth.brute_force'), parseRule(noNone, BRUTE_FORCE)]
    const files = rules.map((r) => r.file)
    expect(lintRules(rules, files, { 'auth.brute_force': [{ check: 'fire-and-none', reason: 'needs a fixture the engine cannot replay yet' }] })).toEqual([])
    expect(lintRules(rules, files, { 'clock.skew': [{ check: 'fire-and-none', reason: 'wrong rule' }] }).map(formatProblem)).toEqual([
      `${BRUTE_FORCE}: /tests needs at least one test with expect: none`,
      'rules/lint-exceptions.yaml: /clock.skew waives fire-and-none, which finds nothing to waive: remove the entry',
    ])
  })

  it('the committed waiver list is valid', () => {
    expect(loadLintExceptions()).toEqual({})
  })
})

describe('rule folders on disk', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'vigil-rules-'))
  afterAll(() => rmSync(root, { recursive: true, force: true }))
  const detections = path.join(root, 'detections')
  const deprecated = path.join(root, '_deprecated')
  mkdirSync(detections)
  mkdirSync(deprecated)
  for (const f of committedFiles) writeFileSync(path.join(detections, path.basename(f)), readFileSync(f))

  it('loadRules names every bad file with all its problems, not only the first file', () => {
    const dir = mkdtempSync(path.join(root, 'bad-'))
    writeFileSync(path.join(dir, 'auth_brute_force.yaml'), variant((d) => delete (d as Partial<RuleFile>).triage))
    writeFileSync(path.join(dir, 'clock_skew.yaml'), readFileSync(path.join(DEFAULT_RULES_DIR, 'clock_skew.yaml'), 'utf8').replace('window: 5m', 'window: 5 min'))
    expect(loadProblems(() => loadRules(dir))).toEqual([
      `${path.join(dir, 'auth_brute_force.yaml')}: /triage is required`,
      `${path.join(dir, 'clock_skew.yaml')}: /window "5 min" is not a duration (use e.g. 500ms, 30s, 5m, 1h, 7d)`,
    ])
  })

  it('a rule moved to _deprecated is not loaded, must say why, and its id is not reused', () => {
    const retired = path.join(deprecated, 'auth_password_spray.yaml')
    writeFileSync(retired, variant((d) => (d.id = 'auth.password_spray')))
    expect(loadRules(detections).map((r) => r.id)).not.toContain('auth.password_spray')
    expect(loadProblems(() => loadDeprecatedRules(deprecated))).toEqual([`${retired}: /deprecated_reason is required in rules/_deprecated/`])

    writeFileSync(retired, variant((d) => Object.assign(d, { id: 'auth.password_spray', deprecated_reason: 'merged into auth.credential_stuffing' })))
    expect(loadDeprecatedRules(deprecated).map((r) => r.deprecated_reason)).toEqual(['merged into auth.credential_stuffing'])
    expect(checkRuleCorpus(detections, deprecated, path.join(root, 'none.yaml')).map(formatProblem)).toEqual([])

    writeFileSync(retired, variant((d) => (d.deprecated_reason = 'replaced by v2')))
    expect(checkRuleCorpus(detections, deprecated, path.join(root, 'none.yaml')).map(formatProblem)).toEqual([
      `${retired}: /id auth.brute_force is retired; an active rule must take a new id`,
    ])
    rmSync(retired)
  })

  it('checkRuleCorpus reports a file that fails to load once, not also as stray', () => {
    const dir = mkdtempSync(path.join(root, 'one-bad-'))
    for (const f of committedFiles) writeFileSync(path.join(dir, path.basename(f)), readFileSync(f))
    writeFileSync(path.join(dir, 'rate_abuse.yaml'), 'id: rate.abuse\n')
    const problems = checkRuleCorpus(dir, deprecated, path.join(root, 'none.yaml'))
    expect(problems.every((p) => p.file === path.join(dir, 'rate_abuse.yaml') || p.check === 'builtin-missing')).toBe(true)
    expect(problems.filter((p) => p.check === 'stray-file')).toEqual([])
    expect(problems.map(formatProblem)).toContain(`${path.join(dir, 'rate_abuse.yaml')}: /triage is required`)
  })

  it('a waiver list that waives a check that cannot be waived is refused', () => {
    const file = path.join(root, 'exceptions.yaml')
    writeFileSync(file, 'auth.brute_force:\n  - check: builtin-missing\n    reason: x\n')
    expect(loadProblems(() => loadLintExceptions(file))).toEqual([
      `${file}: /auth.brute_force/0/check "builtin-missing" must be one of file-name, fire-and-none, dates, test-names`,
    ])
  })
})

describe('durations and CIDRs', () => {
  it('parses and formats durations', () => {
    expect([parseDuration('500ms'), parseDuration('30s'), parseDuration('5m'), parseDuration('1h'), parseDuration('7d'), parseDuration('1h30m'), parseDuration('1.5s')]).toEqual([
      500, 30_000, 300_000, 3_600_000, 604_800_000, 5_400_000, 1_500,
    ])
    expect(() => parseDuration('5 minutes')).toThrow('"5 minutes" is not a duration')
    expect(() => parseDuration('-5m')).toThrow()
    expect([formatDuration(300_000), formatDuration(1_500), formatDuration(86_400_000), formatDuration(250)]).toEqual(['5m', '1500ms', '1d', '250ms'])
  })

  it('checks IPv6 networks too', () => {
    expect(cidrProblem('2001:db8::1/32')).toBe('"2001:db8::1/32" has host bits set; the network is 2001:db8::/32')
    expect(cidrProblem('2001:db8:4a2c::/48')).toBeUndefined()
    expect(cidrProblem('::ffff:192.0.2.0/120')).toBeUndefined()
    expect(cidrProblem('2001:db8::/129')).toBe('"2001:db8::/129" is not a CIDR: the prefix length of an IPv6 network is 0-128')
    expect(cidrProblem('192.0.2.7')).toBe('"192.0.2.7" is not a CIDR: add the prefix length (/32 or /128 for one address)')
  })
})
