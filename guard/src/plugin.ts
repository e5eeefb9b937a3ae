/**
 * `vigilGuard`, the fastify plugin a trading API registers in front of its routes. A route
 * opts in with `config: { guard: { scope } }`; every guarded request is authenticated,
 * authorised, rate-limited and checked against Vigil's decisions, and produces exactly one
 * CONTRACT §1 event, whether it succeeded or was refused. Routes without `guard` config
 * (health checks, 404s) are left alone and produce no event.
 *
 * The checks run in this order, each refusing with its CONTRACT §1 reason:
 *
 *   onRequest (before the body is read — an unauthenticated caller costs no body parsing)
 *    1. signing headers present and well-formed   bad_signature / invalid_request
 *    2. client address not locked out             locked_out (429, Retry-After)
 *    3. key known                                 unknown_key  (counts a failure for the address)
 *    4. key not locked out                        locked_out   (before the signature: a locked
 *                                                               key cannot be brute-forced)
 *    5. key not expired                           expired_key
 *   preValidation (the body has been read and hashed; before schema validation, so an
 *   unauthenticated caller learns nothing about the route's schema)
 *    6. signature, constant time, any of the key's secrets   bad_signature (counts a failure
 *                                                            for the key; a success clears them)
 *    7. timestamp within the window               bad_signature (stale_timestamp)
 *    8. nonce unused (stored only now that the signature holds, so forgers cannot fill the cache)
 *                                                 bad_signature (replayed_nonce)
 *    9. client address in the key's allowlist     ip_not_allowed (after the signature: the
 *                                                 allowlist is not revealed to forgers)
 *   10. key not revoked by Vigil                  revoked_key
 *   11. key holds the route's scope               scope_denied
 *   12. rate limit (only requests that got this far spend the key's budget, so forged or
 *       unauthorised requests cannot exhaust a legitimate client's limit)   rate_limited
 *   13. order entry (`order.new`, `order.replace`) not under a kill-switch, and not while the
 *       control channel is lost under `fail_closed`                        kill_switch
 */
import { Transform } from 'node:stream'
import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Redis } from 'ioredis'
import { ipAllowed, parseCidr, type Cidr } from './cidr.js'
import { reportLimitOverride, type LimitOverrideResult } from './enforcement-events.js'
import { eventId, eventTs, preciseNow } from './event-fields.js'
import { DEFAULT_LOCKOUT, MemoryLockout, RedisLockout, type Lockout, type LockoutPolicy } from './lockout.js'
import { MemoryNonceCache, RedisNonceCache, type NonceCache } from './nonce-cache.js'
import { MemoryRateLimiter, RedisRateLimiter, type RateLimiter, type TierLimits } from './rate-limit.js'
import { withMemoryFallback } from './redis-fallback.js'
import { GUARD_INTERNAL_ERROR, GuardRefusal } from './refusals.js'
import { buildRequestEvent, type EventAnnotation, type RequestState } from './request-event.js'
import { canonicalString, EMPTY_BODY_SHA256, parseSignedHeaders, verifySignature } from './request-signing.js'
import type { ActiveKillSwitch, ControlView, EventSink, GuardEvent, GuardKey, KeyStore, TradeContext } from './seams.js'

/** Per-route guard settings: `fastify.post('/v1/orders', { config: { guard: {...} } }, handler)`. */
export interface GuardRouteConfig {
  /** The scope a key must hold, e.g. `orders:write`. */
  scope: string
  /** The CONTRACT §1 action of this route's events. @defaultValue 'api.request' */
  action?: string
  /**
   * The order fields of the request, for the event and for kill-switch scopes (`symbol`,
   * `venue`). Called after authentication, with the parsed body; a throw is logged and ignored.
   */
  order?: (request: FastifyRequest) => GuardEvent['order'] | undefined
}

/** What a handler sees of the guard on its request. */
export interface GuardRequestContext {
  /** The authenticated key (set once the signature has been verified). */
  readonly key: GuardKey | undefined
  /** Adds to this request's event: a reason such as `risk_rejected`, the order id the handler assigned, attrs. */
  annotate(extra: EventAnnotation): void
}

