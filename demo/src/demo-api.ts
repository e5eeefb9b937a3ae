/**
 * A small demo trading API guarded by `@vigil/guard`: what a trading API team writes, and
 * what the guard ↔ Vigil end-to-end tests drive. Everything is in memory (accounts, an
 * order book, withdrawals); the guard authenticates every `/v1/*` route, ships one event per
 * request to Vigil and follows Vigil's control channel.
 *
 *   GET    /v1/accounts/:id         orders:read      api.request
 *   GET    /v1/positions            orders:read      api.request
 *   GET    /v1/marketdata/:symbol   marketdata:read  api.request
 *   POST   /v1/orders               orders:write     order.new     (kill-switches apply)
 *   DELETE /v1/orders/:id           orders:write     order.cancel
 *   POST   /v1/withdrawals          funds:withdraw   funds.withdraw
 *   POST   /v1/admin/limit-overrides limits:override api.request   (+ admin.config_change, below)
 *
 * When the control client first sees a tripped kill-switch, resting orders in its scope are
 * cancelled (counted in `killSwitchCancels`) and the count is returned to the guard, which
 * reports it to Vigil with the trip. A limit override names its approver and is reported
 * through `app.vigilGuard.reportLimitOverride` (the pretrade-breaches report lists it).
 */
import { randomBytes } from 'node:crypto'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import {
  createControlClient,
  createShipper,
  MemoryKeyStore,
  signRequest,
  vigilGuard,
  type ActiveKillSwitch,
  type ControlClient,
  type ControlClientOptions,
  type ControlView,
  type EventSink,
  type GuardEvent,
  type GuardKey,
  type LimitOverride,
  type LockoutPolicy,
  type LostChannelPolicy,
  type Shipper,
  type ShipperOptions,
  type TierLimits,
  type TradeContext,
} from '@vigil/guard'

export type Side = 'buy' | 'sell'
export type OrderType = 'market' | 'limit' | 'stop' | 'stop_limit'

export interface Order {
  id: string
  client_order_id: string
  account_id: string
  api_key_id: string
  symbol: string
  side: Side
  type: OrderType
  qty: number
  price?: number
  venue: string
  /** Market orders fill at once; the others rest until cancelled. */
  status: 'resting' | 'filled' | 'cancelled'
  created_at: string
  cancelled_by?: string
}

export interface NewOrderBody {
  symbol: string
  side: Side
  type: OrderType
  qty: number
  price?: number
  venue: string
  client_order_id: string
}

export interface DemoApiOptions {
  /** Vigil's base URL (ingest and the control channel). */
  vigilUrl: string
  /** This API's source id at Vigil (`vigil sources add <id>`). */
  source: string
  /** The source's secret. */
  secret: string
  /** The shipper's overflow and dead-letter directory. */
  dataDir: string
  lostChannelPolicy: LostChannelPolicy
  /** @defaultValue one generous tier, `pro` */
  limits?: Record<string, TierLimits>
  lockout?: Partial<LockoutPolicy>
  /** AES-256 key for the key store. @defaultValue random */
  encryptionKey?: Uint8Array
  /** Extra shipper options (backoff, batch size…). */
  shipper?: Partial<Omit<ShipperOptions, 'vigilUrl' | 'source' | 'secret' | 'dataDir'>>
  /** Extra control client options (`onChange`, backoff…); `onKillSwitch` is chained after the demo's own. */
  control?: Partial<Omit<ControlClientOptions, 'vigilUrl' | 'source' | 'secret'>>
  /** Replaces the shipper (unit tests without a Vigil); the shipper handle is then not created. */
  sink?: EventSink
  /** Replaces the control client (unit tests); the control handle is then not created. */
  controlView?: ControlView
  /** The guard plugin's per-refused-order hook. */
  onOrderRefused?: (ks: ActiveKillSwitch, ctx: TradeContext) => void
  logger?: boolean
  /**
   * Fastify's `trustProxy`: which peers may name the client in `X-Forwarded-For` (the guard
   * reads `request.ip`). The simulator's HTTP mode sends from loopback with the planned
   * client address in that header. @defaultValue false
   */
  trustProxy?: boolean | string
}

