/**
 * The detector engine: walks `detect_stream` in arrival order with a stored cursor and
 * hands each batch of new events to every enabled rule's detector (enabled: the rule's newest
 * runtime switch, rule-states.ts, else its file), then records findings as
 * alerts and hands each NEW alert to the response side exactly once, and an open alert again
 * each time a repeat escalates its severity.
 *
 * Escalation (a rule's `escalate` steps, escalation.ts) is applied here and only here, to
 * every finding right before it is recorded, so no detector knows about it.
 *
 * Why arrival order: an event sent late (old `ts`) is seen the moment it lands, so late
 * history still counts toward its event-time window and still forms baselines; detectors
 * place it in event time themselves.
 *
 * Why an overlap: ingest stamps `received_at` when a request arrives and the row becomes
 * visible when its batch is written, so a row can appear behind the cursor. Each tick re-reads
 * the last `overlapMs` and skips ids already processed. After a restart the overlap is read
 * again; alerts treat evidence they already hold as unchanged, so nothing is repeated.
 *
 * Events handed over in process (`offer`: `vigil up` gives the engine each batch ingest has
 * just made durable, stream-rows.ts) are judged at once, in a pass of their own, without waiting
 * for the next tick or reading them back. While events are being offered, the stream is read
 * only every `catchUpMs`, for rows the hand-over did not bring (another process's, a direct
 * insert), and read narrow: the page's keys, then the full rows only of those not judged yet.
 * Ids already judged are skipped either way, and so are ids handed over and still waiting for
 * their pass, so each event is judged once, by the cheaper path. After a restart the
 * stream read catches up from the stored cursor, as before.
 *
 * Passes (a page of the stream, or what was offered) run one at a time, each holding the store's
 * lane (`store.hold`, core statement-gate.ts) so its statements do not queue behind inserts that
 * start in between; a pass that has held it for `holdSliceMs` lets waiting statements start
 * between two detectors, and the gate lets one start anyway after 300 ms, so ingest's inserts
 * are delayed, never starved.
 *
 * Beside the passes, every `prepareMs` the timer lets detectors read ahead into memory
 * (`Detector.prepare`: the baselines of the window in progress and of the next one), through
 * `backgroundStore`, so that a key's first event in a window costs its pass no statement. A pass
 * never waits for it.
 */
import type { Logger } from 'pino'
import type { Store } from '@vigil/core'
import type { Detector, EngineRule, StreamEvent } from './detector.js'
import { AlertStore, chToIso, type Alert } from './alerts.js'
import { escalateFinding } from './escalation.js'
import { DetectorMemory } from './memory.js'
import { effectiveEnabled, type RuleStateSource } from './rule-states.js'

/** How long detect_stream keeps a row (its TTL in migration 001). */
export const DETECT_STREAM_RETENTION_MS = 3 * 24 * 60 * 60_000

/** Why an alert is handed to the response side: it is new, or a repeat raised its severity. */
export type AlertHandover = 'created' | 'escalated'

export interface EngineOptions {
  store: Store
  logger: Logger
  rules: readonly EngineRule[]
  detectors: readonly Detector[]
  alerts?: AlertStore
  /**
   * Called once per new alert (`'created'`), and once more each time a repeat raises an open
   * alert's severity (`'escalated'`, the alert as updated); not for other repeats.
   */
  onAlert?: (alert: Alert, why: AlertHandover) => Promise<void> | void
  /** Cursor name: processes sharing one name share progress. @defaultValue `'default'` */
  name?: string
  /** @defaultValue `250` */
  tickMs?: number
  /** @defaultValue `2000` */
  overlapMs?: number
  /** Most events read per query. @defaultValue `20000` */
  batchLimit?: number
  /**
   * Keep memory between ticks so detectors can skip storage reads (memory.ts). Off, every
   * tick reads storage as a backtest does; the findings are the same. @defaultValue `true`
   */
  memory?: boolean
  /**
   * Rules switched on or off at runtime (rule-states.ts), read at the start of every tick; a
   * rule's newest switch overrides its file's `enabled`. Absent: the files decide.
   */
  ruleStates?: RuleStateSource
  /**
   * While events are offered in process (`offer`), how often the stream is still read, for
   * rows the hand-over did not bring. Without offers the engine reads it every tick.
   * @defaultValue `5000`
   */
  catchUpMs?: number
  /**
   * The cursor is stored at most this often after passes over offered events (a restart
   * re-reads what came after it, which changes no alert). @defaultValue `1000`
   */
  cursorSaveMs?: number
  /**
   * A pass holds the store's lane (`store.hold`) for at most this long before it lets the
   * statements waiting in lower lanes (ingest's inserts) start, between two detectors.
   * @defaultValue `250`
   */
  holdSliceMs?: number
  /**
   * How often the timer lets detectors read ahead (`Detector.prepare`), beside the passes.
   * @defaultValue `5000`
   */
  prepareMs?: number
  /**
   * The store `prepare` reads through: `vigil up` gives the normal lane, so reading ahead waits
   * behind a pass's statements and ingest's inserts rather than ahead of them. @defaultValue the engine's store
   */
  backgroundStore?: Store
}

