/**
 * Loading, linting and matching playbooks (`rules/playbooks/*.yaml`).
 *
 * Relied on by: the engine (which runs what `loadPlaybooks` returns and asks `matchPlaybooks`
 * which to start for an alert), `vigil playbooks lint` (`checkPlaybookCorpus`), and CI
 * (`playbooks.test.ts`). Problems are one a line, `<file>: <JSON pointer> <what is wrong>`,
 * e.g. `rules/playbooks/high_alert.yaml: /steps/1/params/channel must be string`, and the
 * loaders throw them together as one `PlaybookError` (VIGIL_ERR_PLAYBOOK_INVALID).
 */
import { readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { createHash } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import AjvModule, { type ErrorObject } from 'ajv'
import { Value } from '@sinclair/typebox/value'
import { parseDocument } from 'yaml'
import { VigilError, formatFileProblem, lazy, listDataFiles, schemaProblems, severityRank, type Alert } from '@vigil/core'
import type { Action } from './action.js'
import { templateProblems, TEMPLATE_FIELDS } from './actions/template.js'
import {
  DATE_PATTERN,
  DURATION_PATTERN,
  EVIDENCE_PATH_PATTERN,
  PLAYBOOK_ID_PATTERN,
  PlaybookSchema,
  RULE_SELECTOR_PATTERN,
  parseDuration,
  type Condition,
  type OnTimeout,
  type PlaybookFile,
  type PlaybookTest,
  type TestAlert,
  type Trigger,
} from './playbook-schema.js'

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const DEFAULT_PLAYBOOKS_DIR = path.join(REPO_ROOT, 'rules', 'playbooks')
/** Larger files are refused unread: a playbook is a page of YAML, not a data set. */
export const MAX_PLAYBOOK_BYTES = 256 * 1024
const MAX_ALIASES = 100

/** The actions a playbook may name (the ACTIONS registry of actions/index.ts). */
export type ActionRegistry = readonly Action[]

/** @defaultValue retries 4 (5 attempts), backoff 1s */
export const DEFAULT_RETRIES = 4
export const DEFAULT_BACKOFF_MS = 1000

export interface PlaybookStep {
  index: number
  action: string
  /** Validated against the action's params schema and decoded. */
  params: unknown
  when: Condition | null
  approval: { timeoutMs: number; onTimeout: OnTimeout } | null
  /** Attempts in all (retries + 1). */
  attempts: number
  backoffMs: number
}

/** A playbook as loaded. */
export interface Playbook {
  id: string
  name: string
  description: string
  enabled: boolean
  created: string
  modified: string
  trigger: Trigger
  steps: PlaybookStep[]
  tests: PlaybookTest[]
  /** The file it was read from (repo-relative when inside the repo). */
  file: string
}

export const PLAYBOOK_CHECKS = [
  'schema',
  'unknown-action',
  'params',
  'duplicate-id',
  'file-name',
  'first-step',
  'run-and-none',
  'dates',
  'test-names',
  'test-outcome',
  'stray-file',
] as const
export type PlaybookCheck = (typeof PLAYBOOK_CHECKS)[number]

export interface PlaybookProblem {
  file: string
  /** JSON pointer into the file, `''` when the problem is the file itself. */
  path: string
  message: string
  check: PlaybookCheck
  playbook?: string
}

/** One line per problem, as printed by the CLI. */
export function formatPlaybookProblem(p: PlaybookProblem): string {
  return formatFileProblem(p)
}

/** Every problem found, one a line after the registry's message. */
export class PlaybookError extends VigilError {
  readonly problems: readonly PlaybookProblem[]
  constructor(problems: readonly PlaybookProblem[]) {
    super('VIGIL_ERR_PLAYBOOK_INVALID', `\n${problems.map(formatPlaybookProblem).join('\n')}`)
    this.problems = problems
  }
}

// ---------------------------------------------------------------------------------------
// Schema validation

// ajv is CommonJS: under NodeNext its default import is module.exports, which is the class.
const Ajv = AjvModule as unknown as typeof AjvModule.default
// Compiled on first use: every `vigil` command imports this module, few load a playbook.
const playbookFileValidator = lazy(() => new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true }).compile<PlaybookFile>(PlaybookSchema))

