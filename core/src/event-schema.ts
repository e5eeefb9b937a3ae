/**
 * The audit event of CONTRACT §1, defined once.
 *
 * From this one TypeBox schema come: the TypeScript type (`AuditEvent`), the JSON Schema
 * ingest validates every event with, and the ClickHouse column list of the `events` table
 * (`EVENT_COLUMNS`, via the `x-clickhouse` annotation on each leaf). Nested objects
 * (`http`, `tls`, `order`) flatten to `<object>_<field>` columns. The `events` migration is
 * checked against `EVENT_COLUMNS` by `event-schema.test.ts`, so the two cannot drift.
 *
 * Relied on by: trading APIs (CONTRACT §1), ingest validation, storage, detectors.
 */
import { Type, type Static, type TSchema, type TObject } from '@sinclair/typebox'

const CH = 'x-clickhouse'
type ChOpt = { [CH]: string }
const ch = (type: string): ChOpt => ({ [CH]: type })

const str = (maxLength: number, chType = 'String') => Type.String({ maxLength, ...ch(chType) })
const lcStr = (maxLength: number) => str(maxLength, 'LowCardinality(String)')
const num = (chType = 'Nullable(Float64)') => Type.Number({ ...ch(chType) })

export const OUTCOMES = ['success', 'failure', 'denied', 'error'] as const
export const ACTIONS = [
  'api.request', 'auth.login', 'auth.logout', 'auth.mfa', 'auth.lockout', 'session.refresh', 'session.revoke',
  'key.create', 'key.rotate', 'key.revoke', 'key.scope_change', 'key.ip_allowlist_change',
  'order.new', 'order.cancel', 'order.replace', 'order.fill', 'order.reject',
  'funds.withdraw', 'funds.deposit', 'killswitch.trip', 'killswitch.reset', 'admin.config_change',
] as const
export const REASONS = [
  'bad_signature', 'unknown_key', 'expired_key', 'revoked_key', 'bad_password', 'mfa_required', 'mfa_failed',
  'locked_out', 'ip_not_allowed', 'scope_denied', 'rate_limited', 'invalid_request', 'risk_rejected',
  'kill_switch', 'internal_error',
] as const

/** RFC 3339 in UTC with `Z`, 0-9 fractional digits. */
export const TS_PATTERN = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?Z$'

export const HttpSchema = Type.Object(
  {
    method: lcStr(16),
    path: str(2048),
    status: Type.Integer({ minimum: 0, maximum: 999, ...ch('Nullable(UInt16)') }),
    latency_ms: Type.Number({ minimum: 0, ...ch('Nullable(Float64)') }),
    bytes_in: Type.Integer({ minimum: 0, ...ch('Nullable(UInt64)') }),
    bytes_out: Type.Integer({ minimum: 0, ...ch('Nullable(UInt64)') }),
    request_id: str(128),
  },
  { additionalProperties: true },
)

export const TlsSchema = Type.Object(
  {
    version: lcStr(32),
    cipher: lcStr(128),
    client_cert_fingerprint: str(256),
  },
  { additionalProperties: true },
)

export const OrderSchema = Type.Object(
  {
    id: str(128),
    client_order_id: str(128),
    symbol: lcStr(64),
    side: Type.Union([Type.Literal('buy'), Type.Literal('sell')], ch('LowCardinality(String)')),
    type: Type.Union(
      [Type.Literal('market'), Type.Literal('limit'), Type.Literal('stop'), Type.Literal('stop_limit')],
      ch('LowCardinality(String)'),
    ),
    qty: num(),
    price: num(),
    notional: num(),
    currency: lcStr(16),
    venue: lcStr(16),
    tif: lcStr(16),
  },
  { additionalProperties: true },
)