/** What the trading API reaches through `app.vigilGuard`, outside any one request. */
export interface GuardInstanceApi {
  /**
   * Reports that a person overrode a pre-trade limit (`LimitOverride` in enforcement-events.ts):
   * checked, then shipped as an `admin.config_change` event with `attrs.change = limit_override`.
   * Never throws: bad input answers `{ ok: false, code: 'invalid_limit_override', message }`
   * naming the field, so a caller in a request path can answer 400 with it.
   */
  reportLimitOverride(override: unknown): LimitOverrideResult
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Present once `vigilGuard` is registered. */
    vigilGuard: GuardInstanceApi
  }
  interface FastifyContextConfig {
    guard?: GuardRouteConfig
  }
  interface FastifyRequest {
    /** Present on guarded routes only. */
    guard: GuardRequestContext | null
  }
}

export type LostChannelPolicy = 'fail_open' | 'fail_closed'

export interface VigilGuardOptions {
  /** Where keys and their secrets are looked up. */
  keys: KeyStore
  /** Where the one event per request (and lifecycle events) go; must return at once. */
  sink: EventSink
  /** Vigil's decisions (revoked keys, kill-switches). Absent: none are enforced. */
  control?: ControlView
  /** This trading API's source id at Vigil (kill-switch scope `source`). */
  source: string
  /** Shared state for several instances (rate limits, lockouts, nonces). Absent: in memory, per instance. */
  redis?: Redis
  /** Prefix of every Redis key the guard writes. @defaultValue 'vigil-guard:' */
  redisPrefix?: string
  /** A Redis call slower than this is answered from memory instead. @defaultValue 250 */
  redisTimeoutMs?: number
  /** Rate limits by account tier; a key whose tier is not listed gets the strictest tier's limits. */
  limits: Record<string, TierLimits>
  /** @defaultValue {maxFailures: 10, windowMs: 300000, lockMs: 900000} */
  lockout?: Partial<LockoutPolicy>
  /**
   * When the control view is degraded (channel lost past its grace): `fail_open` lets order
   * entry through on the last known state, `fail_closed` refuses it with `kill_switch`.
   * Revocations last known are enforced either way.
   */
  lostChannelPolicy: LostChannelPolicy
  /** Called when an order is refused by a kill-switch (or the lost-channel policy); a throw is logged. */
  onKillSwitch?: (killSwitch: ActiveKillSwitch, ctx: TradeContext) => void
  /** Accepted clock difference for `X-Timestamp`, either way. @defaultValue 300 */
  timestampWindowS?: number
  /** Clock, epoch ms. @defaultValue performance.timeOrigin + performance.now() */
  now?: () => number
}

const ORDER_ENTRY = new Set(['order.new', 'order.replace'])
const STATE = Symbol('vigilGuardState')
type WithState = FastifyRequest & { [STATE]?: RequestState }

/** The kill-switch a refusal under `fail_closed` reports, since no real one is known. */
export const LOST_CHANNEL_KILL_SWITCH: ActiveKillSwitch = Object.freeze({
  id: 'lost-channel',
  scope: Object.freeze({ type: 'global' as const, id: '*' }),
  tripped_at: '1970-01-01T00:00:00.000Z',
  reason: 'control channel to Vigil lost (fail_closed)',
})

function checkOptions(opts: VigilGuardOptions): void {
  if (!opts || typeof opts !== 'object') throw new Error('vigilGuard: options are required')
  for (const name of ['keys', 'sink', 'source', 'limits', 'lostChannelPolicy'] as const) {
    if (opts[name] === undefined) throw new Error(`vigilGuard: option ${name} is required`)
  }
  if (opts.lostChannelPolicy !== 'fail_open' && opts.lostChannelPolicy !== 'fail_closed') {
    throw new Error("vigilGuard: lostChannelPolicy must be 'fail_open' or 'fail_closed'")
  }
  const tiers = Object.entries(opts.limits)
  if (tiers.length === 0) throw new Error('vigilGuard: limits needs at least one tier')
  for (const [tier, l] of tiers) {
    if (!(Number.isInteger(l.perSecond) && l.perSecond > 0 && Number.isInteger(l.perDay) && l.perDay > 0)) {
      throw new Error(`vigilGuard: limits.${tier} needs positive integer perSecond and perDay`)
    }
  }
  if (opts.timestampWindowS !== undefined && !(opts.timestampWindowS > 0)) throw new Error('vigilGuard: timestampWindowS must be positive')
}