export interface KillSwitchCancel {
  killSwitch: ActiveKillSwitch
  /** Resting orders this switch cancelled. */
  cancelled: number
  at: number
}

/** A limit override the demo accepted (and reported to Vigil as `event_id`). */
export interface DemoLimitOverride extends LimitOverride {
  event_id: string
}

export interface DemoApi {
  app: FastifyInstance
  keys: MemoryKeyStore
  /** Undefined when `sink` replaced it. */
  shipper: Shipper | undefined
  /** Undefined when `controlView` replaced it. */
  control: ControlClient | undefined
  orders: Map<string, Order>
  withdrawals: Array<{ id: string; account_id: string; amount: number; currency: string; destination: string }>
  /** One entry per kill-switch the control client reported (its `onKillSwitch`). */
  killSwitchCancels: KillSwitchCancel[]
  limitOverrides: DemoLimitOverride[]
  /** Adds an account (if new) and a key on it; returns the secret to sign with. */
  addKey(key: Omit<GuardKey, 'tier'> & { tier?: string }, secret?: string): string
  /** Starts the control client and waits for its first state. */
  start(): Promise<void>
  /** Stops the app, then the control client, then the shipper (delivering for up to `shipperDeadlineMs`). */
  close(shipperDeadlineMs?: number): Promise<void>
}

const SYMBOL = /^[A-Z][A-Z0-9.]{0,11}$/
const MIC = /^[A-Z0-9]{4}$/
const CLIENT_ORDER_ID = /^[A-Za-z0-9._:-]{1,64}$/
const ORDER_TYPES: readonly OrderType[] = ['market', 'limit', 'stop', 'stop_limit']

/** Validates a new order; returns the problem, or the order. */
export function validateOrder(body: unknown): { ok: true; order: NewOrderBody } | { ok: false; message: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { ok: false, message: 'body must be a JSON object' }
  const b = body as Record<string, unknown>
  if (typeof b.symbol !== 'string' || !SYMBOL.test(b.symbol)) return { ok: false, message: 'symbol must be 1-12 upper-case letters, digits or dots' }
  if (b.side !== 'buy' && b.side !== 'sell') return { ok: false, message: 'side must be buy or sell' }
  if (typeof b.type !== 'string' || !(ORDER_TYPES as readonly string[]).includes(b.type)) return { ok: false, message: `type must be one of ${ORDER_TYPES.join(', ')}` }
  if (typeof b.qty !== 'number' || !Number.isFinite(b.qty) || b.qty <= 0 || b.qty > 1e9) return { ok: false, message: 'qty must be a number in (0, 1e9]' }
  const priced = b.type !== 'market'
  if (priced && (typeof b.price !== 'number' || !Number.isFinite(b.price) || b.price <= 0)) return { ok: false, message: `price is required for ${b.type} orders and must be positive` }
  if (!priced && b.price !== undefined) return { ok: false, message: 'market orders take no price' }
  if (typeof b.venue !== 'string' || !MIC.test(b.venue)) return { ok: false, message: 'venue must be a 4-character MIC' }
  if (typeof b.client_order_id !== 'string' || !CLIENT_ORDER_ID.test(b.client_order_id)) return { ok: false, message: 'client_order_id must be 1-64 of A-Z a-z 0-9 . _ : -' }
  const order: NewOrderBody = { symbol: b.symbol, side: b.side, type: b.type as OrderType, qty: b.qty, venue: b.venue, client_order_id: b.client_order_id }
  if (priced) order.price = b.price as number
  return { ok: true, order }
}

