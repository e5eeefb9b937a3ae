/**
 * What the guard tells Vigil about enforcement, beyond one event per request: when it applied
 * a kill-switch trip or reset (and how many resting orders the trading API cancelled), and
 * when a person overrode a pre-trade limit. They travel as ordinary CONTRACT §1 events through
 * the same signed shipper; their `attrs` names are a public extension of the contract,
 * documented in docs/reports.md ("Extensions to CONTRACT") and read by the kill-switch-log and
 * pretrade-breaches reports. Renaming one breaks those reports for every guard already deployed.
 */
import { eventId, eventTs } from './event-fields.js'
import type { ActiveKillSwitch, EventSink, GuardEvent } from './seams.js'

/**
 * How the orders-cancelled count of a trip came about (`attrs.cancel_report`):
 * `reported` — the hook returned a count (`attrs.orders_cancelled`); `not_reported` — the hook
 * returned nothing; `no_hook` — no `onKillSwitch` was given; `hook_failed` — it threw or
 * rejected; `timeout` — it had not finished within `cancelReportTimeoutMs`; `invalid` — it
 * returned something that is not a non-negative integer.
 */
export type CancelReport = 'reported' | 'not_reported' | 'no_hook' | 'hook_failed' | 'timeout' | 'invalid'

/** `stream`: a delta on the control stream; `state`: a whole state (start-up, refetch, poll). */
export type AppliedVia = 'stream' | 'state'

export interface KillSwitchApplication {
  killSwitch: Pick<ActiveKillSwitch, 'id' | 'scope'> & Partial<Pick<ActiveKillSwitch, 'tripped_at'>>
  /** Epoch ms (fractional for µs) when the guard's view started enforcing the change. */
  appliedAtMs: number
  controlVersion: number
  via: AppliedVia
  guardInstance: string
}

export const scopeText = (scope: ActiveKillSwitch['scope']): string => `${scope.type}:${scope.id}`

function applicationAttrs(a: KillSwitchApplication): Record<string, string> {
  return {
    kill_switch_id: a.killSwitch.id,
    kill_switch_scope: scopeText(a.killSwitch.scope),
    applied_at: eventTs(a.appliedAtMs),
    control_version: String(a.controlVersion),
    applied_via: a.via,
    guard_instance: a.guardInstance,
  }
}

/**
 * `killswitch.trip`, sent once the trading API's hook has finished (its `ts` is then, so the
 * event's clock skew stays honest); `attrs.applied_at` is when the guard started refusing.
 */
export function killSwitchTripEvent(a: KillSwitchApplication, cancel: { report: CancelReport; orders?: number }, nowMs: number): GuardEvent {
  return {
    id: eventId(),
    ts: eventTs(nowMs),
    action: 'killswitch.trip',
    outcome: 'success',
    attrs: {
      ...applicationAttrs(a),
      ...(a.killSwitch.tripped_at ? { kill_switch_tripped_at: a.killSwitch.tripped_at.slice(0, 64) } : {}),
      cancel_report: cancel.report,
      ...(cancel.report === 'reported' && cancel.orders !== undefined ? { orders_cancelled: String(cancel.orders) } : {}),
    },
  }
}

export function killSwitchResetEvent(a: KillSwitchApplication, resetAt: string | undefined, nowMs: number): GuardEvent {
  return {
    id: eventId(),
    ts: eventTs(nowMs),
    action: 'killswitch.reset',
    outcome: 'success',
    attrs: { ...applicationAttrs(a), ...(resetAt ? { kill_switch_reset_at: resetAt.slice(0, 64) } : {}) },
  }
}

/** Limit types the reports know by name; any other `snake_case` name is accepted as well. */
export const KNOWN_LIMIT_TYPES = ['price_collar', 'order_value', 'volume', 'message_rate', 'duplicates', 'position', 'credit', 'notional_daily'] as const

/** A person raised, lowered or lifted a pre-trade limit for a while. */
export interface LimitOverride {
  /** The account the override applies to (absent with `apiKeyId` absent too: the whole API). */
  accountId?: string
  /** The key the override applies to. */
  apiKeyId?: string
  /** Which limit, e.g. `price_collar`, `order_value`, `volume`, `message_rate`, `duplicates`. */
  limitType: string
  /** The limit before the override (a number or a text such as `5%`). */
  from: string | number
  /** The limit during the override; `none` when it is lifted. */
  to: string | number
  /** RFC 3339: when the override ends; absent: until changed again. */
  until?: string
  /** Who approved it (a person, as the trading API names its staff). */
  approvedBy: string
  /** Who asked for it, when another person than the approver. */
  requestedBy?: string
  /** Why (free text, shown in the pretrade-breaches report). */
  reason: string
}

export type LimitOverrideResult = { ok: true; eventId: string } | { ok: false; code: 'invalid_limit_override' | 'not_shipped'; message: string }

const FIELDS = new Set(['accountId', 'apiKeyId', 'limitType', 'from', 'to', 'until', 'approvedBy', 'requestedBy', 'reason'])
const LIMIT_TYPE = /^[a-z][a-z0-9_]{0,63}$/
// Control characters would let a value forge lines in logs and CSV exports of the report.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/

