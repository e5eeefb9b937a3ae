/**
 * Loading and linting the rule corpus (`rules/detections/*.yaml`).
 *
 * Relied on by: the engine (which runs the rules `loadRules` returns), `vigil rules lint`
 * and `vigil rules test`, and CI (`rules.test.ts`). Problems are reported one a line as
 * `<file>: <JSON pointer> <what is wrong>`, e.g.
 * `rules/detections/auth_brute_force.yaml: /params/min_failures must be integer`, so an
 * author can go straight to the spot.
 */
import { existsSync, readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import AjvModule, { type ErrorObject } from 'ajv'
import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { parseDocument, type Document } from 'yaml'
import { VigilError, formatFileProblem, lazy, listDataFiles, schemaProblems, severityRank, type Severity } from '@vigil/core'
import {
  BUILTIN_RULE_IDS,
  CIDR_PATTERN,
  COUNTRY_PATTERN,
  DATE_PATTERN,
  DURATION_PATTERN,
  FIXTURE_TS_PATTERN,
  FixtureEventSchema,
  RULE_ID_PATTERN,
  RULE_PARAMS,
  RuleSchema,
  SEVERITIES,
  parseDuration,
  type BuiltinRuleId,
  type FixtureEvent,
  type ParamValue,
  type RuleFile,
  type RuleParams,
} from './rule-schema.js'
import { absoluteMicros, setFixtureField } from './fixtures.js'

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const DEFAULT_RULES_DIR = path.join(REPO_ROOT, 'rules', 'detections')
export const DEPRECATED_RULES_DIR = path.join(REPO_ROOT, 'rules', '_deprecated')
export const LINT_EXCEPTIONS_FILE = path.join(REPO_ROOT, 'rules', 'lint-exceptions.yaml')

/**
 * A rule as loaded: the file's fields, its durations in milliseconds, and where it came
 * from. Structurally an `EngineRule`. For a built-in id, duration params are decoded to ms
 * too; read them typed with `builtinParams`.
 */
export type Rule = Omit<RuleFile, 'window' | 'lateness' | 'suppression' | 'enabled' | 'params'> & {
  enabled: boolean
  windowMs: number
  latenessMs: number
  suppressionMs: number
  params: Record<string, ParamValue>
  /** The file it was read from (repo-relative when inside the repo). */
  file: string
}

/** Corpus checks; each problem names one, and an exception names the check it waives. */
export const LINT_CHECKS = [
  'schema',
  'duplicate-id',
  'file-name',
  'fire-and-none',
  'severity',
  'dates',
  'unknown-key',
  'builtin-missing',
  'stray-file',
  'deprecated-reason',
  'deprecated-id',
  'test-names',
  'escalation',
  'stale-exception',
] as const
export type LintCheck = (typeof LINT_CHECKS)[number]
// What concerns the corpus as a whole, or the exception list itself, cannot be waived per rule.
const WAIVABLE_CHECKS = ['file-name', 'fire-and-none', 'dates', 'test-names'] as const satisfies readonly LintCheck[]

export interface RuleProblem {
  file: string
  /** JSON pointer into the file, `''` when the problem is the file (or corpus) itself. */
  path: string
  message: string
  check: LintCheck
  /** The rule concerned, when known. */
  rule?: string
}

/** One line per problem, as printed by the CLI. */
export function formatProblem(p: RuleProblem): string {
  return formatFileProblem(p)
}

/**
 * Thrown by the loaders: every problem found, one a line after the registry's message, so
 * the CLI and start-up print it like any other Vigil error (code `rule_invalid`).
 */
export class RuleError extends VigilError {
  readonly problems: readonly RuleProblem[]
  constructor(problems: readonly RuleProblem[]) {
    super('VIGIL_ERR_RULE_INVALID', `\n${problems.map(formatProblem).join('\n')}`)
    this.problems = problems
  }
}

// ---------------------------------------------------------------------------------------
// Schema validation

// ajv is CommonJS: under NodeNext its default import is module.exports, which is the class.
const Ajv = AjvModule as unknown as typeof AjvModule.default
// Compiled on first use: every `vigil` command imports this module, few validate a rule.
const ajv = lazy(() => new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true }))
const ruleFileValidator = lazy(() => ajv().compile<RuleFile>(RuleSchema))
const fixtureEventValidator = lazy(() => ajv().compile<FixtureEvent>(FixtureEventSchema))