/** The order fields for the guard's event and kill-switch scopes (only well-typed ones). */
function orderFields(req: FastifyRequest): GuardEvent['order'] | undefined {
  const b = req.body as Record<string, unknown> | undefined
  if (typeof b !== 'object' || b === null) return undefined
  const out: NonNullable<GuardEvent['order']> = {}
  if (typeof b.client_order_id === 'string') out.client_order_id = b.client_order_id.slice(0, 128)
  if (typeof b.symbol === 'string') out.symbol = b.symbol.slice(0, 32)
  if (b.side === 'buy' || b.side === 'sell') out.side = b.side
  if (typeof b.type === 'string' && (ORDER_TYPES as readonly string[]).includes(b.type)) out.type = b.type as OrderType
  if (typeof b.qty === 'number' && Number.isFinite(b.qty)) out.qty = b.qty
  if (typeof b.price === 'number' && Number.isFinite(b.price)) out.price = b.price
  if (typeof b.venue === 'string') out.venue = b.venue.slice(0, 16)
  if (out.qty !== undefined && out.price !== undefined) out.notional = out.qty * out.price
  // The instrument's currency when the client names it (ISO 4217); the demo's default is USD.
  out.currency = typeof b.currency === 'string' && /^[A-Z]{3}$/.test(b.currency) ? b.currency : 'USD'
  return out
}

/** A deterministic price for a symbol, so market data needs no feed. */
export function referencePrice(symbol: string): number {
  let h = 0
  for (const c of symbol) h = (h * 31 + c.charCodeAt(0)) >>> 0
  return 10 + (h % 49_000) / 100
}

function inScope(ks: ActiveKillSwitch, o: Order, source: string): boolean {
  switch (ks.scope.type) {
    case 'global':
      return true
    case 'source':
      return ks.scope.id === source
    case 'account':
      return o.account_id === ks.scope.id
    case 'api_key':
      return o.api_key_id === ks.scope.id
    case 'symbol':
      return o.symbol === ks.scope.id
    case 'venue':
      return o.venue === ks.scope.id
  }
}

const problem = (reply: FastifyReply, status: number, code: string, message: string) => reply.code(status).send({ error: { code, message } })

