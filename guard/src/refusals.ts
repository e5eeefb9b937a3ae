/**
 * Every refusal a trading API's client can get from the guard, in one registry: the stable
 * `code` of the JSON body (`{"error": {"code", "message"}}`) is the CONTRACT §1 reason the
 * audit event carries, so a client's error and Vigil's record name the same thing.
 *
 * Relied on by: the plugin (plugin.ts) for every refusal, the README's error table, and
 * trading API clients that branch on `error.code`. Add entries; never rename one.
 */
import type { RefusalReason } from './seams.js'

export interface RefusalSpec {
  /** HTTP status the client gets. */
  status: number
  /** Default message; never carries a secret or a request value. */
  message: string
}

export const REFUSALS: Record<RefusalReason, RefusalSpec> = {
  bad_signature: { status: 401, message: 'The request signature is missing or does not match' },
  unknown_key: { status: 401, message: 'The API key is not known' },
  expired_key: { status: 401, message: 'The API key has expired' },
  revoked_key: { status: 401, message: 'The API key has been revoked' },
  locked_out: { status: 429, message: 'Too many failed authentication attempts; try again later' },
  ip_not_allowed: { status: 403, message: 'The client address is not in the API key’s allowlist' },
  scope_denied: { status: 403, message: 'The API key does not hold the scope this operation needs' },
  rate_limited: { status: 429, message: 'Rate limit exceeded; retry after the time given in Retry-After' },
  invalid_request: { status: 400, message: 'The request is malformed' },
  kill_switch: { status: 403, message: 'Order entry is halted by a kill-switch' },
}

/**
 * When a check itself fails (the key store or the control view threw): the client gets this
 * fixed body, never the underlying error's message, and the event says `internal_error`.
 */
export const GUARD_INTERNAL_ERROR = {
  status: 500,
  body: { error: { code: 'internal_error', message: 'The request could not be checked; try again' } },
} as const

/**
 * Finer causes within a reason: they refine the message a client sees and go into the
 * event's `attrs.refusal_detail`, while `code` and `reason` stay the catalogue name.
 */
export const REFUSAL_DETAILS = {
  missing_credentials: { reason: 'bad_signature', message: 'X-Key-Id, X-Timestamp, X-Nonce and X-Signature are required' },
  malformed_credentials: { reason: 'invalid_request', message: 'X-Key-Id, X-Timestamp, X-Nonce or X-Signature is malformed' },
  stale_timestamp: { reason: 'bad_signature', message: 'X-Timestamp is outside the allowed window' },
  replayed_nonce: { reason: 'bad_signature', message: 'X-Nonce was already used' },
  ip_locked_out: { reason: 'locked_out', message: 'Too many failed authentication attempts from this address; try again later' },
  lost_channel: { reason: 'kill_switch', message: 'Order entry is halted while the guard cannot reach Vigil' },
} as const satisfies Record<string, { reason: RefusalReason; message: string }>

export type RefusalDetail = keyof typeof REFUSAL_DETAILS

/** A refusal on its way to the client: status, stable code, message, and an optional Retry-After. */
export class GuardRefusal extends Error {
  readonly reason: RefusalReason
  readonly statusCode: number
  readonly detail: RefusalDetail | undefined
  /** Seconds, for `Retry-After` (rate limits, lockouts). */
  readonly retryAfterS: number | undefined

  constructor(reason: RefusalReason, opts: { detail?: RefusalDetail; retryAfterS?: number } = {}) {
    const message = opts.detail ? REFUSAL_DETAILS[opts.detail].message : REFUSALS[reason].message
    super(message)
    this.name = 'GuardRefusal'
    this.reason = reason
    this.statusCode = REFUSALS[reason].status
    this.detail = opts.detail
    this.retryAfterS = opts.retryAfterS
  }

  /** A refusal of the reason its detail belongs to. */
  static of(detail: RefusalDetail, retryAfterS?: number): GuardRefusal {
    return new GuardRefusal(REFUSAL_DETAILS[detail].reason, { detail, ...(retryAfterS !== undefined ? { retryAfterS } : {}) })
  }

  /** The JSON body the client gets. */
  toBody(): { error: { code: RefusalReason; message: string } } {
    return { error: { code: this.reason, message: this.message } }
  }
}