const PATTERN_HINTS: Readonly<Record<string, string>> = {
  [DURATION_PATTERN]: 'is not a duration (use e.g. 500ms, 30s, 5m, 1h, 7d)',
  [FIXTURE_TS_PATTERN]: 'is not an RFC 3339 UTC time or an offset like +1.5s or -7d',
  [DATE_PATTERN]: 'is not a date (YYYY-MM-DD)',
  [RULE_ID_PATTERN]: 'is not a dotted rule id like auth.brute_force',
  [COUNTRY_PATTERN]: 'is not an ISO 3166-1 alpha-2 country code',
  [CIDR_PATTERN]: 'is not a CIDR (e.g. 192.0.2.0/24, 2001:db8::/32)',
}

const quote = (v: unknown) => JSON.stringify(v)

function ajvProblems(errors: readonly ErrorObject[] | null | undefined, file: string, prefix = '', rule?: string): RuleProblem[] {
  return schemaProblems(errors, PATTERN_HINTS).map((d) => ({
    file,
    path: `${prefix}${d.path === '/' && prefix ? '' : d.path}`,
    message: d.message,
    check: 'schema' as const,
    ...(rule ? { rule } : {}),
  }))
}

// ---------------------------------------------------------------------------------------
// Checks a JSON Schema cannot express

// ISO 3166-1 alpha-2 as assigned (249 codes); Intl also knows aliases such as UK and EU.
const ISO_COUNTRIES = new Set(
  ('AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ ' +
    'CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR ' +
    'GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP ' +
    'KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT ' +
    'MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW ' +
    'SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG ' +
    'UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW').split(' '),
)

/** Why `text` is not a CIDR, or undefined when it is one. */
export function cidrProblem(text: string): string | undefined {
  const slash = text.indexOf('/')
  if (slash < 0) return `${quote(text)} is not a CIDR: add the prefix length (/32 or /128 for one address)`
  const addr = text.slice(0, slash)
  const bitsText = text.slice(slash + 1)
  const family = isIP(addr)
  if (family === 0) return `${quote(text)} is not a CIDR: ${quote(addr)} is not an IP address`
  const max = family === 4 ? 32 : 128
  if (!/^\d{1,3}$/.test(bitsText) || Number(bitsText) > max) return `${quote(text)} is not a CIDR: the prefix length of an IPv${family} network is 0-${max}`
  const bits = Number(bitsText)
  const value = addressBits(addr, family)
  const host = max - bits
  if (host > 0 && value % (1n << BigInt(host)) !== 0n) {
    const network = value - (value % (1n << BigInt(host)))
    return `${quote(text)} has host bits set; the network is ${formatAddress(network, family)}/${bits}`
  }
  return undefined
}

function addressBits(addr: string, family: number): bigint {
  if (family === 4) return addr.split('.').reduce((acc, part) => (acc << 8n) + BigInt(Number(part)), 0n)
  let text = addr
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (v4) {
    const n = addressBits(v4[1] as string, 4)
    text = `${text.slice(0, -(v4[1] as string).length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`
  }
  const [left = '', right] = text.split('::')
  const l = left ? left.split(':') : []
  const r = right ? right.split(':') : []
  const groups = right === undefined ? l : [...l, ...Array<string>(8 - l.length - r.length).fill('0'), ...r]
  return groups.reduce((acc, g) => (acc << 16n) + BigInt(parseInt(g, 16)), 0n)
}