export async function createDemoApi(opts: DemoApiOptions): Promise<DemoApi> {
  const orders = new Map<string, Order>()
  const withdrawals: DemoApi['withdrawals'] = []
  const accounts = new Map<string, { id: string; cash: number; tier: string }>()
  const killSwitchCancels: KillSwitchCancel[] = []
  const limitOverrides: DemoLimitOverride[] = []

  const shipper = opts.sink ? undefined : createShipper({ vigilUrl: opts.vigilUrl, source: opts.source, secret: opts.secret, dataDir: opts.dataDir, ...opts.shipper })
  const sink: EventSink = opts.sink ?? shipper!

  function cancelInScope(ks: ActiveKillSwitch): number {
    let cancelled = 0
    for (const o of orders.values()) {
      if (o.status !== 'resting' || !inScope(ks, o, opts.source)) continue
      o.status = 'cancelled'
      o.cancelled_by = `killswitch:${ks.id}`
      cancelled++
    }
    return cancelled
  }

  const userHook = opts.control?.onKillSwitch
  const control = opts.controlView
    ? undefined
    : createControlClient({
        vigilUrl: opts.vigilUrl,
        source: opts.source,
        secret: opts.secret,
        sink,
        ...opts.control,
        // The count goes back to the guard, which reports it to Vigil with the trip.
        onKillSwitch: async (ks) => {
          const cancelled = cancelInScope(ks)
          killSwitchCancels.push({ killSwitch: ks, cancelled, at: Date.now() })
          await userHook?.(ks)
          return cancelled
        },
      })
  const controlView: ControlView = opts.controlView ?? control!

  const keys = new MemoryKeyStore({ encryptionKey: opts.encryptionKey ?? randomBytes(32), sink })
  const app = Fastify({ logger: opts.logger ?? false, trustProxy: opts.trustProxy ?? false })
  await app.register(vigilGuard, {
    keys,
    sink,
    control: controlView,
    source: opts.source,
    limits: opts.limits ?? { pro: { perSecond: 1000, perDay: 10_000_000 } },
    ...(opts.lockout ? { lockout: opts.lockout } : {}),
    lostChannelPolicy: opts.lostChannelPolicy,
    ...(opts.onOrderRefused ? { onKillSwitch: opts.onOrderRefused } : {}),
  })

  const accountOf = (req: FastifyRequest) => req.guard!.key!.account_id

  app.get('/health', async () => ({ ok: true }))

  app.get<{ Params: { id: string } }>('/v1/accounts/:id', { config: { guard: { scope: 'orders:read', action: 'api.request' } } }, async (req, reply) => {
    if (req.params.id !== accountOf(req)) return problem(reply, 403, 'forbidden', 'this key does not belong to that account')
    const acc = accounts.get(req.params.id)!
    const open = [...orders.values()].filter((o) => o.account_id === acc.id && o.status === 'resting').length
    return { id: acc.id, tier: acc.tier, cash: acc.cash, open_orders: open }
  })

  app.get('/v1/positions', { config: { guard: { scope: 'orders:read' } } }, async (req) => {
    const account = accountOf(req)
    const pos = new Map<string, number>()
    for (const o of orders.values()) {
      if (o.account_id !== account || o.status !== 'filled') continue
      pos.set(o.symbol, (pos.get(o.symbol) ?? 0) + (o.side === 'buy' ? o.qty : -o.qty))
    }
    return { account_id: account, items: [...pos].map(([symbol, qty]) => ({ symbol, qty })) }
  })

  app.get<{ Params: { symbol: string } }>('/v1/marketdata/:symbol', { config: { guard: { scope: 'marketdata:read' } } }, async (req, reply) => {
    const symbol = req.params.symbol
    if (!SYMBOL.test(symbol)) return problem(reply, 400, 'invalid_request', 'unknown symbol')
    const mid = referencePrice(symbol)
    return { symbol, bid: Math.round((mid - 0.01) * 100) / 100, ask: Math.round((mid + 0.01) * 100) / 100, ts: new Date().toISOString() }
  })

  app.post('/v1/orders', { config: { guard: { scope: 'orders:write', action: 'order.new', order: orderFields } } }, async (req, reply) => {
    const v = validateOrder(req.body)
    if (!v.ok) return problem(reply, 422, 'invalid_request', v.message)
    const account = accountOf(req)
    for (const o of orders.values()) {
      if (o.account_id === account && o.client_order_id === v.order.client_order_id) return problem(reply, 409, 'duplicate_order', 'client_order_id already used')
    }
    const order: Order = {
      id: `ord_${randomBytes(8).toString('hex')}`,
      ...v.order,
      account_id: account,
      api_key_id: req.guard!.key!.id,
      status: v.order.type === 'market' ? 'filled' : 'resting',
      created_at: new Date().toISOString(),
    }
    orders.set(order.id, order)
    req.guard!.annotate({ order: { id: order.id } })
    return reply.code(201).send(order)
  })

  app.delete<{ Params: { id: string } }>('/v1/orders/:id', { config: { guard: { scope: 'orders:write', action: 'order.cancel' } } }, async (req, reply) => {
    const o = orders.get(req.params.id)
    if (!o || o.account_id !== accountOf(req)) return problem(reply, 404, 'not_found', 'no such order')
    req.guard!.annotate({ order: { id: o.id, client_order_id: o.client_order_id, symbol: o.symbol, venue: o.venue } })
    if (o.status !== 'resting') return problem(reply, 409, 'not_resting', `order is ${o.status}`)
    o.status = 'cancelled'
    o.cancelled_by = 'client'
    return o
  })

  app.post('/v1/withdrawals', { config: { guard: { scope: 'funds:withdraw', action: 'funds.withdraw' } } }, async (req, reply) => {
    const b = req.body as Record<string, unknown> | undefined
    if (typeof b !== 'object' || b === null) return problem(reply, 422, 'invalid_request', 'body must be a JSON object')
    if (typeof b.amount !== 'number' || !(b.amount > 0)) return problem(reply, 422, 'invalid_request', 'amount must be positive')
    if (typeof b.currency !== 'string' || !/^[A-Z]{3}$/.test(b.currency)) return problem(reply, 422, 'invalid_request', 'currency must be ISO 4217')
    if (typeof b.destination !== 'string' || b.destination.length === 0 || b.destination.length > 64) return problem(reply, 422, 'invalid_request', 'destination is required')
    const acc = accounts.get(accountOf(req))!
    if (b.amount > acc.cash) {
      req.guard!.annotate({ reason: 'risk_rejected' })
      return problem(reply, 422, 'insufficient_funds', 'amount exceeds available cash')
    }
    acc.cash -= b.amount
    const w = { id: `wd_${randomBytes(8).toString('hex')}`, account_id: acc.id, amount: b.amount, currency: b.currency, destination: b.destination }
    withdrawals.push(w)
    req.guard!.annotate({ attrs: { withdrawal_id: w.id, amount: String(w.amount), currency: w.currency } })
    return reply.code(202).send({ ...w, status: 'pending' })
  })

  // A risk officer's override of a pre-trade limit, approved by a named person. The request is
  // an ordinary api.request; the override itself is the admin.config_change the guard ships.
  const OVERRIDE_FIELDS: Record<string, keyof LimitOverride> = {
    account_id: 'accountId',
    api_key_id: 'apiKeyId',
    limit_type: 'limitType',
    from: 'from',
    to: 'to',
    until: 'until',
    approved_by: 'approvedBy',
    reason: 'reason',
  }
  app.post('/v1/admin/limit-overrides', { config: { guard: { scope: 'limits:override' } } }, async (req, reply) => {
    const b = req.body
    if (typeof b !== 'object' || b === null || Array.isArray(b)) return problem(reply, 422, 'invalid_request', 'body must be a JSON object')
    // Unknown body fields pass through under their own name, so the guard refuses them by name.
    const input: Record<string, unknown> = Object.fromEntries(Object.entries(b as Record<string, unknown>).map(([k, v]) => [OVERRIDE_FIELDS[k] ?? k, v]))
    const user = req.guard!.key!.user_id
    if (user !== undefined && input.requestedBy === undefined) input.requestedBy = user
    const result = app.vigilGuard.reportLimitOverride(input)
    if (!result.ok) return problem(reply, result.code === 'invalid_limit_override' ? 422 : 503, result.code, result.message)
    limitOverrides.push({ ...(input as unknown as LimitOverride), event_id: result.eventId })
    req.guard!.annotate({ attrs: { limit_override_event: result.eventId } })
    return reply.code(201).send({ event_id: result.eventId })
  })

  return {
    app,
    keys,
    shipper,
    control,
    orders,
    withdrawals,
    killSwitchCancels,
    limitOverrides,
    addKey(key, secret = randomBytes(32).toString('base64url')) {
      const tier = key.tier ?? 'pro'
      if (!accounts.has(key.account_id)) accounts.set(key.account_id, { id: key.account_id, cash: 1_000_000, tier })
      keys.add({ ...key, tier }, secret)
      return secret
    },
    async start() {
      if (!control) return
      control.start()
      await control.ready()
    },
    async close(shipperDeadlineMs = 5_000) {
      await app.close()
      await control?.close()
      await shipper?.close(shipperDeadlineMs)
    },
  }
}

