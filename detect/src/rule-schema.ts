/**
 * The detection rule file (`rules/detections/*.yaml`), defined once with TypeBox.
 *
 * Relied on by: rule authors and their editors (through `rules/schema/detection.v1.json`,
 * rendered from `RuleSchema` by `ruleSchemaJson()` and kept in step by `rules.test.ts`), the
 * rule loader and linter (`rules.ts`), the fixture expander (`fixtures.ts`), and every
 * detector, which reads its thresholds from the `params` defined here under the rule's id.
 * Version 1: a field may be added as optional; renaming or removing one is a new version.
 *
 * Durations are strings (`500ms`, `30s`, `5m`, `1h`, `7d`, or compound `1h30m`). A loaded
 * rule carries them in milliseconds: `windowMs`, `latenessMs`, `suppressionMs`, and duration
 * params decoded in place (see `RuleParams`).
 */
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Type, type Static, type StaticDecode, type TSchema, type TObject, type TProperties } from '@sinclair/typebox'
import { AuditEventSchema, CLICKHOUSE_KEYWORD, REASONS, TS_PATTERN } from '@vigil/core'

/** The rule ids of CONTRACT §5. Public: alerts, filters and dashboards name them. */
export const BUILTIN_RULE_IDS = [
  'auth.brute_force',
  'auth.credential_stuffing',
  'auth.success_after_failures',
  'volume.spike',
  'geo.new_country',
  'geo.impossible_travel',
  'access.ip_not_allowed',
  'access.scope_violation',
  'rate.abuse',
  'ids.injection',
  'order.fat_finger',
  'clock.skew',
] as const
export type BuiltinRuleId = (typeof BUILTIN_RULE_IDS)[number]

export { SEVERITIES, ENTITY_TYPES } from '@vigil/core'
import { SEVERITIES, ENTITY_TYPES } from '@vigil/core'

// ---------------------------------------------------------------------------------------
// Durations

const DURATION_BODY = '(\\d+(\\.\\d+)?(ms|s|m|h|d))+'
/** A duration: one or more `<number><unit>` with unit ms, s, m, h or d. */
export const DURATION_PATTERN = `^${DURATION_BODY}$`
/** A fixture time: absolute RFC 3339 UTC (CONTRACT §1), or an offset from the test's base time. */
export const FIXTURE_TS_PATTERN = `^(${TS_PATTERN.slice(1, -1)}|[+-]${DURATION_BODY})$`
export const DATE_PATTERN = '^\\d{4}-\\d{2}-\\d{2}$'
export const RULE_ID_PATTERN = '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$'
export const COUNTRY_PATTERN = '^[A-Z]{2}$'
// Loose on purpose: an editor flags obvious slips, the loader says precisely what is wrong.
export const CIDR_PATTERN = '^[0-9A-Fa-f:.]+/\\d{1,3}$'

const UNIT_US: Record<string, number> = { ms: 1e3, s: 1e6, m: 60e6, h: 3600e6, d: 86_400e6 }
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy

/**
 * Microseconds in a duration string (`1.5s` → 1500000), or NaN when it is not one.
 * Whole microseconds, because fixture times are kept at µs precision and floats drift.
 */
export function durationMicros(text: string): number {
  if (!new RegExp(DURATION_PATTERN).test(text)) return NaN
  let us = 0
  DURATION_PART.lastIndex = 0
  for (let m = DURATION_PART.exec(text); m; m = DURATION_PART.exec(text)) {
    us += Math.round(Number(m[1]) * (UNIT_US[m[2] as string] as number))
  }
  return us
}

/** Milliseconds in a duration string (`5m` → 300000); throws on anything else. */
export function parseDuration(text: string): number {
  const us = durationMicros(text)
  if (Number.isNaN(us)) throw new RangeError(`"${text}" is not a duration (use e.g. 500ms, 30s, 5m, 1h, 7d)`)
  return us / 1000
}