function formatAddress(value: bigint, family: number): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.')
  const groups = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((s) => ((value >> s) & 0xffffn).toString(16))
  // Compress the longest run of zero groups, as RFC 5952 writes addresses.
  let best = -1
  let bestLen = 0
  for (let i = 0; i < 8; ) {
    let j = i
    while (j < 8 && groups[j] === '0') j++
    if (j - i > bestLen && j - i > 1) {
      best = i
      bestLen = j - i
    }
    i = j === i ? i + 1 : j
  }
  if (best < 0) return groups.join(':')
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`
}

function realDate(text: string): boolean {
  return !Number.isNaN(absoluteMicros(`${text}T00:00:00Z`))
}

const FIXTURE_FIELDS = new Set(Object.keys(FixtureEventSchema.properties))
const NOT_VARIED = new Set(['ts', 'repeat', 'every', 'vary'])
const NESTED_FIELDS: Record<string, Set<string> | 'any'> = {
  http: new Set(Object.keys(FixtureEventSchema.properties.http.properties)),
  tls: new Set(Object.keys(FixtureEventSchema.properties.tls.properties)),
  order: new Set(Object.keys(FixtureEventSchema.properties.order.properties)),
  geo: new Set(Object.keys(FixtureEventSchema.properties.geo.properties)),
  attrs: 'any',
}

/**
 * What is wrong with a rule's `escalate` steps, one problem each: a step needs a condition,
 * and its severity must be above the rule's and the previous step's, so a step never lowers
 * a severity and the list reads bottom up. A fixture's `severity` must be one the rule can give.
 */
function escalationProblems(rule: Pick<RuleFile, 'id' | 'severity' | 'escalate' | 'tests'>, file: string): RuleProblem[] {
  const out: RuleProblem[] = []
  const add = (p: string, message: string) => out.push({ file, path: p, message, check: 'escalation', rule: rule.id })
  const rank = (s: string) => severityRank(s as Severity)
  let previous: string | undefined
  rule.escalate?.forEach((step, i) => {
    const at = `/escalate/${i}`
    if (step.min_count === undefined && step.min_score === undefined) add(at, 'needs min_count or min_score (or both): a step without a condition would always hold')
    if (rank(step.severity) <= rank(rule.severity)) add(`${at}/severity`, `${quote(step.severity)} must be above the rule's severity ${rule.severity}`)
    else if (previous !== undefined && rank(step.severity) <= rank(previous)) {
      add(`${at}/severity`, `${quote(step.severity)} must be above the previous step's ${previous}: steps go in increasing severity`)
    }
    previous = step.severity
  })
  const possible = new Set<string>([rule.severity, ...(rule.escalate ?? []).map((s) => s.severity)])
  rule.tests.forEach((t, ti) => {
    if (t.severity !== undefined && t.expect === 'fire' && !possible.has(t.severity)) {
      add(`/tests/${ti}/severity`, `${quote(t.severity)} is neither the rule's severity nor one of its escalate steps`)
    }
  })
  return out
}

function fixtureProblems(doc: RuleFile, file: string): RuleProblem[] {
  const out: RuleProblem[] = []
  const add = (p: string, message: string) => out.push({ file, path: p, message, check: 'schema', rule: doc.id })
  doc.tests.forEach((t, ti) => {
    if (t.expect === 'none' && t.alerts !== undefined) add(`/tests/${ti}/alerts`, 'goes only with expect: fire')
    if (t.expect === 'none' && t.severity !== undefined) add(`/tests/${ti}/severity`, 'goes only with expect: fire')
    t.events.forEach((e, ei) => {
      const at = `/tests/${ti}/events/${ei}`
      if (!/^[+-]/.test(e.ts) && Number.isNaN(absoluteMicros(e.ts))) add(`${at}/ts`, `${quote(e.ts)} is not a real instant`)
      const repeat = e.repeat ?? 1
      if (repeat > 1 && e.every === undefined) add(`${at}/every`, 'is required with repeat')
      if (e.vary === undefined) return
      const { vary, repeat: _r, every: _e, ...base } = e
      for (const [field, values] of Object.entries(vary)) {
        const dot = field.indexOf('.')
        const head = dot < 0 ? field : field.slice(0, dot)
        const nested = NESTED_FIELDS[head]
        const known =
          FIXTURE_FIELDS.has(head) &&
          !NOT_VARIED.has(head) &&
          (dot < 0 ? nested === undefined : nested === 'any' || (nested !== undefined && nested.has(field.slice(dot + 1))))
        if (!known) {
          add(`${at}/vary/${field}`, 'is not a field a fixture event can vary')
          continue
        }
        values.forEach((value, vi) => {
          const probe = structuredClone(base) as Record<string, unknown>
          setFixtureField(probe, field, value)
          const validateFixtureEvent = fixtureEventValidator()
          if (validateFixtureEvent(probe)) return
          for (const p of ajvProblems(validateFixtureEvent.errors, file)) add(`${at}/vary/${field}/${vi}`, p.message)
        })
      }
    })
  })
  return out
}

