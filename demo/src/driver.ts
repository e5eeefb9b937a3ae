/**
 * Drives a plan through a demo API: every request signed as the guard's clients sign
 * (`signRequest`, scheme v1) and sent either with `app.inject` (no socket; `remoteAddress`
 * is the client address the guard sees) or over real HTTP to the listening API (`baseUrl`;
 * the planned client address goes in `X-Forwarded-For`, which the API trusts from loopback
 * only: `trustProxy`). Either way the request passes the guard, and the guard's event is
 * what reaches Vigil.
 *
 * Event time is the guard's: the only changes are made in the sink, between the guard and
 * its shipper, for a request whose plan entry backdates it (`tsShiftMs`, a key's history)
 * and for a source clock offset (clock.skew). The guard has a `now` option, but the demo API
 * does not pass one through, and a shifted clock would also move its timestamp window.
 */
import { createShipper, signRequest, type ControlChange, type EventSink, type GuardEvent, type GuardTlsOptions, type LockoutPolicy, type Shipper } from '@vigil/guard'
import { createDemoApi, type DemoApi, type Order } from './demo-api.js'
import { priceOf, TIER_LIMITS, type SimKey } from './population.js'
import type { Plan, PlannedRequest } from './scenarios.js'

/**
 * Shifts event `ts` by the plan's offsets; passes everything else through unchanged. A
 * backdated request's shift is held per key while it is in flight, so other keys' traffic
 * driven at the same time (the live demo) is not shifted with it.
 */