/** The shortest duration string for a number of milliseconds (300000 → `5m`). */
export function formatDuration(ms: number): string {
  for (const [unit, us] of [['d', 86_400e6], ['h', 3600e6], ['m', 60e6], ['s', 1e6]] as const) {
    if (ms >= us / 1000 && (ms * 1000) % us === 0) return `${(ms * 1000) / us}${unit}`
  }
  return `${ms}ms`
}

const durationText = (description: string) => Type.String({ pattern: DURATION_PATTERN, description })
/** A duration param: a string in the file, milliseconds in a loaded rule. */
const durationParam = (description: string) =>
  Type.Transform(durationText(`${description} In a loaded rule: milliseconds.`))
    .Decode((text) => parseDuration(text))
    .Encode((ms) => formatDuration(ms))

// ---------------------------------------------------------------------------------------
// Params of the built-in rules: every number that decides firing lives in the rule file.

const count = (description: string, minimum = 1) => Type.Integer({ minimum, description })
const positive = (description: string) => Type.Number({ exclusiveMinimum: 0, description })
const stringEnum = <T extends string>(values: readonly T[], description?: string) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    description === undefined ? {} : { description },
  )
const listOf = <T extends string>(values: readonly T[], description: string) =>
  Type.Array(stringEnum(values), { minItems: 1, uniqueItems: true, description })
const reasons = (description: string) => listOf(REASONS, description)
const actionList = (description: string) =>
  Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, uniqueItems: true, description })
const params = <T extends TProperties>(properties: T) => Type.Object(properties, { additionalProperties: false })

const BruteForceParams = params({
  group_by: listOf(['api_key', 'user'] as const, 'Count failures separately per api_key_id and per user_id; an alert is about whichever crossed.'),
  failure_reasons: reasons('Reasons (CONTRACT §1) of failure/denied events that count as an authentication failure.'),
  min_failures: count('Authentication failures on one key or user within `window` that fire.'),
  max_distinct_ips: count(
    'Fire only when those failures came from at most this many client IPs ("from few IPs", CONTRACT §5); more points at a client fleet or a botnet.',
  ),
})

const CredentialStuffingParams = params({
  group_by: listOf(['ip', 'net'] as const, 'Evaluate each client IP, and each network around it (`net`, sized by the prefixes below).'),
  ipv4_prefix: Type.Integer({ minimum: 8, maximum: 32, description: 'Prefix length of an IPv4 `net`.' }),
  ipv6_prefix: Type.Integer({ minimum: 16, maximum: 128, description: 'Prefix length of an IPv6 `net`.' }),
  failure_reasons: reasons('Reasons of failure/denied events that count as a failed credential.'),
  min_distinct_credentials: count(
    'Distinct credentials failing from one IP or net within `window` (api_key_id, or user_id when the event has no key) that fire.',
  ),
  min_failures: count('And at least this many failures in all.'),
  net_min_distinct_ips: count('A `net` fires only when its failures come from at least this many IPs; from one IP the IP alert already says it all.'),
})

const SuccessAfterFailuresParams = params({
  group_by: listOf(['api_key', 'user'] as const, 'Follow each api_key_id and each user_id on its own.'),
  failure_reasons: reasons('Reasons of failure/denied events that count as an authentication failure.'),
  min_failures: count('Failures on the key or user within `window` before the success.'),
  success_within: durationParam('The success must come no later than this after the last of those failures.'),
})

const VolumeSpikeParams = params({
  metrics: listOf(['orders', 'notional'] as const, 'What is scored per `window`: the count of orders, their summed notional; either one can fire.'),
  order_actions: actionList('Actions counted as orders.'),
  seasonality: stringEnum(
    ['hour_of_week', 'hour_of_day'] as const,
    'Baseline samples: the key\'s `window`-long buckets in the same hour of the week (or of the day) over `history_days`.',
  ),
  history_days: count('How far back baseline samples are taken.'),
  min_history_days: count('Days between a key\'s first order and now before its baseline is trusted; younger keys get the cold-start limits.'),
  z_threshold: positive('Robust z-score, 0.6745·(value − median)/MAD over the baseline samples, at or above which a bucket is a spike.'),
  min_ratio_to_baseline: Type.Number({
    minimum: 1,
    description: 'And the value must be at least this many times the baseline (the higher of the median and the EWMA); a steady key has a MAD of 0, which alone would make any rise infinite.',
  }),
  ewma_alpha: Type.Number({
    exclusiveMinimum: 0,
    maximum: 1,
    description: 'Weight of the newest sample in the EWMA of each hour slot; it follows a key whose volume has been growing, which the median lags.',
  }),
  min_count: count('Orders in the bucket below which nothing fires, whatever the score.'),
  cold_start_max_orders: count('Orders per `window` that fire for a key with less than `min_history_days` of history.'),
  cold_start_max_notional: positive('Notional per `window` that fires for a key with less than `min_history_days` of history.'),
})