function semanticProblems(doc: RuleFile, file: string): RuleProblem[] {
  const out: RuleProblem[] = []
  const add = (p: string, message: string) => out.push({ file, path: p, message, check: 'schema', rule: doc.id })
  for (const key of ['created', 'modified'] as const) if (!realDate(doc[key])) add(`/${key}`, `${quote(doc[key])} is not a real date`)
  if (parseDuration(doc.window) <= 0) add('/window', 'must be longer than 0')
  doc.allowlist?.ips?.forEach((cidr, i) => {
    const why = cidrProblem(cidr)
    if (why) add(`/allowlist/ips/${i}`, why)
  })
  doc.allowlist?.countries?.forEach((c, i) => {
    if (!ISO_COUNTRIES.has(c)) add(`/allowlist/countries/${i}`, `${quote(c)} is not an ISO 3166-1 alpha-2 country code`)
  })
  return [...out, ...escalationProblems(doc, file), ...fixtureProblems(doc, file)]
}

// ---------------------------------------------------------------------------------------
// Loading

/** Repo-relative path for messages when `file` is inside the repo, else `file` as given. */
export function displayPath(file: string): string {
  return path.isAbsolute(file) && file.startsWith(REPO_ROOT) ? path.relative(REPO_ROOT, file) : file
}

const isBuiltin = (id: string): id is BuiltinRuleId => (BUILTIN_RULE_IDS as readonly string[]).includes(id)

// Merge keys (`<<: *history`) let a fixture reuse an event block with one field changed;
// YAML 1.2 dropped them, so they are switched on explicitly.
function readYaml(text: string, file: string): Document.Parsed {
  const doc = parseDocument(text, { uniqueKeys: true, merge: true })
  if (doc.errors.length === 0) return doc
  throw new RuleError(
    doc.errors.map((e) => {
      const pos = e.linePos?.[0]
      const what = (e.message.split('\n')[0] as string).replace(/ at line \d+, column \d+:?$/, '')
      return { file, path: '', message: `is not valid YAML: ${what}${pos ? ` (line ${pos.line}, column ${pos.col})` : ''}`, check: 'schema' }
    }),
  )
}

/**
 * One rule from its YAML text. `file` is only used in messages and `Rule.file`.
 * Throws `RuleError` with every problem found.
 */
export function parseRule(text: string, file: string): Rule {
  const doc = readYaml(text, file)
  const raw: unknown = doc.toJS()
  const validateRuleFile = ruleFileValidator()
  if (!validateRuleFile(raw)) {
    const id = raw !== null && typeof raw === 'object' && typeof (raw as { id?: unknown }).id === 'string' ? (raw as { id: string }).id : undefined
    throw new RuleError(ajvProblems(validateRuleFile.errors, file, '', id))
  }
  const problems = semanticProblems(raw, file)
  if (problems.length > 0) throw new RuleError(problems)
  const { window, lateness, suppression, enabled, params, ...rest } = raw
  const decoded = isBuiltin(raw.id) ? (Value.Decode(RULE_PARAMS[raw.id], params) as Record<string, ParamValue>) : params
  return {
    ...rest,
    enabled: enabled ?? true,
    windowMs: parseDuration(window),
    latenessMs: parseDuration(lateness),
    suppressionMs: parseDuration(suppression),
    params: decoded,
    file,
  }
}

/** One rule file from disk. */
export function readRule(file: string): Rule {
  return parseRule(readFileSync(file, 'utf8'), displayPath(file))
}

/** Every entry of a rules folder that is a file and not hidden, sorted; absolute paths. */
export function listRuleFiles(dir: string = DEFAULT_RULES_DIR): string[] {
  return listDataFiles(dir)
}

function loadAll(dir: string): Rule[] {
  const rules: Rule[] = []
  const problems: RuleProblem[] = []
  for (const file of listRuleFiles(dir).filter((f) => f.endsWith('.yaml'))) {
    try {
      rules.push(readRule(file))
    } catch (err) {
      if (err instanceof RuleError) problems.push(...err.problems)
      else throw err
    }
  }
  if (problems.length > 0) throw new RuleError(problems)
  return rules
}