/** What a client of the demo API gets back. */
export interface DemoResponse<T = Record<string, unknown>> {
  status: number
  body: T
}

export interface DemoClient {
  request<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<DemoResponse<T>>
}

/**
 * A client that signs every request with `signRequest` (scheme v1). `target` is the app
 * (requests go through `app.inject`, no socket) or a base URL (real HTTP).
 */
export function demoClient(target: FastifyInstance | string, keyId: string, secret: string): DemoClient {
  return {
    async request<T>(method: string, path: string, body?: unknown): Promise<DemoResponse<T>> {
      const payload = body === undefined ? undefined : JSON.stringify(body)
      const headers: Record<string, string> = { ...signRequest({ keyId, secret, method, path, ...(payload !== undefined ? { body: payload } : {}) }) }
      if (payload !== undefined) headers['content-type'] = 'application/json'
      if (typeof target === 'string') {
        const res = await fetch(`${target}${path}`, { method, headers, ...(payload !== undefined ? { body: payload } : {}) })
        const text = await res.text()
        return { status: res.status, body: (text ? JSON.parse(text) : {}) as T }
      }
      const res = await target.inject({ method: method as 'GET', url: path, headers, ...(payload !== undefined ? { payload } : {}) })
      return { status: res.statusCode, body: (res.body ? JSON.parse(res.body) : {}) as T }
    },
  }
}