const NewCountryParams = params({
  min_history_events: count('Geolocated events a key needs in its history before a new country counts.'),
  min_history_days: count('Days between the key\'s first geolocated event and now before a new country counts.'),
  history_days: count('Countries seen within this many days are known.'),
})

const ImpossibleTravelParams = params({
  max_speed_kmh: positive('Speed between two consecutive uses of a key above which it is not travel (an airliner cruises at about 900 km/h).'),
  location_tolerance_km: Type.Number({
    minimum: 0,
    description: 'Subtracted from every distance: GeoIP places an address at a city centroid, often tens to hundreds of km off.',
  }),
  ignore_country_level: Type.Boolean({
    description: 'Skip uses located only to a country (no city): GeoIP puts those at the country\'s centroid, which makes a phantom journey.',
  }),
  ignore_reasons: Type.Array(stringEnum(REASONS), {
    uniqueItems: true,
    description:
      'Requests refused (outcome failure or denied) for these reasons are not uses of the key: whoever sent them did not hold it (a forged signature, a key id that does not exist). Brute force and stuffing watch those.',
  }),
})

const DenialCountParams = (reason: string) =>
  params({ min_denials: count(`\`${reason}\` denials on one key within \`window\` that fire.`) })

const RateAbuseParams = params({
  group_by: listOf(['api_key', 'ip'] as const, 'Evaluate each api_key_id and each client IP.'),
  min_denials: count('`rate_limited` denials within `window` that fire.'),
  min_active_minutes: count('Distinct minutes of the window that hold at least one of them: sustained, not one burst after a reconnect.'),
})

const InjectionParams = params({
  categories: Type.Object(
    {
      sqli: Type.Boolean({ description: 'SQL injection.' }),
      xss: Type.Boolean({ description: 'Cross-site scripting.' }),
      path_traversal: Type.Boolean({ description: 'Path traversal.' }),
      cmd_injection: Type.Boolean({ description: 'OS command injection.' }),
    },
    { additionalProperties: false, description: 'Pattern families switched on.' },
  ),
  fields: listOf(['http.path', 'attrs'] as const, 'Where to look (CONTRACT §5: `http.path` or `attrs`).'),
  decode_passes: Type.Integer({
    minimum: 1,
    maximum: 10,
    description: 'Rounds of URL-decoding (stopping early once a round changes nothing) before matching; double encoding hides payloads.',
  }),
  min_matches: count('Matching events from one entity within `window` that fire.'),
})

const FatFingerParams = params({
  order_actions: actionList('Actions whose `order` is checked.'),
  z_threshold: positive('Robust z-score of the order against the key\'s history at or above which it fires.'),
  log_scale: Type.Boolean({ description: 'Score log10(qty) and log10(notional): order sizes spread over orders of magnitude.' }),
  min_ratio_to_median: Type.Number({
    minimum: 1,
    description: 'And the order must be at least this many times the key\'s median; a key that always sends the same size has a MAD of 0.',
  }),
  qty_per_symbol: Type.Boolean({ description: 'Compare qty with the key\'s history in the same symbol (share counts depend on price); notional is compared across all symbols.' }),
  max_qty: positive('Absolute qty limit: fires whatever the history.'),
  max_notional: positive('Absolute notional limit: fires whatever the history.'),
  min_history_orders: count('Orders in the key\'s history (for qty: in that symbol, with `qty_per_symbol`) before the z-score is used.'),
  history_days: count('How far back the key\'s orders form its history.'),
})