function text(v: unknown, name: string, max: number, required: boolean): string | undefined | Error {
  if (v === undefined && !required) return undefined
  if (typeof v !== 'string' || v.trim().length === 0) return new Error(`${name} must be a non-empty string`)
  if (v.length > max) return new Error(`${name} is longer than ${max} characters`)
  if (CONTROL.test(v)) return new Error(`${name} must not contain control characters`)
  return v
}

function limitValue(v: unknown, name: string): string | Error {
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : new Error(`${name} must be a finite number or a string`)
  const s = text(v, name, 256, true)
  return s === undefined ? new Error(`${name} is required`) : s
}

/**
 * Checks a limit override at the edge. The error names the field and the rule, never the
 * value given (it may be anything a caller passed, secrets included).
 */
export function checkLimitOverride(input: unknown, nowMs: number): { ok: true; value: Required<Pick<LimitOverride, 'limitType' | 'approvedBy' | 'reason'>> & { from: string; to: string } & Pick<LimitOverride, 'accountId' | 'apiKeyId' | 'until' | 'requestedBy'> } | { ok: false; message: string } {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return { ok: false, message: 'a limit override must be an object' }
  const o = input as Record<string, unknown>
  const unknown = Object.keys(o).filter((k) => !FIELDS.has(k))
  if (unknown.length > 0) return { ok: false, message: `unknown field(s): ${unknown.slice(0, 5).map((k) => JSON.stringify(k.slice(0, 32))).join(', ')}` }
  const limitType = o.limitType
  if (typeof limitType !== 'string' || !LIMIT_TYPE.test(limitType)) return { ok: false, message: `limitType must be snake_case (1-64 of a-z 0-9 _), e.g. ${KNOWN_LIMIT_TYPES.slice(0, 5).join(', ')}` }
  const checks = {
    accountId: text(o.accountId, 'accountId', 128, false),
    apiKeyId: text(o.apiKeyId, 'apiKeyId', 128, false),
    approvedBy: text(o.approvedBy, 'approvedBy', 128, true),
    requestedBy: text(o.requestedBy, 'requestedBy', 128, false),
    reason: text(o.reason, 'reason', 1024, true),
    from: limitValue(o.from, 'from'),
    to: limitValue(o.to, 'to'),
  }
  for (const v of Object.values(checks)) if (v instanceof Error) return { ok: false, message: v.message }
  let until: string | undefined
  if (o.until !== undefined) {
    if (typeof o.until !== 'string' || !RFC3339.test(o.until) || !Number.isFinite(Date.parse(o.until))) return { ok: false, message: 'until must be an RFC 3339 time, e.g. 2026-11-27T16:00:00Z' }
    if (Date.parse(o.until) <= nowMs) return { ok: false, message: 'until is not in the future' }
    until = new Date(Date.parse(o.until)).toISOString()
  }
  if (checks.from === checks.to) return { ok: false, message: 'from and to are the same: that is not an override' }
  const value = {
    limitType,
    from: checks.from as string,
    to: checks.to as string,
    approvedBy: checks.approvedBy as string,
    reason: checks.reason as string,
    ...(checks.accountId !== undefined ? { accountId: checks.accountId as string } : {}),
    ...(checks.apiKeyId !== undefined ? { apiKeyId: checks.apiKeyId as string } : {}),
    ...(checks.requestedBy !== undefined ? { requestedBy: checks.requestedBy as string } : {}),
    ...(until !== undefined ? { until } : {}),
  }
  return { ok: true, value }
}

/** The `admin.config_change` event of a checked override (`attrs.change = limit_override`). */
export function limitOverrideEvent(v: Extract<ReturnType<typeof checkLimitOverride>, { ok: true }>['value'], nowMs: number): GuardEvent {
  return {
    id: eventId(),
    ts: eventTs(nowMs),
    action: 'admin.config_change',
    outcome: 'success',
    user_id: v.approvedBy,
    ...(v.accountId !== undefined ? { account_id: v.accountId } : {}),
    ...(v.apiKeyId !== undefined ? { api_key_id: v.apiKeyId } : {}),
    attrs: {
      change: 'limit_override',
      limit_type: v.limitType,
      from: v.from,
      to: v.to,
      approved_by: v.approvedBy,
      override_reason: v.reason,
      ...(v.requestedBy !== undefined ? { requested_by: v.requestedBy } : {}),
      ...(v.until !== undefined ? { until: v.until } : {}),
    },
  }
}

/** Checks and ships an override; never throws (it runs in a trading API's request path). */
export function reportLimitOverride(sink: EventSink, input: unknown, nowMs: number): LimitOverrideResult {
  let checked: ReturnType<typeof checkLimitOverride>
  try {
    checked = checkLimitOverride(input, nowMs)
  } catch {
    // A getter or proxy that throws on read: refused like any other bad input.
    return { ok: false, code: 'invalid_limit_override', message: 'a limit override must be a plain object' }
  }
  if (!checked.ok) return { ok: false, code: 'invalid_limit_override', message: checked.message }
  const event = limitOverrideEvent(checked.value, nowMs)
  try {
    sink.emit(event)
  } catch {
    return { ok: false, code: 'not_shipped', message: 'the event sink refused the override event' }
  }
  return { ok: true, eventId: event.id }
}