const PATTERN_HINTS: Readonly<Record<string, string>> = {
  [DURATION_PATTERN]: 'is not a duration (use e.g. 500ms, 30s, 5m, 1h, 7d)',
  [DATE_PATTERN]: 'is not a date (YYYY-MM-DD)',
  // Playbook ids and action names share one pattern.
  [PLAYBOOK_ID_PATTERN]: 'is not a name of a-z, 0-9 and _ (starting with a letter, at most 64), like high_alert or revoke_key',
  [RULE_SELECTOR_PATTERN]: 'is not a rule id, a family like auth.*, or *',
  [EVIDENCE_PATH_PATTERN]: 'is not a dotted evidence path like baseline.ratio',
}

const quote = (v: unknown) => {
  const s = JSON.stringify(v) ?? String(v)
  return s.length > 80 ? `${s.slice(0, 77)}...` : s
}

// Keys and values in a playbook may come from whoever can write one: echo them bounded.
const SCHEMA_ERROR_STYLE = { quote, unionMessage: 'must be a number, a string or a boolean', maxKeyLength: 64 } as const

function ajvProblems(errors: readonly ErrorObject[] | null | undefined, file: string, playbook?: string): PlaybookProblem[] {
  return schemaProblems(errors, PATTERN_HINTS, SCHEMA_ERROR_STYLE).map((d) => ({
    file,
    path: d.path,
    message: d.message,
    check: 'schema' as const,
    ...(playbook ? { playbook } : {}),
  }))
}

// ---------------------------------------------------------------------------------------
// Matching and conditions: plain comparisons, no expressions.

/** Does a rule selector (`auth.brute_force`, `auth.*`, `*`) cover `rule`? */
export function ruleSelected(selector: string, rule: string): boolean {
  if (selector === '*') return true
  if (selector.endsWith('.*')) return rule.startsWith(selector.slice(0, -1))
  return selector === rule
}

/** Does `trigger` start its playbook for `alert`? */
export function triggerMatches(trigger: Trigger, alert: Pick<Alert, 'rule' | 'severity' | 'entity'>): boolean {
  if (!trigger.rules.some((s) => ruleSelected(s, alert.rule))) return false
  if (trigger.except_rules?.some((s) => ruleSelected(s, alert.rule))) return false
  const rank = severityRank(alert.severity)
  if (rank < severityRank(trigger.min_severity)) return false
  if (trigger.max_severity !== undefined && rank > severityRank(trigger.max_severity)) return false
  if (trigger.entity_types !== undefined && !trigger.entity_types.includes(alert.entity.type)) return false
  return true
}

/** The enabled playbooks `alert` starts, in id order. */
export function matchPlaybooks(playbooks: readonly Playbook[], alert: Alert): Playbook[] {
  return playbooks.filter((p) => p.enabled && triggerMatches(p.trigger, alert)).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

function evidenceAt(evidence: Record<string, unknown>, dotted: string): unknown {
  let cur: unknown = evidence
  for (const part of dotted.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !Object.hasOwn(cur, part)) return undefined
    cur = (cur as Record<string, unknown>)[part]
  }
  return cur
}

function compare(actual: unknown, op: string, expected: number | string | boolean): boolean {
  if (typeof expected === 'number') {
    const n = typeof actual === 'number' ? actual : typeof actual === 'string' && actual.trim() !== '' ? Number(actual) : NaN
    if (!Number.isFinite(n)) return false
    switch (op) {
      case 'gt': return n > expected
      case 'gte': return n >= expected
      case 'lt': return n < expected
      case 'lte': return n <= expected
      case 'eq': return n === expected
      case 'ne': return n !== expected
    }
    return false
  }
  if (actual === undefined) return false
  if (op === 'eq') return actual === expected
  if (op === 'ne') return actual !== expected
  return false
}

/** Why a step's `when` does not hold for `alert`, or null when it holds (or there is none). */
export function conditionFails(when: Condition | null | undefined, alert: Alert): string | null {
  if (!when) return null
  if (when.severity_at_least !== undefined && severityRank(alert.severity) < severityRank(when.severity_at_least)) {
    return `severity ${alert.severity} is below ${when.severity_at_least}`
  }
  if (when.entity_type !== undefined && !when.entity_type.includes(alert.entity.type)) return `entity type ${alert.entity.type} is not one of ${when.entity_type.join(', ')}`
  if (when.rule !== undefined && !when.rule.some((s) => ruleSelected(s, alert.rule))) return `rule ${alert.rule} is not one of ${when.rule.join(', ')}`
  for (const field of when.has ?? []) if (alert[field] === null || alert[field] === undefined || alert[field] === '') return `the alert has no ${field}`
  if (when.score_at_least !== undefined && !(alert.score >= when.score_at_least)) return `score ${alert.score} is below ${when.score_at_least}`
  if (when.count_at_least !== undefined && !(alert.count >= when.count_at_least)) return `count ${alert.count} is below ${when.count_at_least}`
  for (const c of when.evidence ?? []) {
    if (!compare(evidenceAt(alert.evidence ?? {}, c.path), c.op, c.value)) return `evidence ${c.path} ${c.op} ${String(c.value)} does not hold`
  }
  return null
}