const ClockSkewParams = params({
  max_skew_ms: positive('Default limit on a source\'s clock divergence; 1 ms is RTS 25 (Reg. 2017/574, Annex Table 2) for "any other trading activity".'),
  source_max_skew_ms: Type.Record(Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$' }), Type.Number({ exclusiveMinimum: 0 }), {
    description: 'Per-source limits overriding `max_skew_ms`, e.g. 1000 for a voice-trading source (RTS 25: 1 s).',
  }),
  min_events: count('Events from the source within `window` needed to judge it.'),
  percentile: Type.Number({
    minimum: 0,
    maximum: 100,
    description: 'Percentile of the signed clock_skew_ms compared (in absolute value) with the limit; low because network transit only ever adds to received_at − ts.',
  }),
})

/** The `params` of each built-in rule, keyed by rule id. */
export const RULE_PARAMS = {
  'auth.brute_force': BruteForceParams,
  'auth.credential_stuffing': CredentialStuffingParams,
  'auth.success_after_failures': SuccessAfterFailuresParams,
  'volume.spike': VolumeSpikeParams,
  'geo.new_country': NewCountryParams,
  'geo.impossible_travel': ImpossibleTravelParams,
  'access.ip_not_allowed': DenialCountParams('ip_not_allowed'),
  'access.scope_violation': DenialCountParams('scope_denied'),
  'rate.abuse': RateAbuseParams,
  'ids.injection': InjectionParams,
  'order.fat_finger': FatFingerParams,
  'clock.skew': ClockSkewParams,
} as const satisfies Record<BuiltinRuleId, TObject>

/** A built-in rule's params as loaded: durations in milliseconds. */
export type RuleParams<I extends BuiltinRuleId> = StaticDecode<(typeof RULE_PARAMS)[I]>
/** A built-in rule's params as written in its file. */
export type RuleParamsFile<I extends BuiltinRuleId> = Static<(typeof RULE_PARAMS)[I]>

// A rule of an id outside CONTRACT §5 still has flat, JSON-like params.
const ParamScalar = Type.Union([Type.Number(), Type.String(), Type.Boolean()])
const ParamValue = Type.Union([ParamScalar, Type.Array(ParamScalar), Type.Record(Type.String(), ParamScalar)])
export type ParamValue = Static<typeof ParamValue>

// ---------------------------------------------------------------------------------------
// Fixtures: CONTRACT §1 events with relative times and repetition.

// The storage annotation of the event schema means nothing to a rule author's editor.
function withoutStorage<T extends TSchema>(schema: T): T {
  if (Array.isArray(schema)) return schema.map((s: TSchema) => withoutStorage(s)) as unknown as T
  if (schema === null || typeof schema !== 'object') return schema
  const out: Record<string | symbol, unknown> = {}
  for (const key of Reflect.ownKeys(schema)) {
    if (key === CLICKHOUSE_KEYWORD) continue
    const value = (schema as Record<string | symbol, unknown>)[key]
    out[key] = value !== null && typeof value === 'object' ? withoutStorage(value as TSchema) : value
  }
  return out as T
}

// A typo'd field in a fixture would silently test something else: nested objects are closed.
function closed<T extends TSchema>(schema: T): T {
  return { ...withoutStorage(schema), additionalProperties: false }
}

const ev = AuditEventSchema.properties

