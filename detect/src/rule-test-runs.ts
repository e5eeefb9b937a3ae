/**
 * `vigil rules test` runs as evidence that each control was tested (`rule_test_runs`,
 * detect migration 010): when, by whom, which rules with which file hashes, how many
 * fixtures passed and failed.
 *
 * Relied on by: the `vigil rules test` action, which summarises its run here and hands it to
 * the data dir's store (over a running `vigil up`'s admin socket as JSON text, else on the
 * store it opens: server/src/admin-commands.ts `rules/record-test`), and the market-access
 * review, which reads the table. The JSON form (`RuleTestRunSchema`) is what the socket
 * accepts: a summary that does not match it is refused, never stored in part.
 */
import { randomUUID } from 'node:crypto'
import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { VigilError, type ControlSnapshot, type Store } from '@vigil/core'
import type { FixtureResult } from './fixture-runner.js'

const Iso = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,6})?Z$' })
const Count = Type.Integer({ minimum: 0, maximum: 1_000_000 })

export const RuleTestRunSchema = Type.Object(
  {
    id: Type.String({ pattern: '^rtr_[0-9a-f]{32}$' }),
    started_at: Iso,
    finished_at: Iso,
    by: Type.String({ minLength: 1, maxLength: 200 }),
    operator: Type.String({ maxLength: 128 }),
    /** The `--rule` given, empty when every rule ran. */
    only_rule: Type.String({ maxLength: 128 }),
    tests: Count,
    passed: Count,
    failed: Count,
    rules: Type.Array(
      Type.Object(
        {
          rule: Type.String({ minLength: 1, maxLength: 128 }),
          /** The rule file's SHA-256 as tested; empty when it could not be read again. */
          sha256: Type.String({ pattern: '^([0-9a-f]{64})?$' }),
          tests: Count,
          failed: Count,
        },
        { additionalProperties: false },
      ),
      { maxItems: 1000 },
    ),
  },
  { additionalProperties: false },
)

/** One `vigil rules test` run as recorded. */
export type RuleTestRun = Static<typeof RuleTestRunSchema>

/** The run's summary from the fixture results and the snapshots of the rules tested. */
export function summarizeRuleTestRun(
  results: readonly FixtureResult[],
  snapshots: readonly Pick<ControlSnapshot, 'id' | 'sha256'>[],
  meta: { startedAt: Date; finishedAt: Date; by: string; operator: string; onlyRule: string },
): RuleTestRun {
  const hash = new Map(snapshots.map((s) => [s.id, s.sha256]))
  const perRule = new Map<string, { tests: number; failed: number }>()
  for (const r of results) {
    const p = perRule.get(r.rule) ?? { tests: 0, failed: 0 }
    p.tests++
    if (!r.pass) p.failed++
    perRule.set(r.rule, p)
  }
  const failed = results.filter((r) => !r.pass).length
  return {
    id: `rtr_${randomUUID().replaceAll('-', '')}`,
    started_at: meta.startedAt.toISOString(),
    finished_at: meta.finishedAt.toISOString(),
    by: meta.by,
    operator: meta.operator,
    only_rule: meta.onlyRule,
    tests: results.length,
    passed: results.length - failed,
    failed,
    rules: [...perRule].map(([rule, p]) => ({ rule, sha256: hash.get(rule) ?? '', tests: p.tests, failed: p.failed })),
  }
}

/** A run from its JSON text (the admin socket's form), checked; `VIGIL_ERR_RULE_TEST_RUN_INVALID` names the first problem. */
export function parseRuleTestRun(text: string): RuleTestRun {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    throw new VigilError('VIGIL_ERR_RULE_TEST_RUN_INVALID', 'not JSON')
  }
  const first = Value.Errors(RuleTestRunSchema, raw).First()
  if (first) throw new VigilError('VIGIL_ERR_RULE_TEST_RUN_INVALID', `${first.path || '/'} ${first.message.toLowerCase()}`)
  const run = raw as RuleTestRun
  // The totals must be those of the rules listed, or the report would print two stories.
  const tests = run.rules.reduce((n, r) => n + r.tests, 0)
  const failed = run.rules.reduce((n, r) => n + r.failed, 0)
  if (tests !== run.tests || failed !== run.failed || run.passed !== run.tests - run.failed || run.rules.some((r) => r.failed > r.tests)) {
    throw new VigilError('VIGIL_ERR_RULE_TEST_RUN_INVALID', 'tests, passed and failed must add up over the rules listed')
  }
  if (Date.parse(run.finished_at) < Date.parse(run.started_at)) throw new VigilError('VIGIL_ERR_RULE_TEST_RUN_INVALID', 'finished_at is before started_at')
  return run
}

const toCh = (iso: string) => iso.replace('T', ' ').replace('Z', '')
const COLUMNS = ['id', 'started_at', 'finished_at', 'by', 'operator', 'only_rule', 'tests', 'passed', 'failed', 'rules', 'rule_sha256', 'rule_tests', 'rule_failed'] as const

/** Appends the run (checked again: a caller may have built it by hand). */
export async function recordRuleTestRun(store: Store, run: RuleTestRun): Promise<RuleTestRun> {
  const checked = parseRuleTestRun(JSON.stringify(run))
  const row = {
    id: checked.id,
    started_at: toCh(checked.started_at),
    finished_at: toCh(checked.finished_at),
    by: checked.by,
    operator: checked.operator,
    only_rule: checked.only_rule,
    tests: checked.tests,
    passed: checked.passed,
    failed: checked.failed,
    rules: checked.rules.map((r) => r.rule),
    rule_sha256: checked.rules.map((r) => r.sha256),
    rule_tests: checked.rules.map((r) => r.tests),
    rule_failed: checked.rules.map((r) => r.failed),
  }
  await store.insertNdjson('rule_test_runs', COLUMNS, JSON.stringify(row) + '\n')
  return checked
}