export interface TickResult {
  events: number
  findings: number
  created: number
  repeated: number
  /** Repeats that raised an alert's severity (also counted in `repeated`). */
  escalated: number
}

const STREAM_COLUMNS = `
SELECT toString(received_at) AS receivedAt, toString(ts) AS ts, source, id, action, outcome, reason,
  api_key_id, account_id, user_id,
  if(client_ip = toIPv6('::'), '', replaceRegexpOne(IPv6NumToString(client_ip), '^::ffff:(\\\\d+\\\\.\\\\d+\\\\.\\\\d+\\\\.\\\\d+)$', '\\\\1')) AS client_ip,
  http_path, attrs, order_qty, order_notional, order_symbol, order_currency, geo_country, geo_city, geo_lat, geo_lon, clock_skew_ms
FROM detect_stream`
const AFTER = `WHERE (received_at, id) > ({afterTs:DateTime64(9, 'UTC')}, {afterId:String})
ORDER BY received_at, id
LIMIT {limit:UInt32}`
const STREAM_SQL = `${STREAM_COLUMNS}
${AFTER}`
/** A page's keys only: while events are handed over, most of a catch-up read was judged already. */
const STREAM_KEYS_SQL = `SELECT toString(received_at) AS receivedAt, source, id FROM detect_stream
${AFTER}`
/** The full rows of some of those keys. */
const STREAM_ROWS_SQL = `${STREAM_COLUMNS}
WHERE received_at >= {lo:DateTime64(9, 'UTC')} AND received_at <= {hi:DateTime64(9, 'UTC')} AND id IN {ids:Array(String)}
ORDER BY received_at, id`

type StreamRow = Omit<StreamEvent, 'tsMs'>

/** ClickHouse time text with up to 9 fractional digits → epoch ms with fraction. */
export function chTimeToMs(t: string): number {
  const [base, frac = ''] = t.split('.')
  const ms = Date.parse(`${(base as string).replace(' ', 'T')}Z`)
  return frac ? ms + Number(frac) / 10 ** (frac.length - 3) : ms
}

/** Epoch ms with fraction → ClickHouse DateTime64(9) text, as the engine's stream reads bound it. */
export function msToChNs(ms: number): string {
  const whole = Math.floor(ms)
  const sub = Math.round((ms - whole) * 1e6)
  return new Date(whole).toISOString().replace('T', ' ').replace('Z', '') + String(sub).padStart(6, '0')
}

const NONE_PENDING: ReadonlySet<string> = new Set()

export class DetectionEngine {
  readonly #o: Required<Omit<EngineOptions, 'onAlert' | 'alerts' | 'ruleStates' | 'backgroundStore'>> & Pick<EngineOptions, 'onAlert' | 'ruleStates' | 'backgroundStore'>
  readonly alerts: AlertStore
  /** What detectors remember between ticks; `undefined` when the engine runs without. */
  readonly memory: DetectorMemory | undefined
  #warm = false
  #cursorMs: number | undefined
  #cursorText = ''
  readonly #seen = new Map<string, number>()
  #preparing: Promise<void> | undefined
  #lastPrepareMs = 0
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  #stopped = false
  /** Passes run one after another on this chain. */
  #work: Promise<unknown> = Promise.resolve()
  /** Events offered and not yet judged. */
  #offered: StreamEvent[] = []
  #offerScheduled = false
  /** Date.now() of the last offer, of the last read of the stream, of the last stored cursor. */
  #lastOfferMs = Number.NEGATIVE_INFINITY
  #lastStreamMs = Number.NEGATIVE_INFINITY
  #lastSavedMs = Number.NEGATIVE_INFINITY
  #cursorDirty = false
  /** Ids of the rules that run this tick: each rule's file, overridden by its newest switch. */
  #enabled: ReadonlySet<string> | undefined

