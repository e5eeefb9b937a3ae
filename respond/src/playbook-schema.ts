/**
 * The playbook file (`rules/playbooks/*.yaml`), defined once with TypeBox.
 *
 * Relied on by: playbook authors and their editors (through `rules/schema/playbook.v1.json`,
 * rendered from `PlaybookSchema` by `playbookSchemaJson()` and kept in step by
 * `playbooks.test.ts`), the loader and linter (`playbooks.ts`) and the engine (`engine.ts`),
 * which matches alerts against `trigger` and runs `steps` in order.
 * Version 1: a field may be added as optional; renaming or removing one is a new version.
 *
 * A step's `params` are not described here: each action declares its own schema (the
 * `params` of the `Action` in the ACTIONS registry), checked when playbooks load.
 * Conditions (`when`) are structured data compared with the alert, never code.
 */
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Type, type Static, type TLiteral, type TUnion } from '@sinclair/typebox'
import { ENTITY_TYPES, SEVERITIES } from '@vigil/core'

// ---------------------------------------------------------------------------------------
// Durations: the same grammar as detection rules (`500ms`, `30s`, `5m`, `1h30m`, `7d`).

export const DURATION_PATTERN = '^(\\d+(\\.\\d+)?(ms|s|m|h|d))+$'
export const DATE_PATTERN = '^\\d{4}-\\d{2}-\\d{2}$'
/** A playbook id: the file is `<id>.yaml`; no `.` or `:` so idempotency keys stay unambiguous. */
export const PLAYBOOK_ID_PATTERN = '^[a-z][a-z0-9_]{0,63}$'
/** A rule id (`auth.brute_force`), a family (`auth.*`), or every rule (`*`). */
export const RULE_SELECTOR_PATTERN = '^(\\*|[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)*(\\.\\*)?)$'
export const ACTION_NAME_PATTERN = '^[a-z][a-z0-9_]{0,63}$'
/** A dotted path into an alert's `evidence` (`baseline.ratio`). */
export const EVIDENCE_PATH_PATTERN = '^[A-Za-z_][A-Za-z0-9_]{0,63}(\\.[A-Za-z_][A-Za-z0-9_]{0,63}){0,7}$'

const UNIT_MS: Record<string, number> = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86_400e3 }

/** Milliseconds in a duration string (`5m` → 300000); throws RangeError on anything else. */
export function parseDuration(text: string): number {
  if (typeof text !== 'string' || text.length > 64 || !new RegExp(DURATION_PATTERN).test(text)) {
    throw new RangeError(`"${String(text).slice(0, 64)}" is not a duration (use e.g. 500ms, 30s, 5m, 1h, 7d)`)
  }
  let ms = 0
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) ms += Number(m[1]) * (UNIT_MS[m[2] as string] as number)
  return Math.round(ms)
}

const stringEnum = <T extends string>(values: readonly T[], description?: string): TUnion<TLiteral<T>[]> =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    description === undefined ? {} : { description },
  )
const text = (description: string, maxLength = 2000) => Type.String({ minLength: 1, maxLength, description })
const duration = (description: string) => Type.String({ pattern: DURATION_PATTERN, maxLength: 64, description })

export const ON_TIMEOUT = ['proceed', 'skip', 'abort'] as const
export type OnTimeout = (typeof ON_TIMEOUT)[number]
export const EVIDENCE_OPS = ['gt', 'gte', 'lt', 'lte', 'eq', 'ne'] as const
export type EvidenceOp = (typeof EVIDENCE_OPS)[number]
/** Alert fields a `when.has` may require to be present (not null). */
export const ALERT_OPTIONAL_FIELDS = ['api_key_id', 'account_id', 'client_ip'] as const

export const TriggerSchema = Type.Object(
  {
    rules: Type.Array(Type.String({ pattern: RULE_SELECTOR_PATTERN, maxLength: 128 }), {
      minItems: 1,
      maxItems: 100,
      uniqueItems: true,
      description: 'Rule ids (CONTRACT §5) this playbook answers; `auth.*` for a family, `*` for every rule.',
    }),
    except_rules: Type.Optional(
      Type.Array(Type.String({ pattern: RULE_SELECTOR_PATTERN, maxLength: 128 }), {
        minItems: 1,
        maxItems: 100,
        uniqueItems: true,
        description: 'Rules left to other playbooks, e.g. with `rules: ["*"]`.',
      }),
    ),
    min_severity: stringEnum(SEVERITIES, 'The alert\'s severity must be at least this.'),
    max_severity: Type.Optional(stringEnum(SEVERITIES, 'And at most this (default: critical).')),
    entity_types: Type.Optional(
      Type.Array(stringEnum(ENTITY_TYPES), { minItems: 1, uniqueItems: true, description: 'The alert must be about one of these (default: any).' }),
    ),
  },
  { additionalProperties: false, description: 'Which alerts start this playbook.' },
)
export type Trigger = Static<typeof TriggerSchema>

export const EvidenceConditionSchema = Type.Object(
  {
    path: Type.String({ pattern: EVIDENCE_PATH_PATTERN, description: 'Dotted path into the alert\'s evidence, e.g. `ratio` or `baseline.median`.' }),
    op: stringEnum(EVIDENCE_OPS),
    value: Type.Union([Type.Number(), Type.String({ maxLength: 256 }), Type.Boolean()]),
  },
  { additionalProperties: false, description: 'Numbers compare as numbers; strings and booleans only with eq/ne. A missing value never holds.' },
)
export type EvidenceCondition = Static<typeof EvidenceConditionSchema>