export const FixtureEventSchema = Type.Object(
  {
    id: Type.Optional(withoutStorage(ev.id)),
    ts: Type.String({
      pattern: FIXTURE_TS_PATTERN,
      description: 'RFC 3339 UTC (`2026-11-24T09:30:00.123Z`) or an offset from the test\'s base time (`+0s`, `+1.5s`, `-7d`).',
    }),
    action: withoutStorage(ev.action),
    outcome: withoutStorage(ev.outcome),
    reason: Type.Optional(withoutStorage(ev.reason)),
    api_key_id: Type.Optional(withoutStorage(ev.api_key_id)),
    account_id: Type.Optional(withoutStorage(ev.account_id)),
    user_id: Type.Optional(withoutStorage(ev.user_id)),
    session_id: Type.Optional(withoutStorage(ev.session_id)),
    client_ip: Type.Optional(withoutStorage(ev.client_ip)),
    user_agent: Type.Optional(withoutStorage(ev.user_agent)),
    scopes: Type.Optional(withoutStorage(ev.scopes)),
    http: Type.Optional(closed(ev.http)),
    tls: Type.Optional(closed(ev.tls)),
    order: Type.Optional(closed(ev.order)),
    attrs: Type.Optional(withoutStorage(ev.attrs)),
    source: Type.Optional(
      Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$', description: 'The authenticated source (ingest sets it; a fixture may name it).' }),
    ),
    clock_skew_ms: Type.Optional(
      Type.Number({ description: 'received_at − ts in ms; the expanded event carries a matching `received_at`. Absent: the runner\'s clock decides.' }),
    ),
    geo: Type.Optional(
      Type.Object(
        {
          country: Type.String({ pattern: COUNTRY_PATTERN }),
          region: Type.Optional(Type.String({ maxLength: 64 })),
          city: Type.Optional(Type.String({ maxLength: 128 })),
          lat: Type.Optional(Type.Number({ minimum: -90, maximum: 90 })),
          lon: Type.Optional(Type.Number({ minimum: -180, maximum: 180 })),
        },
        {
          additionalProperties: false,
          description: 'GeoIP answer for client_ip, as ingest would add it; given so fixtures do not depend on the GeoIP database.',
        },
      ),
    ),
    repeat: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, description: 'Expand into this many copies.' })),
    every: Type.Optional(durationText('Time between copies of a repeated event; required with `repeat` > 1.')),
    vary: Type.Optional(
      Type.Record(
        Type.String({ pattern: '^[a-z_]+(\\.[^\\s]+)?$' }),
        Type.Array(Type.Union([Type.String(), Type.Number(), Type.Boolean()]), { minItems: 1 }),
        { description: 'Field (dotted for nested: `http.path`, `attrs.note`) → values cycled across the copies.' },
      ),
    ),
  },
  { additionalProperties: false },
)
export type FixtureEvent = Static<typeof FixtureEventSchema>

export const RuleTestSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    expect: stringEnum(['fire', 'none'] as const, 'Whether replaying `events` must raise an alert of this rule.'),
    alerts: Type.Optional(Type.Integer({ minimum: 1, description: 'Exactly this many alerts of this rule (only with `expect: fire`).' })),
    severity: Type.Optional(
      stringEnum(SEVERITIES, 'Every alert of this rule raised by this test has this severity, escalation applied (only with `expect: fire`).'),
    ),
    entity: Type.Optional(
      Type.String({ minLength: 1, description: 'An alert must be about this entity id (a key id, an IP, a net like `203.0.113.0/24`, a source).' }),
    ),
    events: Type.Array(FixtureEventSchema, { minItems: 1, description: 'Delivered in this order (repeats expanded in place).' }),
  },
  { additionalProperties: false },
)
export type RuleTest = Static<typeof RuleTestSchema>

export const AllowlistSchema = Type.Object(
  {
    ips: Type.Optional(Type.Array(Type.String({ pattern: CIDR_PATTERN }), { description: 'CIDRs, IPv4 or IPv6 (`/32` or `/128` for one address).' })),
    api_keys: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 128 }))),
    accounts: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 128 }))),
    countries: Type.Optional(Type.Array(Type.String({ pattern: COUNTRY_PATTERN }), { description: 'ISO 3166-1 alpha-2 codes.' })),
    sources: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$' }))),
  },
  { additionalProperties: false, description: 'Events matching any entry are not counted by this rule.' },
)
export type Allowlist = Static<typeof AllowlistSchema>

const text = (description: string) => Type.String({ minLength: 1, description })