/** The actions that would run for `alert` (steps whose `when` fails are left out). */
export function plannedActions(playbook: Playbook, alert: Alert): string[] {
  return playbook.steps.filter((s) => conditionFails(s.when, alert) === null).map((s) => s.action)
}

/** A whole `Alert` from a test case: the id is derived from the playbook, case and `salt`. */
export function alertFromTest(t: TestAlert, playbookId: string, testIndex: number, salt = ''): Alert {
  const now = new Date().toISOString()
  const id = `al_${createHash('sha256').update(`${playbookId}\u0000${testIndex}\u0000${salt}`).digest('hex').slice(0, 24)}`
  return {
    id,
    rule: t.rule,
    severity: t.severity,
    score: t.score ?? 0,
    status: 'open',
    entity: { type: t.entity.type, id: t.entity.id },
    api_key_id: t.api_key_id ?? (t.entity.type === 'api_key' ? t.entity.id : null),
    account_id: t.account_id ?? (t.entity.type === 'account' ? t.entity.id : null),
    client_ip: t.client_ip ?? (t.entity.type === 'ip' ? t.entity.id : null),
    first_seen: now,
    last_seen: now,
    count: t.count ?? 1,
    summary: `test alert: ${t.rule}`,
    evidence: t.evidence ?? {},
    incident_id: null,
    detected_at: now,
    event_received_at: null,
  }
}

// ---------------------------------------------------------------------------------------
// Loading

/** Repo-relative path for messages when `file` is inside the repo, else `file` as given. */
export function displayPlaybookPath(file: string): string {
  return path.isAbsolute(file) && file.startsWith(REPO_ROOT) ? path.relative(REPO_ROOT, file) : file
}

function realDate(text: string): boolean {
  const ms = Date.parse(`${text}T00:00:00Z`)
  return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 10) === text
}

function stepProblems(doc: PlaybookFile, file: string, actions: ActionRegistry): { steps: PlaybookStep[]; problems: PlaybookProblem[] } {
  const problems: PlaybookProblem[] = []
  const add = (check: PlaybookCheck, p: string, message: string) => problems.push({ file, path: p, message, check, playbook: doc.id })
  const steps: PlaybookStep[] = []
  doc.steps.forEach((s, i) => {
    const at = `/steps/${i}`
    const action = actions.find((a) => a.type === s.action)
    const raw = s.params ?? {}
    let params: unknown = raw
    if (!action) {
      add('unknown-action', `${at}/action`, `${quote(s.action)} is not a known action (known: ${actions.map((a) => a.type).sort().join(', ') || 'none'})`)
    } else {
      const value: unknown = Value.Default(action.params, structuredClone(raw))
      const errors = [...Value.Errors(action.params, value)]
      const seen = new Set<string>()
      for (const e of errors.slice(0, 20)) {
        const key = `${e.path} ${e.message}`
        if (seen.has(key)) continue
        seen.add(key)
        add('params', `${at}/params${e.path}`, `${e.message.toLowerCase()} (${s.action})`)
      }
      // A `{{field}}` that names nothing would reach people as written: refuse it here.
      if (raw !== null && typeof raw === 'object') {
        for (const [key, v] of Object.entries(raw as Record<string, unknown>)) {
          if (typeof v === 'string') for (const problem of templateProblems(v)) add('params', `${at}/params/${key}`, `${problem} (known: ${TEMPLATE_FIELDS.join(', ')})`)
        }
      }
      if (errors.length === 0) {
        try {
          params = Value.Decode(action.params, value)
        } catch (err) {
          add('params', `${at}/params`, `cannot be read by ${s.action}: ${err instanceof Error ? err.message.split('\n')[0] : 'invalid'}`)
        }
      }
    }
    if (s.backoff !== undefined && parseDuration(s.backoff) <= 0) add('schema', `${at}/backoff`, 'must be longer than 0')
    if (s.require_approval !== undefined && parseDuration(s.require_approval.timeout) <= 0) add('schema', `${at}/require_approval/timeout`, 'must be longer than 0')
    if (s.require_approval !== undefined && parseDuration(s.require_approval.timeout) > 7 * 86_400_000) add('schema', `${at}/require_approval/timeout`, 'must be at most 7d')
    steps.push({
      index: i,
      action: s.action,
      params,
      when: s.when ?? null,
      approval: s.require_approval ? { timeoutMs: parseDuration(s.require_approval.timeout), onTimeout: s.require_approval.on_timeout } : null,
      attempts: (s.retries ?? DEFAULT_RETRIES) + 1,
      backoffMs: s.backoff !== undefined ? parseDuration(s.backoff) : DEFAULT_BACKOFF_MS,
    })
  })
  return { steps, problems }
}

