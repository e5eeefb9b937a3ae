/**
 * The seams inside `@vigil/guard`, the package a trading API installs. Two halves meet
 * here: the request side (authentication, scopes, IP allowlists, rate limits, lockout —
 * the plugin) and the Vigil side (shipping one audit event per request, and following
 * Vigil's control channel to refuse revoked keys and orders under a kill-switch).
 *
 * Relied on by: the plugin (plugin.ts), the shipper (shipper.ts), the control client
 * (control-client.ts) and trading API teams through index.ts. The event shape is CONTRACT
 * §1; the guard does not depend on `@vigil/core` (that would pull the embedded database
 * into every trading API), so the shape is restated here and checked against core's
 * schema by a cross-package test.
 */

/** One audit event (CONTRACT §1) as the guard emits it. */
export interface GuardEvent {
  id: string
  /** RFC 3339 UTC with µs. */
  ts: string
  action: string
  outcome: 'success' | 'failure' | 'denied' | 'error'
  reason?: string
  api_key_id?: string
  account_id?: string
  user_id?: string
  session_id?: string
  client_ip?: string
  user_agent?: string
  scopes?: string[]
  http?: { method: string; path: string; status: number; latency_ms: number; bytes_in?: number; bytes_out?: number; request_id?: string }
  tls?: { version?: string; cipher?: string; client_cert_fingerprint?: string }
  order?: {
    id?: string
    client_order_id?: string
    symbol?: string
    side?: 'buy' | 'sell'
    type?: 'market' | 'limit' | 'stop' | 'stop_limit'
    qty?: number
    price?: number
    notional?: number
    currency?: string
    venue?: string
    tif?: string
  }
  attrs?: Record<string, string>
}

/** Why the guard refused a request: CONTRACT §1's reason catalogue, the part the guard decides. */
export type RefusalReason =
  | 'bad_signature'
  | 'unknown_key'
  | 'expired_key'
  | 'revoked_key'
  | 'locked_out'
  | 'ip_not_allowed'
  | 'scope_denied'
  | 'rate_limited'
  | 'invalid_request'
  | 'kill_switch'

/** Where events go. The shipper is the real one; it must never block or fail a request. */
export interface EventSink {
  /** Takes the event and returns at once, whatever state Vigil is in. */
  emit(event: GuardEvent): void
}

/** Kill-switch scope types (CONTRACT §3). */
export type KillSwitchScopeType = 'global' | 'source' | 'account' | 'api_key' | 'symbol' | 'venue'

/** What a request touches, to match kill-switch scopes against. */
export interface TradeContext {
  source: string
  account_id?: string
  api_key_id?: string
  symbol?: string
  venue?: string
}

export interface ActiveKillSwitch {
  id: string
  scope: { type: KillSwitchScopeType; id: string }
  tripped_at: string
  reason: string
}

/**
 * What Vigil has decided, as the guard currently knows it (control-client.ts keeps it from
 * the SSE stream, polling `GET /v1/control/state` as a fallback).
 */
export interface ControlView {
  /** True when Vigil has revoked this key (as last known; see `degraded`). */
  isRevoked(apiKeyId: string): boolean
  /** The first tripped kill-switch whose scope covers this request, if any. */
  killSwitchFor(ctx: TradeContext): ActiveKillSwitch | undefined
  /**
   * True when the channel has been lost for longer than the configured grace: the plugin
   * then applies the lost-channel policy (`fail_open` lets requests through as last known,
   * `fail_closed` refuses order entry with `kill_switch`).
   */
  degraded(): boolean
  /** The control version last applied; 0 before the first state. */
  version(): number
}

/** A key as the trading API registers it with the guard. The secret itself is never kept. */
export interface GuardKey {
  id: string
  account_id: string
  user_id?: string
  /** Operations the key may use, e.g. `orders:read`, `orders:write`, `funds:withdraw`. */
  scopes: string[]
  /** CIDRs (IPv4 or IPv6); empty or absent: any address. */
  ip_allowlist?: string[]
  /** RFC 3339; absent: no expiry. */
  expires_at?: string
  /** Rate-limit tier of the account, e.g. `retail`, `pro`, `institutional`. */
  tier: string
}

/**
 * Where the guard finds keys and their signing secrets. Secrets are held encrypted (or
 * derived) by the store and handed over only to verify a signature, never logged.
 * During rotation a key has two valid secrets until the overlap ends.
 */
export interface KeyStore {
  get(keyId: string): Promise<GuardKey | undefined>
  /** The secrets a signature by this key may be made with, newest first. */
  secretsFor(keyId: string): Promise<readonly string[]>
}
