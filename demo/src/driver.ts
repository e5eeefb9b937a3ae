/**
 * Drives a plan through a demo API in this process: every request signed as the guard's
 * clients sign (`signRequest`, scheme v1) and sent with `app.inject`, whose `remoteAddress`
 * is the client address the guard sees. (`demoClient` signs the same way but cannot set the
 * address; this is it plus `remoteAddress`.)
 *
 * Event time is the guard's: the only changes are made in the sink, between the guard and
 * its shipper, for a request whose plan entry backdates it (`tsShiftMs`, a key's history)
 * and for a source clock offset (clock.skew). The guard has a `now` option, but the demo API
 * does not pass one through, and a shifted clock would also move its timestamp window.
 */
import { signRequest, type EventSink, type GuardEvent, type Shipper } from '@vigil/guard'
import { createDemoApi, type DemoApi, type Order } from './demo-api.js'
import { TIER_LIMITS } from './population.js'
import type { Plan, PlannedRequest } from './scenarios.js'

/** Shifts event `ts` by the plan's offsets; passes everything else through unchanged. */
export class ShiftingSink implements EventSink {
  /** Set by the driver around a backdated request. */
  requestShiftMs = 0
  constructor(
    private readonly inner: EventSink,
    private readonly clockOffsetMs = 0,
  ) {}
  emit(event: GuardEvent): void {
    const shift = this.requestShiftMs + this.clockOffsetMs
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
  /** Stop early. */
  signal?: AbortSignal
}

export function registerKeys(api: DemoApi, plan: Plan): void {
  for (const k of plan.keys) {
    api.addKey({ id: k.id, account_id: k.account_id, user_id: k.user_id, tier: k.tier, scopes: k.scopes, ...(k.ip_allowlist ? { ip_allowlist: k.ip_allowlist } : {}) }, k.secret)
  }
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
      if (wait > 0) await new Promise((ok) => setTimeout(ok, wait))
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
    const out = await send(api, r, path, r.signing === 'own' ? (secrets.get(r.keyId) ?? FORGED_SECRET) : FORGED_SECRET, sink)
    res.sent++
    bump(res.byStatus, String(out.status))
    bump(res.byCode, out.status < 300 ? 'success' : (out.code ?? `http_${out.status}`))
    bump(res.byTag, r.tag)
    if (out.status === 201 && r.path === '/v1/orders' && (out.body as Order).status === 'resting') {
      const list = resting.get(r.keyId) ?? []
      list.push((out.body as Order).id)
      resting.set(r.keyId, list)
    }
  }
  res.elapsedMs = Math.round(performance.now() - t0)
  return res
}

async function send(api: DemoApi, r: PlannedRequest, path: string, secret: string, sink: ShiftingSink | undefined) {
  const payload = r.body === undefined ? undefined : JSON.stringify(r.body)
  const headers: Record<string, string> = { ...signRequest({ keyId: r.keyId, secret, method: r.method, path, ...(payload !== undefined ? { body: payload } : {}) }), 'user-agent': r.userAgent }
  if (payload !== undefined) headers['content-type'] = 'application/json'
  if (sink && r.tsShiftMs) sink.requestShiftMs = r.tsShiftMs
  try {
    const resp = await api.app.inject({ method: r.method, url: path, headers, remoteAddress: r.ip, ...(payload !== undefined ? { payload } : {}) })
    let body: unknown = {}
    try {
      body = resp.body ? JSON.parse(resp.body) : {}
    } catch {
      body = {}
    }
    const code = (body as { error?: { code?: string } }).error?.code
    return { status: resp.statusCode, code, body }
  } finally {
    if (sink && r.tsShiftMs) {
      // The guard emits on response; let its onResponse hook run before the shift is cleared.
      await new Promise((ok) => setImmediate(ok))
      sink.requestShiftMs = 0
    }
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
}

/** A demo API with the simulator's tier limits, its events going through a `ShiftingSink`. */
export async function createSimApi(plan: Plan, opts: SimApiOptions): Promise<{ api: DemoApi; sink: ShiftingSink; shipper: Shipper | undefined }> {
  const { createShipper } = await import('@vigil/guard')
  const shipper = opts.sink ? undefined : createShipper({ vigilUrl: opts.vigilUrl, source: opts.source, secret: opts.secret, dataDir: opts.dataDir, flushMs: 50, ...opts.shipper })
  const sink = new ShiftingSink(opts.sink ?? shipper!, plan.sourceClockOffsetMs ?? 0)
  const api = await createDemoApi({
    vigilUrl: opts.vigilUrl,
    source: opts.source,
    secret: opts.secret,
    dataDir: opts.dataDir,
    lostChannelPolicy: 'fail_open',
    limits: opts.limits ?? TIER_LIMITS,
    sink,
    ...(opts.offline ? { controlView: { isRevoked: () => false, killSwitchFor: () => undefined, degraded: () => false, version: () => 1 } } : {}),
  })
  registerKeys(api, plan)
  await api.start()
  return { api, sink, shipper }
}