export class ShiftingSink implements EventSink {
  readonly #byKey = new Map<string, number>()
  constructor(
    private readonly inner: EventSink,
    private readonly clockOffsetMs = 0,
  ) {}
  /** Shift the events of `keyId` by `ms` until `unshift`. */
  shift(keyId: string, ms: number): void {
    this.#byKey.set(keyId, ms)
  }
  unshift(keyId: string, ms: number): void {
    if (this.#byKey.get(keyId) === ms) this.#byKey.delete(keyId)
  }
  emit(event: GuardEvent): void {
    const shift = (event.api_key_id ? (this.#byKey.get(event.api_key_id) ?? 0) : 0) + this.clockOffsetMs
    this.inner.emit(shift === 0 ? event : { ...event, ts: shiftTs(event.ts, shift) })
  }
}

/** RFC 3339 UTC with µs, shifted; keeps the sub-millisecond digits. */
export function shiftTs(ts: string, shiftMs: number): string {
  const m = /^(.*?)(?:\.(\d+))?Z$/.exec(ts)
  if (!m) return ts
  const frac = (m[2] ?? '').padEnd(6, '0').slice(0, 6)
  const ms = Date.parse(`${m[1]}Z`) + Number(frac.slice(0, 3)) + shiftMs
  return `${new Date(ms).toISOString().slice(0, 19)}.${String(((ms % 1000) + 1000) % 1000).padStart(3, '0')}${frac.slice(3)}Z`
}

export interface DriveResult {
  sent: number
  skipped: number
  /** By HTTP status. */
  byStatus: Record<string, number>
  /** By refusal code (`success` for 2xx). */
  byCode: Record<string, number>
  /** By tag (`clean` or the scenario). */
  byTag: Record<string, number>
  elapsedMs: number
}

const FORGED_SECRET = 'this-is-not-the-secret-of-any-key-0123456789'

export interface DriveOptions {
  /** Wait until each request's `at` (a live run). False: as fast as possible (tests). */
  realtime: boolean
  /** Stop early (also ends a wait between requests). */
  signal?: AbortSignal
  /** Send over HTTP to the listening demo API at this base URL. @defaultValue `app.inject` */
  baseUrl?: string
  /** Called with each request's outcome (the live demo counts them). */
  onResult?: (r: PlannedRequest, out: SendResult) => void
}

export interface SendResult {
  status: number
  code: string | undefined
  body: unknown
}

export function registerKeys(api: DemoApi, keys: readonly SimKey[]): void {
  for (const k of keys) {
    api.addKey({ id: k.id, account_id: k.account_id, user_id: k.user_id, tier: k.tier, scopes: k.scopes, ...(k.ip_allowlist ? { ip_allowlist: k.ip_allowlist } : {}) }, k.secret)
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const done = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}

export async function drive(api: DemoApi, plan: Plan, sink: ShiftingSink | undefined, opts: DriveOptions): Promise<DriveResult> {
  const secrets = new Map(plan.keys.map((k) => [k.id, k.secret]))
  const resting = new Map<string, string[]>()
  const res: DriveResult = { sent: 0, skipped: 0, byStatus: {}, byCode: {}, byTag: {}, elapsedMs: 0 }
  const t0 = performance.now()
  const bump = (o: Record<string, number>, k: string) => (o[k] = (o[k] ?? 0) + 1)
  for (const r of plan.requests) {
    if (opts.signal?.aborted) break
    if (opts.realtime) {
      const wait = r.at - (performance.now() - t0)
      if (wait > 0) await sleep(wait, opts.signal)
      if (opts.signal?.aborted) break
    }
    let path = r.path
    if (r.cancelOldest) {
      const id = resting.get(r.keyId)?.shift()
      if (!id) {
        res.skipped++
        continue
      }
      path = `/v1/orders/${id}`
    }
    const out = await send(api, r, path, r.signing === 'own' ? (secrets.get(r.keyId) ?? FORGED_SECRET) : FORGED_SECRET, sink, opts.baseUrl)
    res.sent++
    bump(res.byStatus, String(out.status))
    bump(res.byCode, out.status < 300 ? 'success' : (out.code ?? `http_${out.status}`))
    bump(res.byTag, r.tag)
    opts.onResult?.(r, out)
    if (out.status === 201 && r.path === '/v1/orders' && (out.body as Order).status === 'resting') {
      const list = resting.get(r.keyId) ?? []
      list.push((out.body as Order).id)
      resting.set(r.keyId, list)
    }
  }
  res.elapsedMs = Math.round(performance.now() - t0)
  return res
}

type Wire = Pick<PlannedRequest, 'keyId' | 'ip' | 'userAgent' | 'method' | 'body' | 'tsShiftMs'>

/** Sends one signed request through the guard, by inject or over HTTP. */
export async function send(api: DemoApi, r: Wire, path: string, secret: string, sink?: ShiftingSink, baseUrl?: string): Promise<SendResult> {
  const payload = r.body === undefined ? undefined : JSON.stringify(r.body)
  const headers: Record<string, string> = { ...signRequest({ keyId: r.keyId, secret, method: r.method, path, ...(payload !== undefined ? { body: payload } : {}) }), 'user-agent': r.userAgent }
  if (payload !== undefined) headers['content-type'] = 'application/json'
  const shift = sink && r.tsShiftMs ? r.tsShiftMs : 0
  if (shift) sink!.shift(r.keyId, shift)
  try {
    let status: number
    let text: string
    if (baseUrl) {
      const resp = await fetch(`${baseUrl}${path}`, { method: r.method, headers: { ...headers, 'x-forwarded-for': r.ip }, ...(payload !== undefined ? { body: payload } : {}) })
      status = resp.status
      text = await resp.text()
    } else {
      const resp = await api.app.inject({ method: r.method, url: path, headers, remoteAddress: r.ip, ...(payload !== undefined ? { payload } : {}) })
      status = resp.statusCode
      text = resp.body
    }
    let body: unknown = {}
    try {
      body = text ? JSON.parse(text) : {}
    } catch {
      body = {}
    }
    const code = (body as { error?: { code?: string } }).error?.code
    return { status, code, body }
  } finally {
    if (shift) {
      // The guard emits on response, which over HTTP can run after the client has the answer:
      // give its onResponse hook a moment before the shift is cleared.
      await new Promise((ok) => setTimeout(ok, baseUrl ? 20 : 0))
      sink!.unshift(r.keyId, shift)
    }
  }
}

/** One decision of Vigil's as the demo API saw it arrive, and the guard's answer to a probe right after. */
export interface Enforcement {
  kind: 'revoked_key' | 'kill_switch'
  /** The revoked key, or the key the probe order was sent with. */
  api_key_id: string
  /** The kill-switch, for `kill_switch`. */
  killswitch_id?: string
  /** When Vigil says it decided: `revoked_at` or `tripped_at`. */
  decided_at: string
  /** When the control client applied the delta at the demo API (epoch ms). */
  appliedAtMs: number
  /** When the guard answered the probe (epoch ms). */
  refusedAtMs: number
  /** The probe's answer: 401 `revoked_key` / 403 `kill_switch` when enforced. */
  status: number
  code: string | undefined
}

/**
 * Watches the demo API's control channel and, for each revocation or kill-switch that
 * concerns a key it knows, sends that key's owner's next request at once — a correctly
 * signed read (revocation) or a small limit order (kill-switch) from the key's home address
 * — and records the guard's answer. That answer is the enforcement, measured at the API.
 */
export class EnforcementProbe {
  readonly results: Enforcement[] = []
  readonly #keys = new Map<string, SimKey>()
  readonly #pending = new Set<Promise<void>>()
  #target: { api: DemoApi; baseUrl: string | undefined } | undefined
  #probes = 0

  /** The API to probe (set once it exists; deltas before that are not probed). */
  attach(api: DemoApi, baseUrl?: string): void {
    this.#target = { api, baseUrl }
  }

  addKeys(keys: readonly SimKey[]): void {
    for (const k of keys) this.#keys.set(k.id, k)
  }

  /** The control client's `onChange`. */
  readonly onChange = (change: ControlChange): void => {
    const appliedAtMs = Date.now()
    if (change.type === 'key_revoked') {
      const key = this.#keys.get(change.api_key_id)
      if (key) this.#probe(key, 'revoked_key', change.revoked_at, appliedAtMs)
    } else if (change.type === 'killswitch_tripped') {
      const ks = change.killswitch
      const key = [...this.#keys.values()].find((k) =>
        ks.scope.type === 'api_key' ? k.id === ks.scope.id : ks.scope.type === 'account' ? k.account_id === ks.scope.id : k.scopes.includes('orders:write'),
      )
      if (key) this.#probe(key, 'kill_switch', ks.tripped_at, appliedAtMs, ks.id)
    }
  }

  /** Waits for probes in flight. */
  async settle(): Promise<void> {
    await Promise.all([...this.#pending])
  }

  #probe(key: SimKey, kind: Enforcement['kind'], decidedAt: string, appliedAtMs: number, killswitchId?: string): void {
    const target = this.#target
    if (!target) return
    const wire: Wire =
      kind === 'revoked_key'
        ? { keyId: key.id, ip: key.ip, userAgent: key.userAgent, method: 'GET' }
        : {
            keyId: key.id,
            ip: key.ip,
            userAgent: key.userAgent,
            method: 'POST',
            body: { symbol: key.book[0]!.symbol, side: 'buy', type: 'limit', qty: 1, price: Math.round(priceOf(key.book[0]!.symbol) * 95) / 100, venue: key.book[0]!.venue, currency: key.book[0]!.currency, client_order_id: `probe-${Date.now().toString(36)}-${this.#probes++}` },
          }
    const p = send(target.api, wire, kind === 'revoked_key' ? '/v1/positions' : '/v1/orders', key.secret, undefined, target.baseUrl)
      .then((out) => {
        this.results.push({ kind, api_key_id: key.id, ...(killswitchId ? { killswitch_id: killswitchId } : {}), decided_at: decidedAt, appliedAtMs, refusedAtMs: Date.now(), status: out.status, code: out.code })
      })
      .catch(() => {})
      .finally(() => this.#pending.delete(p))
    this.#pending.add(p)
  }
}

export interface SimApiOptions {
  vigilUrl: string
  source: string
  secret: string
  dataDir: string
  /** Replaces the shipper (tests). */
  sink?: EventSink
  /** Without a Vigil (tests): a control view that revokes nothing. */
  offline?: boolean
  shipper?: Parameters<typeof createDemoApi>[0]['shipper']
  /** Replaces the tier limits (tests that drive faster than real time). */
  limits?: Record<string, { perSecond: number; perDay: number }>
  /** The guard's lockout. @defaultValue the guard's (10 failures lock for 15 min) */
  lockout?: Partial<LockoutPolicy>
  /** Listen on 127.0.0.1 (port 0: any) and trust `X-Forwarded-For` from loopback, for `drive`'s `baseUrl`. */
  listen?: { port: number }
  /** Probe every revocation and kill-switch the control channel brings (quality runs). */
  probe?: EnforcementProbe
  /** Trust (and client certificate) for a Vigil served over TLS with a private certificate. */
  tls?: GuardTlsOptions
}

/** A demo API with the simulator's tier limits, its events going through a `ShiftingSink`. */
export async function createSimApi(plan: Plan, opts: SimApiOptions): Promise<{ api: DemoApi; sink: ShiftingSink; shipper: Shipper | undefined; baseUrl: string | undefined }> {
  const tls = opts.tls ? { tls: opts.tls } : {}
  const shipper = opts.sink ? undefined : createShipper({ vigilUrl: opts.vigilUrl, source: opts.source, secret: opts.secret, dataDir: opts.dataDir, flushMs: 50, ...tls, ...opts.shipper })
  const sink = new ShiftingSink(opts.sink ?? shipper!, plan.sourceClockOffsetMs ?? 0)
  const api = await createDemoApi({
    vigilUrl: opts.vigilUrl,
    source: opts.source,
    secret: opts.secret,
    dataDir: opts.dataDir,
    lostChannelPolicy: 'fail_open',
    limits: opts.limits ?? TIER_LIMITS,
    sink,
    ...(opts.lockout ? { lockout: opts.lockout } : {}),
    ...(opts.listen ? { trustProxy: 'loopback' } : {}),
    ...(opts.probe || opts.tls ? { control: { ...(opts.probe ? { onChange: opts.probe.onChange } : {}), ...tls } } : {}),
    ...(opts.offline ? { controlView: { isRevoked: () => false, killSwitchFor: () => undefined, degraded: () => false, version: () => 1 } } : {}),
  })
  registerKeys(api, plan.keys)
  let baseUrl: string | undefined
  if (opts.listen) baseUrl = await api.app.listen({ host: '127.0.0.1', port: opts.listen.port })
  opts.probe?.addKeys(plan.keys)
  opts.probe?.attach(api, baseUrl)
  await api.start()
  return { api, sink, shipper, baseUrl }
}