/**
 * One playbook from its YAML text, its step params checked against `actions`. `file` is
 * only used in messages and `Playbook.file`. Throws `PlaybookError` with every problem.
 */
export function parsePlaybook(text: string, file: string, actions: ActionRegistry): Playbook {
  if (Buffer.byteLength(text) > MAX_PLAYBOOK_BYTES) {
    throw new PlaybookError([{ file, path: '', message: `is larger than ${MAX_PLAYBOOK_BYTES / 1024} KiB`, check: 'schema' }])
  }
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false })
  if (doc.errors.length > 0) {
    throw new PlaybookError(
      doc.errors.slice(0, 10).map((e) => {
        const pos = e.linePos?.[0]
        const what = (e.message.split('\n')[0] as string).replace(/ at line \d+, column \d+:?$/, '')
        return { file, path: '', message: `is not valid YAML: ${what}${pos ? ` (line ${pos.line}, column ${pos.col})` : ''}`, check: 'schema' as const }
      }),
    )
  }
  let raw: unknown
  try {
    raw = doc.toJS({ maxAliasCount: MAX_ALIASES })
  } catch (err) {
    throw new PlaybookError([{ file, path: '', message: `is not valid YAML: ${err instanceof Error ? err.message.split('\n')[0] : 'unreadable'}`, check: 'schema' }])
  }
  const validatePlaybookFile = playbookFileValidator()
  if (!validatePlaybookFile(raw)) {
    const id = raw !== null && typeof raw === 'object' && typeof (raw as { id?: unknown }).id === 'string' ? (raw as { id: string }).id : undefined
    throw new PlaybookError(ajvProblems(validatePlaybookFile.errors, file, id).slice(0, 50))
  }
  const problems: PlaybookProblem[] = []
  for (const key of ['created', 'modified'] as const) {
    if (!realDate(raw[key])) problems.push({ file, path: `/${key}`, message: `${quote(raw[key])} is not a real date`, check: 'schema', playbook: raw.id })
  }
  const { steps, problems: sp } = stepProblems(raw, file, actions)
  problems.push(...sp)
  if (problems.length > 0) throw new PlaybookError(problems)
  return {
    id: raw.id,
    name: raw.name,
    description: raw.description,
    enabled: raw.enabled ?? true,
    created: raw.created,
    modified: raw.modified,
    trigger: raw.trigger,
    steps,
    tests: raw.tests,
    file,
  }
}

/** One playbook file from disk (refused unread when larger than MAX_PLAYBOOK_BYTES). */
export function readPlaybook(file: string, actions: ActionRegistry): Playbook {
  const shown = displayPlaybookPath(file)
  if (statSync(file).size > MAX_PLAYBOOK_BYTES) {
    throw new PlaybookError([{ file: shown, path: '', message: `is larger than ${MAX_PLAYBOOK_BYTES / 1024} KiB`, check: 'schema' }])
  }
  return parsePlaybook(readFileSync(file, 'utf8'), shown, actions)
}

/** Every entry of a playbooks folder that is a file and not hidden, sorted; absolute paths. */
export function listPlaybookFiles(dir: string = DEFAULT_PLAYBOOKS_DIR): string[] {
  return listDataFiles(dir)
}

/**
 * The playbooks of `dir` (its `*.yaml` files), validated and linted. Throws `PlaybookError`
 * listing the problems of every bad file, so the engine never starts on a broken corpus.
 */