function strictest(limits: Record<string, TierLimits>): TierLimits {
  const all = Object.values(limits)
  return { perSecond: Math.min(...all.map((l) => l.perSecond)), perDay: Math.min(...all.map((l) => l.perDay)) }
}

const guardPlugin: FastifyPluginAsync<VigilGuardOptions> = async (app: FastifyInstance, opts: VigilGuardOptions) => {
  checkOptions(opts)
  const now = opts.now ?? preciseNow
  const windowS = opts.timestampWindowS ?? 300
  const policy: LockoutPolicy = { ...DEFAULT_LOCKOUT, ...opts.lockout }
  const fallbackLimits = strictest(opts.limits)
  const memoryNow = () => now()

  let lastRedisWarning = 0
  const onRedisError = (err: unknown) => {
    const t = Date.now()
    if (t - lastRedisWarning < 60_000) return
    lastRedisWarning = t
    app.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'vigil-guard: Redis failed; limits, lockouts and replay checks hold per instance until it answers')
  }
  let nonces: NonceCache = new MemoryNonceCache({ now: memoryNow })
  let limiter: RateLimiter = new MemoryRateLimiter()
  let lockout: Lockout = new MemoryLockout(policy)
  if (opts.redis) {
    const prefix = opts.redisPrefix ?? 'vigil-guard:'
    const fb = { timeoutMs: opts.redisTimeoutMs ?? 250, onError: onRedisError }
    nonces = withMemoryFallback<NonceCache>(new RedisNonceCache({ redis: opts.redis, prefix }), nonces, fb)
    limiter = withMemoryFallback<RateLimiter>(new RedisRateLimiter({ redis: opts.redis, prefix }), limiter, fb)
    lockout = withMemoryFallback<Lockout>(new RedisLockout({ redis: opts.redis, prefix, policy }), lockout, fb)
  }
  const allowlists = new Map<string, { source: string; cidrs: Cidr[] }>()
  function allowlistOf(key: GuardKey): Cidr[] | undefined {
    if (!key.ip_allowlist || key.ip_allowlist.length === 0) return undefined
    const text = key.ip_allowlist.join(',')
    const cached = allowlists.get(key.id)
    if (cached?.source === text) return cached.cidrs
    // A stored entry that does not parse matches nothing: fail closed rather than open.
    const cidrs = key.ip_allowlist.flatMap((c) => {
      try {
        return [parseCidr(c)]
      } catch {
        app.log.warn({ api_key_id: key.id }, 'vigil-guard: ignoring an allowlist entry that is not a CIDR')
        return []
      }
    })
    allowlists.set(key.id, { source: text, cidrs })
    return cidrs
  }

  function emit(event: GuardEvent): void {
    try {
      opts.sink.emit(event)
    } catch (err) {
      app.log.error({ err: err instanceof Error ? err.message : String(err) }, 'vigil-guard: the event sink threw; event dropped')
    }
  }

  async function recordFailure(subject: string, st: RequestState, request: FastifyRequest): Promise<void> {
    const { lockedNow } = await lockout.recordFailure(subject, now())
    if (!lockedNow) return
    const byKey = subject.startsWith('key:')
    emit({
      id: eventId(),
      ts: eventTs(now()),
      action: 'auth.lockout',
      // A refusal state, not a success: detectors read any success on a key as the key
      // being used (auth.success_after_failures would fire on every lockout otherwise).
      outcome: 'denied',
      reason: 'locked_out',
      ...(byKey && st.key ? { api_key_id: st.key.id, account_id: st.key.account_id } : {}),
      ...(!byKey && st.claimedKeyId ? { api_key_id: st.claimedKeyId } : {}),
      client_ip: request.ip,
      attrs: {
        locked: byKey ? 'api_key' : 'client_ip',
        max_failures: String(policy.maxFailures),
        window_ms: String(policy.windowMs),
        lock_ms: String(policy.lockMs),
      },
    })
  }

  function refuse(reply: FastifyReply, st: RequestState, refusal: GuardRefusal, attrs: Record<string, string> = {}): FastifyReply {
    st.refusal = refusal
    st.refusalAttrs = { ...(refusal.detail ? { refusal_detail: refusal.detail } : {}), ...attrs }
    if (refusal.retryAfterS !== undefined) void reply.header('retry-after', String(refusal.retryAfterS))
    return reply.code(refusal.statusCode).send(refusal.toBody())
  }

  app.decorateRequest('guard', null)
  const api: GuardInstanceApi = { reportLimitOverride: (override) => reportLimitOverride(opts.sink, override, now()) }
  app.decorate('vigilGuard', api)

  // A check that throws (key store, control view, onKillSwitch aside) answers a fixed 500: the
  // client never sees the underlying message, which may name the trading API's internals.
  async function failClosed(request: FastifyRequest, reply: FastifyReply, check: () => Promise<unknown>): Promise<unknown> {
    try {
      return await check()
    } catch (err) {
      request.log.error({ err }, 'vigil-guard: a check failed; request refused with 500')
      return reply.code(GUARD_INTERNAL_ERROR.status).send(GUARD_INTERNAL_ERROR.body)
    }
  }

  app.addHook('onRequest', async (request: WithState, reply) => {
    if (!request.routeOptions.config.guard) return
    return failClosed(request, reply, () => authenticateHeaders(request, reply))
  })

  async function authenticateHeaders(request: WithState, reply: FastifyReply): Promise<unknown> {
    const route = request.routeOptions.config.guard
    if (!route) return
    const st: RequestState = {
      action: route.action ?? 'api.request',
      startMs: now(),
      startPerf: performance.now(),
      claimedKeyId: undefined,
      key: undefined,
      refusal: undefined,
      refusalAttrs: {},
      bodySha256: undefined,
      bytesIn: undefined,
      order: undefined,
      annotation: {},
      emitted: false,
    }
    request[STATE] = st
    // A client that goes away before the response is sent gets no onResponse (and, for a
    // request without a body, no onRequestAbort either): the response's close is the one
    // signal every such case shares.
    reply.raw.once('close', () => {
      if (st.emitted || reply.raw.writableFinished) return
      st.emitted = true
      emit(buildRequestEvent(request, undefined, st))
    })
    request.guard = {
      get key() {
        return st.refusal ? undefined : st.key
      },
      annotate(extra) {
        st.annotation = { ...st.annotation, ...extra, attrs: { ...st.annotation.attrs, ...extra.attrs } }
      },
    }

    const parsed = parseSignedHeaders(request.headers)
    if (!parsed.ok) return refuse(reply, st, GuardRefusal.of(parsed.problem === 'missing' ? 'missing_credentials' : 'malformed_credentials'))
    const h = parsed.value
    st.claimedKeyId = h.keyId
    const t = now()
    const [ipLockMs, keyLockMs, key] = await Promise.all([lockout.lockedFor(`ip:${request.ip}`, t), lockout.lockedFor(`key:${h.keyId}`, t), opts.keys.get(h.keyId)])
    if (ipLockMs > 0) return refuse(reply, st, GuardRefusal.of('ip_locked_out', Math.ceil(ipLockMs / 1000)))
    if (!key) {
      await recordFailure(`ip:${request.ip}`, st, request)
      return refuse(reply, st, new GuardRefusal('unknown_key'))
    }
    st.key = key
    if (keyLockMs > 0) return refuse(reply, st, new GuardRefusal('locked_out', { retryAfterS: Math.ceil(keyLockMs / 1000) }))
    if (key.expires_at !== undefined && !(Date.parse(key.expires_at) > t)) return refuse(reply, st, new GuardRefusal('expired_key'))
  }

  // Hash the body bytes exactly as they arrive, on their way to the content-type parser.
  app.addHook('preParsing', async (request: WithState, _reply, payload) => {
    const st = request[STATE]
    if (!st || st.refusal) return payload
    const hash = createHash('sha256')
    let bytes = 0
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk)
        bytes += chunk.length
        cb(null, chunk)
      },
      flush(cb) {
        st.bodySha256 = hash.digest('hex')
        st.bytesIn = bytes
        cb()
      },
    })
    payload.on('error', (err) => tap.destroy(err))
    return payload.pipe(tap)
  })

  app.addHook('preValidation', async (request: WithState, reply) => {
    if (!request[STATE]) return
    return failClosed(request, reply, () => authorise(request, reply))
  })

  async function authorise(request: WithState, reply: FastifyReply): Promise<unknown> {
    const st = request[STATE]
    const route = request.routeOptions.config.guard
    if (!st || !route || st.refusal || !st.key) return
    const key = st.key
    const parsed = parseSignedHeaders(request.headers)
    if (!parsed.ok) return refuse(reply, st, GuardRefusal.of('malformed_credentials'))
    const h = parsed.value

    const canonical = canonicalString({ method: request.method, path: request.url, timestamp: h.timestampRaw, nonce: h.nonce, bodySha256: st.bodySha256 ?? EMPTY_BODY_SHA256 })
    if (!verifySignature(await opts.keys.secretsFor(key.id), canonical, h.signatureHex)) {
      await recordFailure(`key:${key.id}`, st, request)
      return refuse(reply, st, new GuardRefusal('bad_signature'))
    }
    await lockout.clear(`key:${key.id}`)
    const t = now()
    if (Math.abs(t / 1000 - h.timestamp) > windowS) return refuse(reply, st, GuardRefusal.of('stale_timestamp'))
    if (!(await nonces.claim(key.id, h.nonce, 2 * windowS * 1000))) return refuse(reply, st, GuardRefusal.of('replayed_nonce'))

    const cidrs = allowlistOf(key)
    if (cidrs && !ipAllowed(cidrs, request.ip)) return refuse(reply, st, new GuardRefusal('ip_not_allowed'))
    if (opts.control?.isRevoked(key.id)) return refuse(reply, st, new GuardRefusal('revoked_key'))
    if (!key.scopes.includes(route.scope)) return refuse(reply, st, new GuardRefusal('scope_denied'), { required_scope: route.scope })

    const decision = await limiter.consume(key.id, opts.limits[key.tier] ?? fallbackLimits, t)
    if (!decision.allowed) return refuse(reply, st, new GuardRefusal('rate_limited', { retryAfterS: decision.retryAfterS }), { rate_window: decision.window, tier: key.tier })

    if (route.order) {
      try {
        st.order = route.order(request)
      } catch (err) {
        request.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'vigil-guard: the route order() threw; the event has no order fields')
      }
    }
    if (ORDER_ENTRY.has(st.action) && opts.control) {
      const ctx: TradeContext = {
        source: opts.source,
        account_id: key.account_id,
        api_key_id: key.id,
        ...(st.order?.symbol !== undefined ? { symbol: st.order.symbol } : {}),
        ...(st.order?.venue !== undefined ? { venue: st.order.venue } : {}),
      }
      let ks = opts.control.killSwitchFor(ctx)
      let lost = false
      if (!ks && opts.lostChannelPolicy === 'fail_closed' && opts.control.degraded()) {
        ks = LOST_CHANNEL_KILL_SWITCH
        lost = true
      }
      if (ks) {
        try {
          opts.onKillSwitch?.(ks, ctx)
        } catch (err) {
          request.log.error({ err: err instanceof Error ? err.message : String(err) }, 'vigil-guard: onKillSwitch threw')
        }
        const refusal = lost ? GuardRefusal.of('lost_channel') : new GuardRefusal('kill_switch')
        return refuse(reply, st, refusal, { kill_switch_id: ks.id, kill_switch_scope: `${ks.scope.type}:${ks.scope.id}` })
      }
    }
  }

  app.addHook('onResponse', async (request: WithState, reply) => {
    const st = request[STATE]
    if (!st || st.emitted) return
    st.emitted = true
    emit(buildRequestEvent(request, reply, st))
  })

}

/** The guard plugin; register it before the routes it guards (and before other preParsing hooks). */
export const vigilGuard = fp(guardPlugin, { fastify: '5.x', name: '@vigil/guard' })