/**
 * The rules of `dir` (its `*.yaml` files, not sub-folders: `rules/_deprecated/` is never
 * loaded), validated. Throws `RuleError` listing the problems of every bad file.
 */
export function loadRules(dir: string = DEFAULT_RULES_DIR): Rule[] {
  return loadAll(dir)
}

/** The retired rules; each must say why in `deprecated_reason`. */
export function loadDeprecatedRules(dir: string = DEPRECATED_RULES_DIR): Rule[] {
  const rules = loadAll(dir)
  const problems: RuleProblem[] = rules
    .filter((r) => r.deprecated_reason === undefined)
    .map((r) => ({ file: r.file, path: '/deprecated_reason', message: 'is required in rules/_deprecated/', check: 'deprecated-reason', rule: r.id }))
  if (problems.length > 0) throw new RuleError(problems)
  return rules
}

/** A built-in rule's params, typed (durations in ms). Throws when `rule` is another rule. */
export function builtinParams<I extends BuiltinRuleId>(rule: { id: string; params: Record<string, unknown> }, id: I): RuleParams<I> {
  if (rule.id !== id) throw new TypeError(`rule ${rule.id} is not ${id}`)
  // Validated and decoded against RULE_PARAMS[id] by parseRule.
  return rule.params as unknown as RuleParams<I>
}

// ---------------------------------------------------------------------------------------
// Corpus conventions (STYLE.md, "From elastic/detection-rules and SigmaHQ/sigma")

const LintExceptionsSchema = Type.Record(
  Type.String({ pattern: RULE_ID_PATTERN }),
  Type.Array(
    Type.Object(
      {
        check: Type.Union(WAIVABLE_CHECKS.map((c) => Type.Literal(c))),
        reason: Type.String({ minLength: 1 }),
      },
      { additionalProperties: false },
    ),
    { minItems: 1 },
  ),
  { additionalProperties: false },
)
/** Per rule id, the checks waived for it and why (`rules/lint-exceptions.yaml`). */
export type LintExceptions = Static<typeof LintExceptionsSchema>
const exceptionsValidator = lazy(() => ajv().compile<LintExceptions>(LintExceptionsSchema))

/** The waivers of `rules/lint-exceptions.yaml` (or `file`); an absent file waives nothing. */
export function loadLintExceptions(file: string = LINT_EXCEPTIONS_FILE): LintExceptions {
  if (!existsSync(file)) return {}
  const shown = displayPath(file)
  const raw: unknown = readYaml(readFileSync(file, 'utf8'), shown).toJS() ?? {}
  const validateExceptions = exceptionsValidator()
  if (!validateExceptions(raw)) throw new RuleError(ajvProblems(validateExceptions.errors, shown))
  return raw
}

const RULE_KEYS = new Set([
  ...Object.keys(RuleSchema.properties).filter((k) => !['window', 'lateness', 'suppression'].includes(k)),
  'windowMs',
  'latenessMs',
  'suppressionMs',
  'file',
])

/** `auth.brute_force` → `auth_brute_force.yaml`. */
export function ruleFileName(id: string): string {
  return `${id.replace(/\./g, '_')}.yaml`
}

/**
 * Corpus conventions over loaded rules and the files of their folder: unique ids, file
 * name = id, a test that fires and one that must not, severity, `modified >= created`,
 * escalation steps above the rule's severity and each other, no
 * unknown keys, every CONTRACT §5 rule exactly once, no stray files. A rule-level check is
 * waived only by an entry for that rule id in `exceptions`; an entry that waives nothing is
 * itself a problem.
 */