export function loadPlaybooks(dir: string, actions: ActionRegistry): Playbook[] {
  const problems = checkPlaybookCorpus(dir, actions)
  if (problems.length > 0) throw new PlaybookError(problems)
  return listPlaybookFiles(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => readPlaybook(f, actions))
}

// ---------------------------------------------------------------------------------------
// Corpus conventions

/**
 * Conventions over loaded playbooks: unique id = file name, the first step is open_incident
 * (every run has an incident for its timeline), a test that starts the playbook and one that
 * must not, unique test names, `modified >= created`, and each test's expectation holding
 * against the trigger and the steps' conditions.
 */
export function lintPlaybooks(playbooks: readonly Playbook[], files: readonly string[] = playbooks.map((p) => p.file)): PlaybookProblem[] {
  const problems: PlaybookProblem[] = []
  const firstFileOf = new Map<string, string>()
  for (const pb of playbooks) {
    const add = (check: PlaybookCheck, p: string, message: string) => problems.push({ file: pb.file, path: p, message, check, playbook: pb.id })
    const earlier = firstFileOf.get(pb.id)
    if (earlier !== undefined) add('duplicate-id', '/id', `${pb.id} is already the id of ${earlier}`)
    else firstFileOf.set(pb.id, pb.file)
    if (path.basename(pb.file) !== `${pb.id}.yaml`) add('file-name', '', `file name must be ${pb.id}.yaml for id ${pb.id}`)
    const first = pb.steps[0]
    if (first && first.action !== 'open_incident') add('first-step', '/steps/0/action', `must be open_incident (every run has an incident for its timeline), not ${first.action}`)
    if (first && (first.when !== null || first.approval !== null)) add('first-step', '/steps/0', 'open_incident must run unconditionally: no when, no require_approval')
    for (const kind of ['run', 'none'] as const) {
      if (!pb.tests.some((t) => t.expect === kind)) add('run-and-none', '/tests', `needs at least one test with expect: ${kind}`)
    }
    if (pb.modified < pb.created) add('dates', '/modified', `${pb.modified} is before created ${pb.created}`)
    const names = new Set<string>()
    pb.tests.forEach((t, i) => {
      if (names.has(t.name)) add('test-names', `/tests/${i}/name`, `${quote(t.name)} is the name of an earlier test`)
      names.add(t.name)
      const alert = alertFromTest(t.alert, pb.id, i)
      const matches = triggerMatches(pb.trigger, alert)
      if (t.expect === 'none') {
        if (matches) add('test-outcome', `/tests/${i}`, 'expects none, but the trigger matches this alert')
        if (t.steps !== undefined) add('test-outcome', `/tests/${i}/steps`, 'goes only with expect: run')
        return
      }
      if (!matches) {
        add('test-outcome', `/tests/${i}`, 'expects run, but the trigger does not match this alert')
        return
      }
      if (t.steps !== undefined) {
        const planned = plannedActions(pb, alert)
        if (planned.join(',') !== t.steps.join(',')) add('test-outcome', `/tests/${i}/steps`, `expects [${t.steps.join(', ')}], the playbook would run [${planned.join(', ')}]`)
      }
    })
  }
  const loaded = new Set(playbooks.map((p) => p.file))
  for (const f of files.map(displayPlaybookPath)) {
    if (!loaded.has(f)) problems.push({ file: f, path: '', message: 'holds no playbook: a playbooks folder holds only <id>.yaml files', check: 'stray-file' })
  }
  return problems
}

/** Everything `vigil playbooks lint` reports: load errors of every file and the conventions. */
export function checkPlaybookCorpus(dir: string, actions: ActionRegistry): PlaybookProblem[] {
  const problems: PlaybookProblem[] = []
  const playbooks: Playbook[] = []
  const files = listPlaybookFiles(dir)
  const failed = new Set<string>()
  for (const f of files) {
    if (!f.endsWith('.yaml')) continue
    try {
      playbooks.push(readPlaybook(f, actions))
    } catch (err) {
      if (!(err instanceof PlaybookError)) throw err
      problems.push(...err.problems)
      failed.add(displayPlaybookPath(f))
    }
  }
  problems.push(...lintPlaybooks(playbooks, files).filter((p) => !(p.check === 'stray-file' && failed.has(p.file))))
  return problems
}