/**
 * One step of `escalate`. At least one of `min_count` and `min_score`, and the severity
 * above the rule's and the previous step's: the loader checks both (rules.ts), with
 * messages a JSON Schema could not give.
 */
export const EscalationStepSchema = Type.Object(
  {
    severity: stringEnum(SEVERITIES, 'Severity of a finding that meets every condition of this step; above the rule\'s own and the previous step\'s.'),
    min_count: Type.Optional(
      count('The finding\'s `count` at or above which this step holds; for an open alert updated by a repeat, the count of all its findings.'),
    ),
    min_score: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 100,
        description: 'The finding\'s `score` (0-100, 50 at the rule\'s threshold) at or above which this step holds; for an open alert, its highest.',
      }),
    ),
  },
  { additionalProperties: false },
)

// Each built-in id brings its own params schema; JSON Schema's if/then keeps that one file.
const paramsByRule = BUILTIN_RULE_IDS.map((id) => ({
  if: { properties: { id: { const: id } }, required: ['id'] },
  then: { properties: { params: RULE_PARAMS[id] } },
}))

/** One rule file. */
export const RuleSchema = Type.Object(
  {
    id: Type.String({ pattern: RULE_ID_PATTERN, description: 'Stable dotted id; for a built-in, its CONTRACT §5 id. The file is named after it (`.` → `_`).' }),
    name: text('Short title shown on alerts.'),
    version: Type.Integer({ minimum: 1, description: 'Raised whenever the logic or a default changes.' }),
    severity: stringEnum(SEVERITIES),
    escalate: Type.Optional(
      Type.Array(EscalationStepSchema, {
        minItems: 1,
        description:
          'Raise the severity of a finding whose count or score is high enough: steps in increasing severity, all conditions of a step must hold, the highest step that holds wins. Also raises an open alert when a repeat takes it past a step.',
      }),
    ),
    entity: stringEnum(ENTITY_TYPES, 'What an alert is about.'),
    enabled: Type.Optional(Type.Boolean({ default: true })),
    created: Type.String({ pattern: DATE_PATTERN, description: 'YYYY-MM-DD' }),
    modified: Type.String({ pattern: DATE_PATTERN, description: 'YYYY-MM-DD, not before `created`.' }),
    description: text('What the rule detects and how it decides.'),
    triage: text('How an analyst should triage an alert of this rule.'),
    false_positives: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'Known benign causes.' }),
    references: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    mitre: Type.Optional(Type.Array(Type.String({ pattern: '^T\\d{4}(\\.\\d{3})?$' }), { description: 'MITRE ATT&CK technique ids.' })),
    window: durationText('Event-time window the rule evaluates.'),
    lateness: durationText('How long after the window an event that arrives late still counts.'),
    suppression: durationText('Repeats on the same entity within this long update the open alert instead of raising a new one.'),
    params: Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]*$' }), ParamValue, {
      description: 'Thresholds and model settings; for a built-in rule, exactly those its detector reads.',
    }),
    allowlist: Type.Optional(AllowlistSchema),
    tests: Type.Array(RuleTestSchema, { minItems: 2, description: 'At least one that must fire and one that must not.' }),
    deprecated_reason: Type.Optional(text('Only in rules/_deprecated/: why the rule was retired.')),
  },
  {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://vigil.dev/schema/detection.v1.json',
    title: 'Vigil detection rule, v1',
    additionalProperties: false,
    allOf: paramsByRule,
  },
)

/** A rule file as written. */
export type RuleFile = Static<typeof RuleSchema>

/** Where the committed JSON Schema lives. */
export const RULE_SCHEMA_FILE = fileURLToPath(new URL('../../rules/schema/detection.v1.json', import.meta.url))

/** The text of `rules/schema/detection.v1.json`. */
export function ruleSchemaJson(): string {
  return `${JSON.stringify(RuleSchema, null, 2)}\n`
}

/** Writes `rules/schema/detection.v1.json` (or `file`) from `RuleSchema`. */
export function writeRuleSchemaFile(file: string = RULE_SCHEMA_FILE): void {
  writeFileSync(file, ruleSchemaJson())
}