export const ConditionSchema = Type.Object(
  {
    severity_at_least: Type.Optional(stringEnum(SEVERITIES)),
    entity_type: Type.Optional(Type.Array(stringEnum(ENTITY_TYPES), { minItems: 1, uniqueItems: true, description: 'The alert is about one of these.' })),
    rule: Type.Optional(
      Type.Array(Type.String({ pattern: RULE_SELECTOR_PATTERN, maxLength: 128 }), { minItems: 1, uniqueItems: true, description: 'The alert is of one of these rules.' }),
    ),
    has: Type.Optional(
      Type.Array(stringEnum(ALERT_OPTIONAL_FIELDS), { minItems: 1, uniqueItems: true, description: 'The alert carries these fields (not null).' }),
    ),
    score_at_least: Type.Optional(Type.Number({ description: 'The alert\'s score is at least this.' })),
    count_at_least: Type.Optional(Type.Integer({ minimum: 1, description: 'The alert has been seen at least this many times.' })),
    evidence: Type.Optional(Type.Array(EvidenceConditionSchema, { minItems: 1, maxItems: 20 })),
  },
  { additionalProperties: false, description: 'Every condition given must hold, or the step is skipped (recorded as skipped).' },
)
export type Condition = Static<typeof ConditionSchema>

export const ApprovalPolicySchema = Type.Object(
  {
    timeout: duration('How long to wait for a person with approvals:write (Slack button or POST /v1/approvals/:id).'),
    on_timeout: stringEnum(ON_TIMEOUT, 'When nobody answers in time: run the step anyway, skip it and go on, or stop the run.'),
  },
  { additionalProperties: false },
)
export type ApprovalPolicy = Static<typeof ApprovalPolicySchema>

export const StepSchema = Type.Object(
  {
    action: Type.String({ pattern: ACTION_NAME_PATTERN, description: 'An action of the ACTIONS registry, e.g. open_incident, revoke_key, kill_switch, notify_slack.' }),
    params: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), { description: 'Checked against the action\'s own params schema.' })),
    when: Type.Optional(ConditionSchema),
    require_approval: Type.Optional(ApprovalPolicySchema),
    retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 20, description: 'Attempts after the first before the step is dead-lettered (default 4).' })),
    backoff: Type.Optional(duration('First retry delay; doubled each attempt, with jitter (default 1s).')),
  },
  { additionalProperties: false },
)
export type Step = Static<typeof StepSchema>

/** What a test alert must give; the rest of the `Alert` is filled in by the runner. */
export const TestAlertSchema = Type.Object(
  {
    rule: Type.String({ pattern: '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$', maxLength: 128 }),
    severity: stringEnum(SEVERITIES),
    entity: Type.Object(
      { type: stringEnum(ENTITY_TYPES), id: Type.String({ minLength: 1, maxLength: 256 }) },
      { additionalProperties: false },
    ),
    api_key_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    account_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    client_ip: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    score: Type.Optional(Type.Number()),
    count: Type.Optional(Type.Integer({ minimum: 1 })),
    evidence: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Type.Unknown())),
  },
  { additionalProperties: false },
)
export type TestAlert = Static<typeof TestAlertSchema>

export const PlaybookTestSchema = Type.Object(
  {
    name: text('What the case shows.', 200),
    alert: TestAlertSchema,
    expect: stringEnum(['run', 'none'] as const, 'Whether this alert starts the playbook.'),
    steps: Type.Optional(
      Type.Array(Type.String({ pattern: ACTION_NAME_PATTERN }), {
        description: 'With expect: run — the actions that run, in order (steps whose `when` does not hold are left out).',
      }),
    ),
  },
  { additionalProperties: false },
)
export type PlaybookTest = Static<typeof PlaybookTestSchema>

/** One playbook file. */
export const PlaybookSchema = Type.Object(
  {
    id: Type.String({ pattern: PLAYBOOK_ID_PATTERN, description: 'Stable id; the file is named `<id>.yaml`.' }),
    name: text('Short title shown on incidents and timelines.', 200),
    description: text('What the playbook is for and why its steps are what they are.'),
    enabled: Type.Optional(Type.Boolean({ default: true })),
    created: Type.String({ pattern: DATE_PATTERN, description: 'YYYY-MM-DD' }),
    modified: Type.String({ pattern: DATE_PATTERN, description: 'YYYY-MM-DD, not before `created`.' }),
    trigger: TriggerSchema,
    steps: Type.Array(StepSchema, { minItems: 1, maxItems: 50, description: 'Run in order; the first is open_incident, so every run has an incident for its timeline.' }),
    tests: Type.Array(PlaybookTestSchema, { minItems: 2, maxItems: 100, description: 'At least one alert that starts the playbook and one that must not.' }),
  },
  {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://vigil.dev/schema/playbook.v1.json',
    title: 'Vigil response playbook, v1',
    additionalProperties: false,
  },
)

/** A playbook file as written. */
export type PlaybookFile = Static<typeof PlaybookSchema>

/** Where the committed JSON Schema lives. */
export const PLAYBOOK_SCHEMA_FILE = fileURLToPath(new URL('../../rules/schema/playbook.v1.json', import.meta.url))

/** The text of `rules/schema/playbook.v1.json`. */
export function playbookSchemaJson(): string {
  return `${JSON.stringify(PlaybookSchema, null, 2)}\n`
}

/** Writes `rules/schema/playbook.v1.json` (or `file`) from `PlaybookSchema`. */
export function writePlaybookSchemaFile(file: string = PLAYBOOK_SCHEMA_FILE): void {
  writeFileSync(file, playbookSchemaJson())
}