export function lintRules(rules: readonly Rule[], files: readonly string[] = rules.map((r) => r.file), exceptions: LintExceptions = {}): RuleProblem[] {
  const problems: RuleProblem[] = []
  const shownFiles = files.map(displayPath)
  const folder = shownFiles[0] ? path.dirname(shownFiles[0]) : rules[0] ? path.dirname(rules[0].file) : 'rules/detections'
  const firstFileOf = new Map<string, string>()

  for (const rule of rules) {
    const add = (check: LintCheck, p: string, message: string) => problems.push({ file: rule.file, path: p, message, check, rule: rule.id })
    const earlier = firstFileOf.get(rule.id)
    if (earlier !== undefined) add('duplicate-id', '/id', `${rule.id} is already the id of ${earlier}`)
    else firstFileOf.set(rule.id, rule.file)
    const expected = ruleFileName(rule.id)
    if (path.basename(rule.file) !== expected) add('file-name', '', `file name must be ${expected} for id ${rule.id}`)
    for (const kind of ['fire', 'none'] as const) {
      if (!rule.tests.some((t) => t.expect === kind)) add('fire-and-none', '/tests', `needs at least one test with expect: ${kind}`)
    }
    if (!(SEVERITIES as readonly string[]).includes(rule.severity)) add('severity', '/severity', `${quote(rule.severity)} must be one of ${SEVERITIES.join(', ')}`)
    if (rule.modified < rule.created) add('dates', '/modified', `${rule.modified} is before created ${rule.created}`)
    // The loader refuses these already; a rule built in code gets the same checks here.
    problems.push(...escalationProblems(rule, rule.file))
    for (const key of Object.keys(rule)) if (!RULE_KEYS.has(key)) add('unknown-key', `/${key}`, 'is not a known key')
    if (rule.deprecated_reason !== undefined) add('deprecated-reason', '/deprecated_reason', 'belongs only to rules moved to rules/_deprecated/')
    const names = new Set<string>()
    rule.tests.forEach((t, i) => {
      if (names.has(t.name)) add('test-names', `/tests/${i}/name`, `${quote(t.name)} is the name of an earlier test`)
      names.add(t.name)
    })
  }

  for (const id of BUILTIN_RULE_IDS) {
    if (!firstFileOf.has(id)) problems.push({ file: folder, path: '', message: `built-in rule ${id} (CONTRACT §5) has no rule file; expected ${ruleFileName(id)}`, check: 'builtin-missing', rule: id })
  }
  const ruleFiles = new Set(rules.map((r) => r.file))
  for (const f of shownFiles) {
    if (!ruleFiles.has(f)) problems.push({ file: f, path: '', message: 'holds no rule: a rule folder holds only <id with . as _>.yaml rule files', check: 'stray-file' })
  }

  // Waivers: per rule id and check, never a check off for everyone.
  const used = new Set<string>()
  const kept = problems.filter((p) => {
    const waiver = p.rule === undefined ? undefined : exceptions[p.rule]?.find((w) => w.check === p.check)
    if (waiver) used.add(`${p.rule} ${p.check}`)
    return waiver === undefined
  })
  for (const [id, waivers] of Object.entries(exceptions)) {
    for (const w of waivers) {
      if (!used.has(`${id} ${w.check}`)) {
        kept.push({ file: displayPath(LINT_EXCEPTIONS_FILE), path: `/${id}`, message: `waives ${w.check}, which finds nothing to waive: remove the entry`, check: 'stale-exception', rule: id })
      }
    }
  }
  return kept
}

/**
 * Everything `vigil rules lint` reports: load errors of every file, the conventions of the
 * loaded rules, the retired rules in `rules/_deprecated/` and the waivers.
 */
export function checkRuleCorpus(dir: string = DEFAULT_RULES_DIR, deprecatedDir: string = DEPRECATED_RULES_DIR, exceptionsFile: string = LINT_EXCEPTIONS_FILE): RuleProblem[] {
  const problems: RuleProblem[] = []
  const collect = <T>(load: () => T[]): T[] => {
    try {
      return load()
    } catch (err) {
      if (!(err instanceof RuleError)) throw err
      problems.push(...err.problems)
      return []
    }
  }
  const files = listRuleFiles(dir)
  const rules = files.flatMap((f) => (f.endsWith('.yaml') ? collect(() => [readRule(f)]) : []))
  const exceptions = collect(() => [loadLintExceptions(exceptionsFile)])[0] ?? {}
  const failed = new Set(problems.map((p) => p.file))
  // A file that failed to load already has its problems listed; do not call it stray too.
  problems.push(...lintRules(rules, files, exceptions).filter((p) => !(p.check === 'stray-file' && failed.has(p.file))))
  const active = new Set(rules.map((r) => r.id))
  for (const r of collect(() => loadDeprecatedRules(deprecatedDir))) {
    if (active.has(r.id)) problems.push({ file: r.file, path: '/id', message: `${r.id} is retired; an active rule must take a new id`, check: 'deprecated-id', rule: r.id })
  }
  return problems
}