  constructor(opts: EngineOptions) {
    this.#o = { name: 'default', tickMs: 250, overlapMs: 2000, batchLimit: 20_000, memory: true, catchUpMs: 5000, cursorSaveMs: 1000, holdSliceMs: 250, prepareMs: 5000, ...opts }
    this.alerts = opts.alerts ?? new AlertStore(opts.store)
    this.memory = this.#o.memory ? new DetectorMemory() : undefined
  }

  /** Once, before the first batch: each detector may fill memory from storage. */
  async #warmUp(): Promise<void> {
    if (this.#warm) return
    this.#warm = true
    const memory = this.memory
    if (!memory) return
    const byRule = new Map(this.#o.rules.map((r) => [r.id, r]))
    const resumeFromMs = Math.max(0, (this.#cursorMs as number) - this.#o.overlapMs)
    for (const d of this.#o.detectors) {
      const rule = byRule.get(d.ruleId)
      if (!d.warmUp || !rule || !this.#isEnabled(rule)) continue
      try {
        await d.warmUp({ store: this.#o.store, rule, memory, resumeFromMs })
      } catch (err) {
        this.#o.logger.warn({ rule: d.ruleId, error: (err as Error).message }, 'detector warm-up failed; it reads storage every tick')
      }
    }
  }

  /**
   * Lets every enabled detector read ahead into memory (`Detector.prepare`), once the engine is
   * warm and knows where it is. Beside the passes, not serialised with them: a pass never waits
   * for it. Runs one at a time; the timer calls it every `prepareMs`.
   */
  prepare(): Promise<void> {
    this.#preparing ??= this.#prepareAll().finally(() => {
      this.#preparing = undefined
      this.#lastPrepareMs = Date.now()
    })
    return this.#preparing
  }

  async #prepareAll(): Promise<void> {
    const memory = this.memory
    if (!memory || !this.#warm || this.#cursorMs === undefined || this.#stopped) return
    const nowMs = this.#cursorMs
    const store = this.#o.backgroundStore ?? this.#o.store
    const byRule = new Map(this.#o.rules.map((r) => [r.id, r]))
    for (const d of this.#o.detectors) {
      const rule = byRule.get(d.ruleId)
      if (!d.prepare || !rule || !this.#isEnabled(rule)) continue
      try {
        await d.prepare({ store, rule, memory, nowMs })
      } catch (err) {
        this.#o.logger.warn({ rule: d.ruleId, error: (err as Error).message }, 'detector could not read ahead; its passes read storage instead')
      }
    }
  }

  #isEnabled(rule: EngineRule): boolean {
    return this.#enabled ? this.#enabled.has(rule.id) : rule.enabled
  }

  /** Which rules run this tick. A failed read keeps the last known state (the files' at first). */
  async #refreshEnabled(): Promise<void> {
    let changes: ReadonlyMap<string, { enabled: boolean }> = new Map()
    if (this.#o.ruleStates) {
      try {
        changes = await this.#o.ruleStates.latest()
      } catch (err) {
        this.#o.logger.warn({ error: (err as Error).message }, 'could not read rule switches; keeping the last known state')
        if (this.#enabled) return
      }
    }
    const next = new Set(this.#o.rules.filter((r) => effectiveEnabled(r, changes)).map((r) => r.id))
    const prev = this.#enabled
    this.#enabled = next
    if (!prev) return
    const on = [...next].filter((id) => !prev.has(id))
    const off = [...prev].filter((id) => !next.has(id))
    if (on.length === 0 && off.length === 0) return
    this.#o.logger.info({ enabled: on, disabled: off }, 'rules switched')
    // A rule switched back on did not see the events of its pause, and detectors share memory:
    // forget it all and warm up again from storage (memory may be cold at any time).
    if (on.length > 0 && this.memory) {
      this.memory.clear()
      this.#warm = false
    }
  }

  async #loadCursor(): Promise<void> {
    if (this.#cursorMs !== undefined) return
    const rows = await this.#o.store.query<{ r: string }>(
      'SELECT toString(argMax(received_at, updated_at)) AS r FROM detect_cursor WHERE name = {name:String} GROUP BY name',
      { name: this.#o.name },
    )
    // No cursor yet: start at the beginning of what the stream still holds.
    this.#cursorText = rows[0]?.r ?? '1970-01-01 00:00:00'
    this.#cursorMs = chTimeToMs(this.#cursorText)
  }

  async #saveCursor(): Promise<void> {
    this.#cursorDirty = false
    this.#lastSavedMs = Date.now()
    await this.#o.store.insertNdjson('detect_cursor', ['name', 'received_at', 'id'], JSON.stringify({ name: this.#o.name, received_at: this.#cursorText, id: '' }) + '\n')
  }

  /** The hold of the pass in progress: released now and then (`holdSliceMs`) so inserts are not starved. */
  #held: { release: () => void; since: number } | undefined

  /** Holds the store's lane for a pass: `release` at its end. */
  #hold(): () => void {
    const held = { release: this.#o.store.hold(), since: performance.now() }
    this.#held = held
    return () => {
      held.release()
      if (this.#held === held) this.#held = undefined
    }
  }

  /** Between two detectors: once the pass has held the lane for `holdSliceMs`, let waiting statements start. */
  #yieldHold(): void {
    const held = this.#held
    if (!held || performance.now() - held.since < this.#o.holdSliceMs) return
    held.release()
    held.release = this.#o.store.hold()
    held.since = performance.now()
  }

  /** Runs `f` after every pass already started or queued. */
  #serial<T>(f: () => Promise<T>): Promise<T> {
    const p = this.#work.then(f)
    this.#work = p.catch(() => undefined)
    return p
  }

  /**
   * Events that just became durable, handed over in process (stream-rows.ts): judged in a pass
   * of their own as soon as the engine is free, instead of at the next read of the stream.
   * Events already judged (or offered twice) are skipped. Does nothing once stopped.
   */
  offer(events: readonly StreamEvent[]): void {
    if (this.#stopped || events.length === 0) return
    for (const e of events) this.#offered.push(e)
    this.#lastOfferMs = Date.now()
    if (this.#offerScheduled) return
    this.#offerScheduled = true
    // Offers made in the same turn of the event loop share a pass.
    setImmediate(() => {
      this.#offerScheduled = false
      if (this.#stopped) return
      this.#serial(() => this.#offeredPass()).catch((err: unknown) => {
        this.#o.logger.warn({ error: (err as Error).message }, 'detection pass over handed-over events failed; the stream read will catch up')
      })
    })
  }

  /** Judges what was offered since the last pass. */
  async #offeredPass(): Promise<TickResult> {
    const total: TickResult = { events: 0, findings: 0, created: 0, repeated: 0, escalated: 0 }
    if (this.#offered.length === 0) return total
    await this.#loadCursor()
    await this.#refreshEnabled()
    await this.#warmUp()
    const offered = this.#offered
    this.#offered = []
    const before = { ms: this.#cursorMs as number, text: this.#cursorText, dirty: this.#cursorDirty }
    const fresh: StreamEvent[] = []
    for (const e of offered) {
      const key = `${e.source}\u0000${e.id}`
      if (this.#seen.has(key)) continue
      const receivedMs = Date.parse(e.receivedAt)
      this.#seen.set(key, receivedMs)
      fresh.push(e)
      if (receivedMs > (this.#cursorMs as number)) {
        this.#cursorMs = receivedMs
        // ISO → ClickHouse text, every fractional digit kept.
        this.#cursorText = `${e.receivedAt.slice(0, 10)} ${e.receivedAt.slice(11, -1)}`
        this.#cursorDirty = true
      }
    }
    if (fresh.length === 0) return total
    const release = this.#hold()
    try {
      Object.assign(total, { events: fresh.length }, await this.#run(fresh))
    } catch (err) {
      // Storage failed mid-pass (an alert not stored): forget these events and where they took
      // the cursor, so the next read of the stream judges them again (alerts already stored are
      // recognised, not repeated).
      for (const e of fresh) this.#seen.delete(`${e.source}\u0000${e.id}`)
      ;({ ms: this.#cursorMs, text: this.#cursorText, dirty: this.#cursorDirty } = before)
      this.#lastOfferMs = Number.NEGATIVE_INFINITY
      throw err
    } finally {
      release()
    }
    if (this.#cursorDirty && Date.now() - this.#lastSavedMs >= this.#o.cursorSaveMs) await this.#saveCursor()
    this.#prune()
    return total
  }

  /** One pass: reads what arrived, runs every detector, records alerts. Loops while batches are full. */
  tick(): Promise<TickResult> {
    return this.#serial(() => this.#tick())
  }

  /** The timer's turn: `tick()`, or while events are offered, only every `catchUpMs` (and the cursor, when due). */
  #timedTick(): Promise<unknown> {
    const now = Date.now()
    const offering = now - this.#lastOfferMs < this.#o.catchUpMs
    if (!offering || now - this.#lastStreamMs >= this.#o.catchUpMs) return this.tick()
    return this.#serial(async () => {
      if (this.#cursorDirty && Date.now() - this.#lastSavedMs >= this.#o.cursorSaveMs) await this.#saveCursor()
    })
  }

  async #tick(): Promise<TickResult> {
    // While events are handed over, a read of the stream mostly finds them judged already.
    const narrow = Date.now() - this.#lastOfferMs < this.#o.catchUpMs
    this.#lastStreamMs = Date.now()
    await this.#loadCursor()
    await this.#refreshEnabled()
    await this.#warmUp()
    const total: TickResult = { events: 0, findings: 0, created: 0, repeated: 0, escalated: 0 }
    // Pages through everything after (cursor − overlap) by (received_at, id): with a dense
    // stream the overlap alone can hold more rows than one page, and re-reading the same
    // first page would never get past it.
    let afterTs = msToChNs(Math.max(0, (this.#cursorMs as number) - this.#o.overlapMs))
    let afterId = ''
    for (;;) {
      // One page is held from its read to its cursor (store.hold): its statements run one after
      // another, and none waits behind an insert that started between two of them.
      const release = this.#hold()
      let page: { full: boolean; afterTs: string; afterId: string }
      try {
        page = await this.#page(afterTs, afterId, total, narrow)
      } finally {
        release()
      }
      if (!page.full) {
        this.#prune()
        return total
      }
      ;({ afterTs, afterId } = page)
    }
  }

  /**
   * Reads one page after (afterTs, afterId) and runs the detectors over what is new in it.
   * `narrow`: the page's keys first, and the full rows only of those not judged yet.
   */
  async #page(afterTs: string, afterId: string, total: TickResult, narrow: boolean): Promise<{ full: boolean; afterTs: string; afterId: string }> {
    const after = { afterTs, afterId, limit: this.#o.batchLimit }
    let keys: ReadonlyArray<Pick<StreamRow, 'receivedAt' | 'source' | 'id'>>
    let rows: StreamRow[]
    let pending: ReadonlySet<string> = NONE_PENDING
    if (narrow) {
      keys = await this.#o.store.query<Pick<StreamRow, 'receivedAt' | 'source' | 'id'>>(STREAM_KEYS_SQL, after)
      pending = this.#pendingKeys()
      const missing = keys.filter((k) => {
        const key = `${k.source}\u0000${k.id}`
        return !this.#seen.has(key) && !pending.has(key)
      })
      // Mostly new after all (another writer, a failed hand-over): the plain read is cheaper.
      if (missing.length > keys.length / 2) return this.#page(afterTs, afterId, total, false)
      const wanted = new Set(missing.map((k) => `${k.source}\u0000${k.id}`))
      rows =
        missing.length === 0
          ? []
          : (
              await this.#o.store.query<StreamRow>(STREAM_ROWS_SQL, {
                lo: (missing[0] as (typeof missing)[number]).receivedAt,
                hi: (missing[missing.length - 1] as (typeof missing)[number]).receivedAt,
                ids: [...new Set(missing.map((k) => k.id))],
              })
            ).filter((r) => wanted.has(`${r.source}\u0000${r.id}`))
    } else {
      rows = await this.#o.store.query<StreamRow>(STREAM_SQL, after)
      keys = rows
      pending = this.#pendingKeys()
    }
    const fresh: StreamEvent[] = []
    for (const r of rows) {
      const key = `${r.source}\u0000${r.id}`
      if (this.#seen.has(key) || pending.has(key)) continue
      const receivedMs = chTimeToMs(r.receivedAt)
      this.#seen.set(key, receivedMs)
      fresh.push({ ...r, tsMs: chTimeToMs(r.ts), ts: chToIso(r.ts), receivedAt: chToIso(r.receivedAt) })
      if (receivedMs > (this.#cursorMs as number)) {
        this.#cursorMs = receivedMs
        this.#cursorText = r.receivedAt
      }
    }
    if (fresh.length > 0) {
      const r = await this.#run(fresh)
      total.events += fresh.length
      total.findings += r.findings
      total.created += r.created
      total.repeated += r.repeated
      total.escalated += r.escalated
      await this.#saveCursor()
    }
    const last = keys[keys.length - 1]
    return { full: keys.length >= this.#o.batchLimit, afterTs: last?.receivedAt ?? afterTs, afterId: last?.id ?? afterId }
  }

  /**
   * Events handed over and waiting for their pass (queued behind this read): the read leaves
   * them to it. Judging them here instead read back, converted and judged whole pages the
   * hand-over already held, while that pass and every later one waited behind the read.
   */
  #pendingKeys(): ReadonlySet<string> {
    if (this.#offered.length === 0) return NONE_PENDING
    return new Set(this.#offered.map((e) => `${e.source}\u0000${e.id}`))
  }

  #prune(): void {
    const horizon = (this.#cursorMs as number) - this.#o.overlapMs - 1000
    for (const [k, t] of this.#seen) if (t < horizon) this.#seen.delete(k)
  }

  async #run(events: StreamEvent[]): Promise<Omit<TickResult, 'events'>> {
    const out = { findings: 0, created: 0, repeated: 0, escalated: 0 }
    const byRule = new Map(this.#o.rules.map((r) => [r.id, r]))
    for (const d of this.#o.detectors) {
      const rule = byRule.get(d.ruleId)
      if (!rule || !this.#isEnabled(rule)) continue
      this.#yieldHold()
      let findings
      try {
        findings = await d.detect(events, { store: this.#o.store, rule, ...(this.memory ? { memory: this.memory } : {}) })
      } catch (err) {
        // One broken detector must not blind the others.
        this.#o.logger.error({ rule: d.ruleId, error: (err as Error).message }, 'detector failed')
        continue
      }
      for (const f of findings) {
        out.findings++
        const res = await this.alerts.upsert(escalateFinding(f, rule), rule.suppressionMs, rule)
        if (res.outcome === 'created') {
          out.created++
          await this.#o.onAlert?.(res.alert, 'created')
        } else if (res.outcome === 'repeated') {
          out.repeated++
          if (res.escalated) {
            out.escalated++
            await this.#o.onAlert?.(res.alert, 'escalated')
          }
        }
      }
    }
    return out
  }

  /** Ticks every `tickMs` until `stop()`. */
  start(): void {
    const loop = () => {
      if (this.#stopped) return
      if (!this.#preparing && Date.now() - this.#lastPrepareMs >= this.#o.prepareMs) void this.prepare()
      this.#running = this.#timedTick()
        .then(() => undefined)
        .catch((err: unknown) => {
          this.#o.logger.warn({ error: (err as Error).message }, 'detection tick failed; retrying')
        })
        .finally(() => {
          this.#running = undefined
          if (!this.#stopped) this.#timer = setTimeout(loop, this.#o.tickMs)
        })
    }
    loop()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#timer) clearTimeout(this.#timer)
    await this.#running
    await this.#preparing
    // What was offered is judged (a stop waits for it), then the cursor is stored.
    await this.#serial(() => this.#offeredPass()).catch((err: unknown) => this.#o.logger.warn({ error: (err as Error).message }, 'detection pass over handed-over events failed'))
    if (this.#cursorDirty) await this.#saveCursor().catch((err: unknown) => this.#o.logger.warn({ error: (err as Error).message }, 'could not store the detection cursor'))
  }
}
