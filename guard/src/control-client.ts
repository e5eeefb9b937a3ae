/**
 * The control client: the guard's `ControlView`, kept from Vigil's control channel
 * (CONTRACT §3, docs/response.md "The control channel"). It fetches `GET /v1/control/state`,
 * then follows `GET /v1/control/stream` (Server-Sent Events) from that version, reconnecting
 * with backoff and jitter and resuming with `Last-Event-ID`, and polls the state while the
 * stream is down.
 *
 * Relied on by: the plugin (`isRevoked`, `killSwitchFor`, `degraded` on every request) and
 * trading API teams (`onKillSwitch` to cancel resting orders, `ready()` before serving).
 *
 * What they can count on:
 * - Deltas are applied in version order, each once. A delta whose version is not last + 1,
 *   one that does not parse, an `event: hello` ahead of us, or `410 version_gone` → the state
 *   is fetched again (the truth), never guessed.
 * - `onKillSwitch` is called once per kill-switch id newly seen tripped — from the first
 *   state too, since a switch in force at start-up still means "cancel resting orders" — and
 *   not again when a reconnect or refetch shows the same switch. A hook that throws is logged.
 * - With a `sink` (the shipper), each switch newly applied is reported to Vigil as a
 *   `killswitch.trip` event once `onKillSwitch` has finished (or `cancelReportTimeoutMs` has
 *   passed), carrying when the guard applied it and the number of orders the hook says it
 *   cancelled; each reset seen (a delta, or a switch gone from a fresh state) as a
 *   `killswitch.reset` event (enforcement-events.ts; docs/reports.md "Extensions to CONTRACT").
 *   A `source` switch naming another source is not this guard's to apply and is not reported.
 * - `degraded()` is true once neither the stream (any byte, `: keep-alive` included) nor a
 *   state fetch has succeeded for `graceMs`; the plugin then applies its lost-channel policy.
 * - The secret signs requests and is never logged or reported.
 */
import { hostname } from 'node:os'
import { tlsFetch, type GuardTlsOptions } from './tls-fetch.js'
import { killSwitchResetEvent, killSwitchTripEvent, type AppliedVia, type CancelReport, type KillSwitchApplication } from './enforcement-events.js'
import { preciseNow } from './event-fields.js'
import type { ActiveKillSwitch, ControlView, EventSink, GuardEvent, KillSwitchScopeType, TradeContext } from './seams.js'
import { SseParser } from './sse-parser.js'
import { backoffDelay, maskSecret, vigilSignatureHeaders } from './vigil-signature.js'

/** A change on the control stream (the `data:` of an `event: delta`). */
export type ControlDelta =
  | { version: number; type: 'key_revoked'; api_key_id: string; revoked_at: string; reason: string }
  | { version: number; type: 'key_restored'; api_key_id: string; restored_at: string; reason: string }
  | { version: number; type: 'killswitch_tripped'; killswitch: ActiveKillSwitch }
  | { version: number; type: 'killswitch_reset'; killswitch_id: string; reset_at: string; reason: string }

/** `GET /v1/control/state`. */
export interface ControlState {
  version: number
  revoked_keys: Array<{ api_key_id: string; revoked_at: string; reason: string }>
  killswitches: ActiveKillSwitch[]
}

/** What `onChange` hears: each delta applied, or a whole state that replaced what was known. */
export type ControlChange = ControlDelta | { type: 'state'; version: number; state: ControlState }