/** One audit event as a trading API sends it. Unknown top-level fields are tolerated. */
export const AuditEventSchema = Type.Object(
  {
    id: Type.Optional(Type.String({ minLength: 1, maxLength: 128, ...ch('String') })),
    ts: Type.String({ pattern: TS_PATTERN, maxLength: 40, ...ch("DateTime64(9, 'UTC')") }),
    action: Type.String({ minLength: 1, maxLength: 64, ...ch('LowCardinality(String)') }),
    outcome: Type.Union(
      OUTCOMES.map((o) => Type.Literal(o)),
      ch('LowCardinality(String)'),
    ),
    reason: Type.Optional(lcStr(64)),
    api_key_id: Type.Optional(str(128)),
    account_id: Type.Optional(str(128)),
    user_id: Type.Optional(str(128)),
    session_id: Type.Optional(str(128)),
    client_ip: Type.Optional(Type.String({ maxLength: 64, ...ch('IPv6') })),
    user_agent: Type.Optional(str(512)),
    scopes: Type.Optional(Type.Array(Type.String({ maxLength: 128 }), { maxItems: 32, ...ch('Array(LowCardinality(String))') })),
    http: Type.Optional(Type.Partial(HttpSchema)),
    tls: Type.Optional(Type.Partial(TlsSchema)),
    order: Type.Optional(Type.Partial(OrderSchema)),
    attrs: Type.Optional(
      Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 1024 }), {
        maxProperties: 64,
        ...ch('Map(String, String)'),
      }),
    ),
  },
  { additionalProperties: true },
)

export type AuditEvent = Static<typeof AuditEventSchema>
export type Outcome = (typeof OUTCOMES)[number]

/** What ingest adds, never trusting the payload (CONTRACT §1). */
export const EnrichmentSchema = Type.Object({
  source: Type.String({ ...ch('LowCardinality(String)') }),
  received_at: Type.String({ ...ch("DateTime64(9, 'UTC')") }),
  clock_skew_ms: Type.Number({ ...ch('Float64') }),
  geo: Type.Optional(
    Type.Object({
      country: lcStr(2),
      region: lcStr(64),
      city: lcStr(128),
      lat: num('Nullable(Float32)'),
      lon: num('Nullable(Float32)'),
    }),
  ),
})

export type Enrichment = Static<typeof EnrichmentSchema>
/** An event as stored: what the trading API sent plus what ingest added. */
export type StoredEvent = AuditEvent & Enrichment & { id: string }

export interface EventColumn {
  /** Column name in ClickHouse, e.g. `http_status`. */
  name: string
  /** Path into the event object, e.g. `['http', 'status']`. */
  path: readonly string[]
  /** ClickHouse type, e.g. `Nullable(UInt16)`. */
  type: string
}

function isObjectSchema(s: TSchema): s is TObject {
  return s.type === 'object' && typeof (s as TObject).properties === 'object'
}

function collectColumns(schema: TObject, prefix: readonly string[], out: EventColumn[]): void {
  for (const [key, raw] of Object.entries(schema.properties)) {
    const sub = raw as TSchema
    const path = [...prefix, key]
    const chType = (sub as Record<string, unknown>)[CH]
    if (typeof chType === 'string') {
      out.push({ name: path.join('_'), path, type: chType })
    } else if (isObjectSchema(sub)) {
      collectColumns(sub, path, out)
    } else {
      throw new Error(`event schema field ${path.join('.')} has no ClickHouse type`)
    }
  }
}

function buildColumns(): readonly EventColumn[] {
  const out: EventColumn[] = []
  // Enrichment first so `source` leads; order here is the column order of inserts only.
  collectColumns(EnrichmentSchema, [], out)
  collectColumns(AuditEventSchema, [], out)
  return Object.freeze(out.map((c) => Object.freeze(c)))
}

/** Every column of the `events` table, derived from the schemas above. */
export const EVENT_COLUMNS: readonly EventColumn[] = buildColumns()

/** What ingest writes in a column of `events` for a field the event does not have. */
export function columnDefault(type: string): unknown {
  if (type.startsWith('Nullable(')) return null
  if (type.startsWith('Array(')) return []
  if (type.startsWith('Map(')) return {}
  if (type === 'IPv6') return '::'
  if (/^(U?Int|Float)/.test(type)) return 0
  return ''
}

/** The annotation keyword; validators must be told it is not a mistake. */
export const CLICKHOUSE_KEYWORD = CH