export interface ControlClientLogger {
  info?(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export interface ControlClientOptions {
  /** Vigil's base URL, e.g. `https://vigil.internal:8080`. */
  vigilUrl: string
  /** This trading API's source id (the `source` kill-switch scope matches it). */
  source: string
  /** The source's signing secret; never logged or reported. */
  secret: string
  /** How long the channel may be lost before `degraded()` turns true. @defaultValue 30000 */
  graceMs?: number
  /** State poll interval while the stream is down. @defaultValue 5000 */
  pollMs?: number
  /** First reconnect delay; doubles per failure, with jitter. @defaultValue 500 */
  reconnectBaseMs?: number
  /** Longest reconnect delay. @defaultValue 30000 */
  reconnectMaxMs?: number
  /** A stream silent this long (no delta, no keep-alive) is dropped and reopened. @defaultValue 45000 */
  idleTimeoutMs?: number
  /** Timeout of a state fetch, and of the stream's response headers. @defaultValue 5000 */
  timeoutMs?: number
  /**
   * Called once per kill-switch newly seen tripped (cancel resting orders in its scope). Return
   * (or resolve to) the number of resting orders cancelled and the guard reports it to Vigil;
   * returning nothing is reported as "not reported", never as 0.
   */
  onKillSwitch?(ks: ActiveKillSwitch): void | number | Promise<void | number>
  /**
   * Where enforcement is reported (`killswitch.trip` / `killswitch.reset` events): pass the
   * guard's shipper. Absent: nothing is reported.
   */
  sink?: EventSink
  /** Names this process among the guards of one source (`attrs.guard_instance`). @defaultValue `<hostname>:<pid>` */
  guardInstance?: string
  /** Longest wait for `onKillSwitch` before the trip is reported without a count (`cancel_report: timeout`). @defaultValue 60000 */
  cancelReportTimeoutMs?: number
  /** Called after each change is applied. */
  onChange?(change: ControlChange): void
  logger?: ControlClientLogger
  /** @defaultValue globalThis.fetch, or `tlsFetch(tls)` with `tls` */
  fetch?: typeof fetch
  /** Client certificate and CA for a Vigil that requires mTLS (`VIGIL_TLS_CLIENT_CA`); see tls-fetch.ts. */
  tls?: GuardTlsOptions
}

export interface ControlClientStats {
  version: number
  streaming: boolean
  degraded: boolean
  revokedKeys: number
  killSwitches: number
  /** Streams opened (the first included). */
  streamsOpened: number
  stateFetches: number
  deltasApplied: number
  /** Times a gap, a bad delta or 410 made the client fetch the state again. */
  refetches: number
  /** Milliseconds since the channel last succeeded. */
  lastOkAgoMs: number
  /** The last failure, masked. */
  lastError: string | undefined
}

export interface ControlClient extends ControlView {
  /** Starts following Vigil. Idempotent. */
  start(): void
  /** Stops: closes the stream and the poll. `ready()` still pending then rejects. */
  close(): Promise<void>
  /** Resolves once the first state has been applied. */
  ready(): Promise<void>
  stats(): ControlClientStats
}

const SCOPE_TYPES: readonly KillSwitchScopeType[] = ['global', 'source', 'account', 'api_key', 'symbol', 'venue']
const VERSION_RE = /^\d{1,15}$/

const isStr = (v: unknown, max = 1024): v is string => typeof v === 'string' && v.length > 0 && v.length <= max
const isVersion = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0

function readKillSwitch(v: unknown): ActiveKillSwitch | undefined {
  const k = v as Record<string, unknown> | null
  if (typeof k !== 'object' || k === null) return undefined
  const scope = k.scope as Record<string, unknown> | null
  if (typeof scope !== 'object' || scope === null) return undefined
  const type = scope.type as KillSwitchScopeType
  if (!SCOPE_TYPES.includes(type)) return undefined
  const id = typeof scope.id === 'string' ? scope.id : type === 'global' ? '' : undefined
  if (id === undefined || !isStr(k.id, 256)) return undefined
  return { id: k.id, scope: { type, id }, tripped_at: typeof k.tripped_at === 'string' ? k.tripped_at : '', reason: typeof k.reason === 'string' ? k.reason : '' }
}

/** Validates Vigil's answer at the edge: a malformed state is refused whole, never half applied. */
export function parseControlState(v: unknown): ControlState | undefined {
  const s = v as Record<string, unknown> | null
  if (typeof s !== 'object' || s === null || !isVersion(s.version)) return undefined
  if (!Array.isArray(s.revoked_keys) || !Array.isArray(s.killswitches)) return undefined
  const revoked: ControlState['revoked_keys'] = []
  for (const r of s.revoked_keys as Array<Record<string, unknown> | null>) {
    if (typeof r !== 'object' || r === null || !isStr(r.api_key_id, 128)) return undefined
    revoked.push({ api_key_id: r.api_key_id, revoked_at: String(r.revoked_at ?? ''), reason: String(r.reason ?? '') })
  }
  const switches: ActiveKillSwitch[] = []
  for (const k of s.killswitches as unknown[]) {
    const ks = readKillSwitch(k)
    if (!ks) return undefined
    switches.push(ks)
  }
  return { version: s.version, revoked_keys: revoked, killswitches: switches }
}

export function parseControlDelta(v: unknown): ControlDelta | undefined {
  const d = v as Record<string, unknown> | null
  if (typeof d !== 'object' || d === null || !isVersion(d.version)) return undefined
  const version = d.version
  switch (d.type) {
    case 'key_revoked':
      return isStr(d.api_key_id, 128) ? { version, type: 'key_revoked', api_key_id: d.api_key_id, revoked_at: String(d.revoked_at ?? ''), reason: String(d.reason ?? '') } : undefined
    case 'key_restored':
      return isStr(d.api_key_id, 128) ? { version, type: 'key_restored', api_key_id: d.api_key_id, restored_at: String(d.restored_at ?? ''), reason: String(d.reason ?? '') } : undefined
    case 'killswitch_tripped': {
      const ks = readKillSwitch(d.killswitch)
      return ks ? { version, type: 'killswitch_tripped', killswitch: ks } : undefined
    }
    case 'killswitch_reset':
      return isStr(d.killswitch_id, 256) ? { version, type: 'killswitch_reset', killswitch_id: d.killswitch_id, reset_at: String(d.reset_at ?? ''), reason: String(d.reason ?? '') } : undefined
    default:
      return undefined
  }
}

const scopeKey = (type: KillSwitchScopeType, id: string) => `${type}\u0000${id}`

/** Why a stream ended: `resync` fetches the state before reconnecting; `retry` backs off first. */
type StreamEnd = 'resync' | 'retry' | 'closed'

export function createControlClient(options: ControlClientOptions): ControlClient {
  const graceMs = options.graceMs ?? 30_000
  const pollMs = options.pollMs ?? 5_000
  const reconnectBaseMs = options.reconnectBaseMs ?? 500
  const reconnectMaxMs = options.reconnectMaxMs ?? 30_000
  const idleTimeoutMs = options.idleTimeoutMs ?? 45_000
  const timeoutMs = options.timeoutMs ?? 5_000
  const doFetch = options.fetch ?? (options.tls ? tlsFetch(options.tls) : globalThis.fetch)
  const { source, secret, logger, sink } = options
  const guardInstance = (options.guardInstance ?? `${hostname()}:${process.pid}`).slice(0, 128)
  const cancelReportTimeoutMs = options.cancelReportTimeoutMs ?? 60_000
  const stateUrl = new URL('/v1/control/state', options.vigilUrl).toString()
  const streamUrl = new URL('/v1/control/stream', options.vigilUrl).toString()
  const EMPTY = new Uint8Array(0)

  let version = 0
  let haveState = false
  const revoked = new Map<string, ControlState['revoked_keys'][number]>()
  const switches = new Map<string, ActiveKillSwitch>()
  /** Tripped switches by scope, for an O(1) check on every request. */
  const byScope = new Map<string, ActiveKillSwitch[]>()
  /** Switch ids already handed to onKillSwitch. */
  const notified = new Set<string>()

  let started = false
  let closed = false
  let streaming = false
  /** When the stream was last seen down; the poll starts pollMs after that. */
  let streamDownSince = Date.now()
  let lastOk = Date.now()
  let lastError: string | undefined
  const counts = { streamsOpened: 0, stateFetches: 0, deltasApplied: 0, refetches: 0 }
  const closeAbort = new AbortController()
  let pollTimer: NodeJS.Timeout | undefined
  let loop: Promise<void> | undefined
  let stateInFlight: Promise<boolean> | undefined

  let markReady: () => void = () => undefined
  let failReady: (err: Error) => void = () => undefined
  const readyPromise = new Promise<void>((resolve, reject) => {
    markReady = resolve
    failReady = reject
  })
  readyPromise.catch(() => undefined)

  const mask = (s: string) => maskSecret(s, secret)
  const fail = (what: string, err: unknown) => {
    lastError = mask(`${what}: ${describe(err)}`)
    logger?.warn({ error: lastError }, 'vigil control: channel failure')
  }
  const ok = () => {
    lastOk = Date.now()
  }

  function signed(): Record<string, string> {
    return vigilSignatureHeaders(source, secret, EMPTY)
  }

  function index(): void {
    byScope.clear()
    for (const ks of switches.values()) {
      const key = scopeKey(ks.scope.type, ks.scope.type === 'global' ? '' : ks.scope.id)
      const list = byScope.get(key)
      if (list) list.push(ks)
      else byScope.set(key, [ks])
    }
  }

  /** A `source` switch for another trading API is not enforced here (see killSwitchFor). */
  const appliesHere = (ks: Pick<ActiveKillSwitch, 'scope'>) => ks.scope.type !== 'source' || ks.scope.id === source

  function report(event: GuardEvent): void {
    if (!sink) return
    try {
      sink.emit(event)
    } catch (err) {
      logger?.error({ error: mask(describe(err)) }, 'vigil control: the event sink threw; enforcement event dropped')
    }
  }

  function reportTrip(application: KillSwitchApplication, cancel: { report: CancelReport; orders?: number }): void {
    report(killSwitchTripEvent(application, cancel, preciseNow()))
  }

  /** What the hook's answer says about orders cancelled. */
  function cancelOf(v: unknown): { report: CancelReport; orders?: number } {
    if (v === undefined || v === null) return { report: 'not_reported' }
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return { report: 'reported', orders: v }
    return { report: 'invalid' }
  }

  function notify(ks: ActiveKillSwitch, via: AppliedVia, atVersion: number): void {
    if (notified.has(ks.id)) return
    notified.add(ks.id)
    const application: KillSwitchApplication = { killSwitch: ks, appliedAtMs: preciseNow(), controlVersion: atVersion, via, guardInstance }
    const shipIt = sink !== undefined && appliesHere(ks)
    const hookFailed = (err: unknown) => logger?.error({ killswitch: ks.id, error: mask(describe(err)) }, 'vigil control: onKillSwitch failed')
    if (!options.onKillSwitch) {
      if (shipIt) reportTrip(application, { report: 'no_hook' })
      return
    }
    let r: unknown
    try {
      r = options.onKillSwitch(ks)
    } catch (err) {
      hookFailed(err)
      if (shipIt) reportTrip(application, { report: 'hook_failed' })
      return
    }
    if (!(r && typeof (r as Promise<unknown>).then === 'function')) {
      if (shipIt) reportTrip(application, cancelOf(r))
      return
    }
    // The trip is reported once, whichever comes first: the hook's answer or the timeout.
    let reported = !shipIt
    let timer: NodeJS.Timeout | undefined
    const once = (cancel: { report: CancelReport; orders?: number }) => {
      if (reported) return
      reported = true
      clearTimeout(timer)
      reportTrip(application, cancel)
    }
    if (shipIt) {
      timer = setTimeout(() => {
        logger?.warn({ killswitch: ks.id, timeoutMs: cancelReportTimeoutMs }, 'vigil control: onKillSwitch still running; trip reported without a count')
        once({ report: 'timeout' })
      }, cancelReportTimeoutMs)
      timer.unref()
    }
    try {
      ;(r as Promise<unknown>).then(
        (v) => once(cancelOf(v)),
        (err: unknown) => {
          hookFailed(err)
          once({ report: 'hook_failed' })
        },
      )
    } catch (err) {
      // A thenable whose then() throws is a failed hook, not a crash of the control loop.
      hookFailed(err)
      once({ report: 'hook_failed' })
    }
  }

  function notifyReset(ks: ActiveKillSwitch, via: AppliedVia, atVersion: number, resetAt: string | undefined): void {
    if (!sink || !appliesHere(ks)) return
    report(killSwitchResetEvent({ killSwitch: ks, appliedAtMs: preciseNow(), controlVersion: atVersion, via, guardInstance }, resetAt, preciseNow()))
  }

  function changed(change: ControlChange): void {
    try {
      options.onChange?.(change)
    } catch (err) {
      logger?.error({ error: mask(describe(err)) }, 'vigil control: onChange failed')
    }
  }

  function applyState(state: ControlState): void {
    version = state.version
    revoked.clear()
    for (const r of state.revoked_keys) revoked.set(r.api_key_id, r)
    const before = haveState ? [...switches.values()] : []
    switches.clear()
    for (const ks of state.killswitches) switches.set(ks.id, ks)
    index()
    // A switch gone from the state was reset while the stream was down: that is when we learn it.
    for (const ks of before) if (!switches.has(ks.id)) notifyReset(ks, 'state', state.version, undefined)
    // A switch reset while we were away may be tripped again later under the same id.
    for (const id of [...notified]) if (!switches.has(id)) notified.delete(id)
    for (const ks of state.killswitches) notify(ks, 'state', state.version)
    if (!haveState) {
      haveState = true
      markReady()
    }
    changed({ type: 'state', version: state.version, state })
  }

  function applyDelta(d: ControlDelta): void {
    switch (d.type) {
      case 'key_revoked':
        revoked.set(d.api_key_id, { api_key_id: d.api_key_id, revoked_at: d.revoked_at, reason: d.reason })
        break
      case 'key_restored':
        revoked.delete(d.api_key_id)
        break
      case 'killswitch_tripped':
        switches.set(d.killswitch.id, d.killswitch)
        index()
        notify(d.killswitch, 'stream', d.version)
        break
      case 'killswitch_reset': {
        const was = switches.get(d.killswitch_id)
        switches.delete(d.killswitch_id)
        notified.delete(d.killswitch_id)
        index()
        if (was) notifyReset(was, 'stream', d.version, d.reset_at)
        break
      }
    }
    version = d.version
    counts.deltasApplied++
    changed(d)
  }

  /**
   * Fetches and applies the state. `force` applies it even when older than what we have
   * (after 410: Vigil's log was reset); a poll never moves us back past deltas applied meanwhile.
   */
  function refreshState(force: boolean): Promise<boolean> {
    stateInFlight ??= (async () => {
      try {
        const res = await doFetch(stateUrl, { headers: signed(), signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), closeAbort.signal]) })
        if (res.status !== 200) {
          const code = await errorCode(res)
          fail('state', new Error(`HTTP ${res.status} ${code}`))
          return false
        }
        const state = parseControlState(await res.json())
        if (!state) {
          fail('state', new Error('malformed control state'))
          return false
        }
        counts.stateFetches++
        ok()
        if (closed) return false
        if (force || !haveState || state.version >= version) applyState(state)
        return true
      } catch (err) {
        if (!closed) fail('state', err)
        return false
      } finally {
        stateInFlight = undefined
      }
    })()
    return stateInFlight
  }

  async function errorCode(res: Response): Promise<string> {
    try {
      const body = (await res.json()) as { error?: { code?: unknown } }
      const code = body?.error?.code
      return typeof code === 'string' && /^[a-z_]{1,64}$/.test(code) ? mask(code) : ''
    } catch {
      return ''
    }
  }

  /** Follows the stream from `version` until it ends; says what to do next. */
  async function followStream(): Promise<StreamEnd> {
    const abort = new AbortController()
    const onClose = () => abort.abort()
    closeAbort.signal.addEventListener('abort', onClose)
    let idle: NodeJS.Timeout | undefined
    const armIdle = () => {
      if (idle) clearTimeout(idle)
      idle = setTimeout(() => abort.abort(new Error('control stream idle')), idleTimeoutMs)
      idle.unref()
    }
    const headersTimer = setTimeout(() => abort.abort(new Error('control stream did not answer')), timeoutMs)
    headersTimer.unref()
    try {
      const res = await doFetch(streamUrl, {
        headers: { ...signed(), accept: 'text/event-stream', 'last-event-id': String(version) },
        signal: abort.signal,
      })
      clearTimeout(headersTimer)
      if (res.status === 410) {
        await res.body?.cancel().catch(() => undefined)
        logger?.warn({ version }, 'vigil control: version gone; fetching the state again')
        counts.refetches++
        return 'resync'
      }
      if (res.status !== 200 || !res.body) {
        const code = await errorCode(res)
        fail('stream', new Error(`HTTP ${res.status} ${code}`))
        return 'retry'
      }
      streaming = true
      counts.streamsOpened++
      ok()
      armIdle()
      const parser = new SseParser()
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        ok()
        armIdle()
        for (const m of parser.push(chunk)) {
          if (m.event === 'hello') {
            const v = VERSION_RE.test(m.id ?? '') ? Number(m.id) : undefined
            if (v !== undefined && v === version) continue
            counts.refetches++
            return 'resync'
          }
          if (m.event !== 'delta') continue
          let delta: ControlDelta | undefined
          try {
            delta = parseControlDelta(JSON.parse(m.data))
          } catch {
            delta = undefined
          }
          if (!delta) {
            logger?.warn({ version }, 'vigil control: unreadable delta; fetching the state again')
            counts.refetches++
            return 'resync'
          }
          if (delta.version <= version) continue
          if (delta.version !== version + 1) {
            logger?.warn({ version, got: delta.version }, 'vigil control: gap in the stream; fetching the state again')
            counts.refetches++
            return 'resync'
          }
          applyDelta(delta)
        }
      }
      if (closed) return 'closed'
      fail('stream', new Error('stream ended'))
      return 'retry'
    } catch (err) {
      if (closed) return 'closed'
      fail('stream', abort.signal.aborted && abort.signal.reason instanceof Error ? abort.signal.reason : err)
      return 'retry'
    } finally {
      if (streaming) streamDownSince = Date.now()
      streaming = false
      clearTimeout(headersTimer)
      if (idle) clearTimeout(idle)
      closeAbort.signal.removeEventListener('abort', onClose)
      abort.abort()
    }
  }

  const sleepers = new Set<() => void>()
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t)
        sleepers.delete(done)
        resolve()
      }
      const t = setTimeout(done, ms)
      t.unref()
      sleepers.add(done)
    })

  async function run(): Promise<void> {
    let attempt = 0
    let resyncs = 0
    let needState = true
    let force = false
    while (!closed) {
      if (needState) {
        if (!(await refreshState(force))) {
          if (closed) return
          await sleep(backoffDelay(attempt++, reconnectBaseMs, reconnectMaxMs))
          continue
        }
        needState = false
        force = false
      }
      const opened = counts.streamsOpened
      const applied = counts.deltasApplied
      const end = await followStream()
      if (end === 'closed' || closed) return
      // A stream that opened and then dropped starts the backoff again from the bottom.
      if (counts.streamsOpened > opened) attempt = 0
      if (end === 'resync') {
        needState = true
        force = true
        // A Vigil that keeps answering 410 or sending gaps is not hammered: repeats back off.
        resyncs = counts.deltasApplied > applied ? 1 : resyncs + 1
        if (resyncs > 1) await sleep(backoffDelay(resyncs - 2, reconnectBaseMs, reconnectMaxMs))
        continue
      }
      resyncs = 0
      await sleep(backoffDelay(attempt++, reconnectBaseMs, reconnectMaxMs))
    }
  }

  function start(): void {
    if (started || closed) return
    started = true
    lastOk = Date.now()
    streamDownSince = lastOk
    loop = run()
    pollTimer = setInterval(() => {
      // The fallback: while the stream is down the state still arrives every pollMs.
      if (!streaming && !closed && haveState && Date.now() - streamDownSince >= pollMs) void refreshState(false)
    }, pollMs)
    pollTimer.unref()
  }

  async function close(): Promise<void> {
    if (closed) return
    closed = true
    if (pollTimer) clearInterval(pollTimer)
    closeAbort.abort()
    for (const s of [...sleepers]) s()
    failReady(new Error('control client closed before the first state'))
    await loop
    await stateInFlight
  }

  function killSwitchFor(ctx: TradeContext): ActiveKillSwitch | undefined {
    if (byScope.size === 0) return undefined
    const candidates: Array<[KillSwitchScopeType, string | undefined]> = [
      ['global', ''],
      ['source', source],
      ['source', ctx.source],
      ['account', ctx.account_id],
      ['api_key', ctx.api_key_id],
      ['symbol', ctx.symbol],
      ['venue', ctx.venue],
    ]
    for (const [type, id] of candidates) {
      if (id === undefined || (id === '' && type !== 'global')) continue
      const hit = byScope.get(scopeKey(type, id))?.[0]
      if (hit) return hit
    }
    return undefined
  }

  return {
    start,
    close,
    ready: () => readyPromise,
    isRevoked: (apiKeyId) => revoked.has(apiKeyId),
    killSwitchFor,
    degraded: () => Date.now() - lastOk > graceMs,
    version: () => version,
    stats: () => ({
      version,
      streaming,
      degraded: Date.now() - lastOk > graceMs,
      revokedKeys: revoked.size,
      killSwitches: switches.size,
      ...counts,
      lastOkAgoMs: Date.now() - lastOk,
      lastError,
    }),
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause
    const inner = cause instanceof Error ? `: ${(cause as { code?: string }).code ?? cause.message}` : ''
    return `${err.message}${inner}`
  }
  return String(err)
}
