/**
 * The event shipper: the guard's `EventSink`. Takes one CONTRACT §1 event per request and
 * gets it to Vigil's ingest (CONTRACT §2) in signed gzip NDJSON batches, without ever making a
 * trading request wait for Vigil or fail because of it.
 *
 * Relied on by: the plugin (calls `emit` once per request) and trading API teams (create it,
 * `close()` it on shutdown, watch `stats()`).
 *
 * What a trading API can count on:
 * - `emit` never throws and never awaits; it serialises the event and returns.
 * - Every event carries an `id` (assigned at emit when absent), so a retried batch is answered
 *   by Vigil as duplicates, never stored twice.
 * - Memory holds at most `memoryLimitEvents` events; past that they overflow to segment files
 *   in `dataDir` (see outbox.ts for the durability given), replayed in order once Vigil
 *   answers again. Past `diskLimitBytes` new events are dropped, and counted in `dropped`.
 * - 202 → done; 429/503 → wait Retry-After; 5xx, network errors and timeouts → retry with
 *   exponential backoff and jitter, without end (the events wait on disk meanwhile);
 *   413 → the batch is split in halves; 401 bad_signature / stale_timestamp and 409 replayed →
 *   re-signed and retried `maxAuthRetries` times; any other 4xx, and events Vigil rejects one
 *   by one, are written to `rejected-<ms>.ndjson` in `dataDir` (`{"error", "event"}` a line)
 *   and counted in `rejected` — a batch is never retried forever on an answer that will not change.
 * - `stats().lastError` and every log line are masked: the secret never appears.
 */
import { tlsFetch, type GuardTlsOptions } from './tls-fetch.js'
import { appendFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { gzip as gzipCb } from 'node:zlib'
import { newEventId } from './event-id.js'
import { Outbox } from './outbox.js'
import type { EventSink, GuardEvent } from './seams.js'
import { backoffDelay, maskSecret, retryAfterMs, vigilSignatureHeaders } from './vigil-signature.js'

const gzip = promisify(gzipCb)

/** What the shipper logs through (pino's signature; a pino logger fits). */
export interface ShipperLogger {
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export interface ShipperOptions {
  /** Vigil's base URL, e.g. `https://vigil.internal:8080`; events go to `<vigilUrl>/v1/events`. */
  vigilUrl: string
  /** This trading API's source id (`vigil sources add <id>`). */
  source: string
  /** The source's signing secret. Used only to sign; never logged or reported. */
  secret: string
  /** Directory for the overflow segments and dead letters (created if absent). */
  dataDir: string
  /** @defaultValue 1000 */
  maxBatchEvents?: number
  /** Longest an event waits in memory before a partial batch is sent. @defaultValue 200 */
  flushMs?: number
  /** Events held in memory before they overflow to disk. @defaultValue 10000 */
  memoryLimitEvents?: number
  /** Bytes of overflow allowed on disk; events beyond it are dropped and counted. @defaultValue 268435456 (256 MiB) */
  diskLimitBytes?: number
  /** Size at which an overflow segment is fsynced and a new one started. @defaultValue 4194304 (4 MiB) */
  segmentBytes?: number
  /** Per-request timeout for a POST to Vigil. @defaultValue 10000 */
  timeoutMs?: number
  /** First retry delay; doubles per failure, with jitter. @defaultValue 250 */
  retryBaseMs?: number
  /** Longest backoff delay. @defaultValue 30000 */
  retryMaxMs?: number
  /** Longest Retry-After honoured (a longer one is cut to this). @defaultValue 60000 */
  retryAfterMaxMs?: number
  /** Re-signed retries after 401 bad_signature / stale_timestamp or 409 replayed before the batch is dead-lettered. @defaultValue 3 */
  maxAuthRetries?: number
  logger?: ShipperLogger
  /** The fetch to use (tests, proxies). @defaultValue globalThis.fetch, or `tlsFetch(tls)` with `tls` */
  fetch?: typeof fetch
  /** Client certificate and CA for a Vigil that requires mTLS (`VIGIL_TLS_CLIENT_CA`); see tls-fetch.ts. */
  tls?: GuardTlsOptions
}

export interface ShipperStats {
  /** Events in memory, waiting to be sent or to be written to disk. */
  queued: number
  /** Events in the batch being sent now. */
  inFlight: number
  /** Events in overflow files, not yet acknowledged by Vigil (the batch in flight excluded). */
  onDisk: number
  onDiskBytes: number
  /** Events Vigil accepted. */
  sent: number
  /** Events Vigil answered as already stored (retries of a delivered batch). */
  duplicates: number
  /** Events dead-lettered to `rejected-<ms>.ndjson`. */
  rejected: number
  /** Events lost: the disk limit was reached, the disk failed, or emit came after close. */
  dropped: number
  /** The last delivery failure, masked; undefined once none has happened. */
  lastError: string | undefined
}

export interface Shipper extends EventSink {
  /**
   * Sends everything queued now and waits until memory, disk and the batch in flight are
   * empty. Resolves true when they are, false when `timeoutMs` passed first.
   */
  flush(timeoutMs?: number): Promise<boolean>
  /**
   * Stops: keeps delivering for up to `deadlineMs`, then writes whatever is left (the batch in
   * flight first, then memory) to disk for the next shipper on this `dataDir`.
   */
  close(deadlineMs?: number): Promise<void>
  stats(): ShipperStats
}

interface Batch {
  lines: string[]
  /** Set when the lines come from an overflow segment (acked there once delivered). */
  disk?: { seq: number; ackedTotal: number }
}

type SendOutcome = 'done' | 'split' | 'abandoned'

const ERROR_CODE = /^[a-z_]{1,64}$/

export function createShipper(options: ShipperOptions): Shipper {
  const maxBatch = Math.max(1, options.maxBatchEvents ?? 1000)
  const flushMs = options.flushMs ?? 200
  const memoryLimit = Math.max(1, options.memoryLimitEvents ?? 10_000)
  const timeoutMs = options.timeoutMs ?? 10_000
  const retryBaseMs = options.retryBaseMs ?? 250
  const retryMaxMs = options.retryMaxMs ?? 30_000
  const retryAfterMaxMs = options.retryAfterMaxMs ?? 60_000
  const maxAuthRetries = options.maxAuthRetries ?? 3
  const doFetch = options.fetch ?? (options.tls ? tlsFetch(options.tls) : globalThis.fetch)
  const url = new URL('/v1/events', options.vigilUrl).toString()
  const { source, secret, logger } = options
  const mask = (s: string) => maskSecret(s, secret)

  const outbox = new Outbox({
    dir: options.dataDir,
    limitBytes: options.diskLimitBytes ?? 256 * 1024 * 1024,
    segmentBytes: options.segmentBytes ?? 4 * 1024 * 1024,
  })
  let diskUsable = true

  let memory: string[] = []
  let spilling = 0
  let inFlight: Batch | undefined
  let disk: { seq: number; lines: string[]; pos: number; acked: number } | undefined
  const counts = { sent: 0, duplicates: 0, rejected: 0, dropped: 0 }
  let lastError: string | undefined

  let closing = false
  let closed = false
  let closeDeadline = Infinity
  const closeAbort = new AbortController()
  /** Lines of a memory batch that close() interrupted: persisted before memory. */
  let abandoned: string[] = []

  // The sender loop sleeps on `wakeUp`; progress waiters (flush) on `progressed`.
  let wakeUp: (() => void) | undefined
  let flushTimer: NodeJS.Timeout | undefined
  let progressWaiters: Array<() => void> = []

  const wake = () => {
    if (flushTimer) {
      clearTimeout(flushTimer)
      flushTimer = undefined
    }
    const w = wakeUp
    wakeUp = undefined
    w?.()
  }
  const progressed = () => {
    const ws = progressWaiters
    progressWaiters = []
    for (const w of ws) w()
  }

  const fail = (message: string, extra: object = {}) => {
    lastError = mask(message)
    logger?.warn({ ...extra, error: lastError }, 'vigil shipper: delivery failed')
  }

  /** Sleeps, cut short by close() (which then re-checks its deadline). */
  const sleepers = new Set<() => void>()
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const wait = Math.max(0, Math.min(ms, closeDeadline - Date.now()))
      const done = () => {
        clearTimeout(t)
        sleepers.delete(done)
        resolve()
      }
      const t = setTimeout(done, wait)
      // Idle retries do not keep the process alive; a close() in progress does.
      if (!closing) t.unref()
      sleepers.add(done)
    })

  function spill(): void {
    const lines = memory
    memory = []
    spilling += lines.length
    const write = diskUsable ? outbox.append(lines) : Promise.resolve(0)
    write
      .then((written) => {
        if (written < lines.length) {
          counts.dropped += lines.length - written
          logger?.error({ dropped: lines.length - written, onDiskBytes: outbox.bytes }, 'vigil shipper: disk buffer full; events dropped')
        }
      })
      .catch((err: unknown) => {
        counts.dropped += lines.length
        lastError = mask(`disk: ${describe(err)}`)
        logger?.error({ dropped: lines.length, error: lastError }, 'vigil shipper: could not write the disk buffer; events dropped')
      })
      .finally(() => {
        spilling -= lines.length
        wake()
      })
  }

  function emit(event: GuardEvent): void {
    try {
      if (closed) {
        counts.dropped++
        return
      }
      const line = event.id ? JSON.stringify(event) : JSON.stringify({ ...event, id: newEventId() })
      memory.push(line)
      if (memory.length >= memoryLimit) spill()
      if (memory.length >= maxBatch) wake()
      else if (!flushTimer && wakeUp) {
        flushTimer = setTimeout(wake, flushMs)
        flushTimer.unref()
      }
    } catch (err) {
      // An event that cannot be serialised (a cycle, a BigInt) is lost, never the request.
      counts.dropped++
      lastError = mask(`emit: ${describe(err)}`)
    }
  }

  /** The next batch, set as `inFlight` in the same tick it leaves memory or disk (flush() relies on it). */
  async function nextBatch(): Promise<Batch | undefined> {
    if (disk && disk.pos < disk.lines.length) {
      const lines = disk.lines.slice(disk.pos, disk.pos + maxBatch)
      disk.pos += lines.length
      inFlight = { lines, disk: { seq: disk.seq, ackedTotal: disk.acked + disk.pos } }
      return inFlight
    }
    disk = undefined
    if (diskUsable && (outbox.events > 0 || spilling > 0)) {
      const read = await outbox.readOldest()
      if (read) {
        disk = { seq: read.seq, lines: read.lines, pos: 0, acked: read.acked }
        return nextBatch()
      }
    }
    if (memory.length === 0) return undefined
    inFlight = { lines: memory.splice(0, maxBatch) }
    return inFlight
  }

  async function deadLetter(lines: readonly string[], code: string): Promise<void> {
    if (lines.length === 0) return
    counts.rejected += lines.length
    const file = path.join(options.dataDir, `rejected-${Date.now()}.ndjson`)
    const text = lines.map((l) => `{"error":${JSON.stringify(code)},"event":${l}}\n`).join('')
    try {
      await appendFile(file, text)
    } catch (err) {
      logger?.error({ events: lines.length, error: mask(describe(err)) }, 'vigil shipper: could not write dead letters')
    }
    logger?.warn({ events: lines.length, code }, 'vigil shipper: events rejected by Vigil were dead-lettered')
  }

  async function readCode(res: Response): Promise<string> {
    try {
      const body = (await res.json()) as { error?: { code?: unknown } }
      const code = body?.error?.code
      // Vigil's words are masked like ours: a hostile or broken answer could echo the secret.
      return typeof code === 'string' && ERROR_CODE.test(code) ? mask(code) : `http_${res.status}`
    } catch {
      return `http_${res.status}`
    }
  }

  async function accepted(res: Response, lines: readonly string[]): Promise<void> {
    let body: unknown
    try {
      body = await res.json()
    } catch {
      body = undefined
    }
    const answer = (body ?? {}) as { accepted?: unknown; duplicates?: unknown; rejected?: unknown }
    const rejectedLines: string[] = []
    const reasons = new Map<string, string[]>()
    if (Array.isArray(answer.rejected)) {
      for (const r of answer.rejected as Array<{ index?: unknown; error?: unknown }>) {
        const i = r?.index
        if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= lines.length) continue
        const reason = typeof r.error === 'string' ? mask(r.error.slice(0, 200)) : 'rejected'
        const group = reasons.get(reason) ?? []
        group.push(lines[i] as string)
        reasons.set(reason, group)
        rejectedLines.push(lines[i] as string)
      }
    }
    const dup = typeof answer.duplicates === 'number' && answer.duplicates >= 0 ? answer.duplicates : 0
    const acc = typeof answer.accepted === 'number' && answer.accepted >= 0 ? answer.accepted : lines.length - rejectedLines.length - dup
    counts.sent += acc
    counts.duplicates += dup
    for (const [reason, group] of reasons) await deadLetter(group, reason)
  }

  /** One batch until Vigil has answered for it (or close() gives up). */
  async function send(lines: string[]): Promise<SendOutcome> {
    const body = await gzip(Buffer.from(lines.join('\n') + '\n', 'utf8'))
    let attempt = 0
    let authRetries = 0
    let lastSecond = -1
    for (;;) {
      if (closing && Date.now() >= closeDeadline) return 'abandoned'
      // Same bytes and same timestamp would make the same signature, which ingest refuses as a
      // replay: a retry always carries a new second.
      const second = Math.floor(Date.now() / 1000)
      if (second === lastSecond) {
        await sleep((second + 1) * 1000 - Date.now() + 5)
        continue
      }
      lastSecond = second
      const headers = {
        ...vigilSignatureHeaders(source, secret, body),
        'content-type': 'application/x-ndjson',
        'content-encoding': 'gzip',
      }
      let res: Response
      try {
        res = await doFetch(url, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), closeAbort.signal]),
        })
      } catch (err) {
        fail(`network: ${describe(err)}`, { events: lines.length, attempt })
        await sleep(backoffDelay(attempt++, retryBaseMs, retryMaxMs))
        continue
      }
      const status = res.status
      if (status === 202 || status === 200) {
        await accepted(res, lines)
        return 'done'
      }
      const code = await readCode(res)
      if (status === 429 || status === 503) {
        fail(`HTTP ${status} ${code}`, { events: lines.length, attempt })
        const asked = retryAfterMs(res.headers.get('retry-after'))
        await sleep(asked !== undefined ? Math.min(asked, retryAfterMaxMs) : backoffDelay(attempt, retryBaseMs, retryMaxMs))
        attempt++
        continue
      }
      if (status === 401 && code === 'client_cert_required') {
        // Vigil wants this guard's client certificate (mTLS): a setting to fix, not bad events.
        // Kept and retried like an outage, never dead-lettered.
        fail(`HTTP ${status} ${code}`, { events: lines.length, attempt })
        await sleep(backoffDelay(attempt++, retryBaseMs, retryMaxMs))
        continue
      }
      if (status === 413) {
        if (lines.length > 1) return 'split'
        await deadLetter(lines, code)
        return 'done'
      }
      if ((status === 401 && (code === 'bad_signature' || code === 'stale_timestamp')) || status === 409) {
        fail(`HTTP ${status} ${code}`, { events: lines.length, attempt })
        if (authRetries++ < maxAuthRetries) {
          await sleep(backoffDelay(attempt++, retryBaseMs, retryMaxMs))
          continue
        }
        await deadLetter(lines, code)
        return 'done'
      }
      if (status >= 400 && status < 500) {
        fail(`HTTP ${status} ${code}`, { events: lines.length })
        await deadLetter(lines, code)
        return 'done'
      }
      fail(`HTTP ${status} ${code}`, { events: lines.length, attempt })
      await sleep(backoffDelay(attempt++, retryBaseMs, retryMaxMs))
    }
  }

  /** Delivers a batch, splitting it as often as Vigil asks; returns the lines left when close() gave up. */
  async function deliver(lines: string[]): Promise<string[]> {
    const stack: string[][] = [lines]
    while (stack.length > 0) {
      const part = stack[stack.length - 1] as string[]
      const outcome = await send(part)
      if (outcome === 'abandoned') return stack.reverse().flat()
      stack.pop()
      if (outcome === 'split') {
        const half = Math.ceil(part.length / 2)
        stack.push(part.slice(half), part.slice(0, half))
      }
    }
    return []
  }

  const opened = outbox.open().catch((err: unknown) => {
    diskUsable = false
    lastError = mask(`disk: ${describe(err)}`)
    logger?.error({ error: lastError }, 'vigil shipper: data directory unusable; no disk overflow')
  })

  async function run(): Promise<void> {
    await opened
    for (;;) {
      const batch = await nextBatch().catch((err: unknown) => {
        lastError = mask(`disk: ${describe(err)}`)
        logger?.error({ error: lastError }, 'vigil shipper: could not read the disk buffer')
        return undefined
      })
      if (!batch) {
        progressed()
        if (closing) return
        await new Promise<void>((resolve) => {
          wakeUp = resolve
          if (memory.length > 0 || spilling > 0) {
            flushTimer ??= setTimeout(wake, flushMs)
            flushTimer.unref()
          }
        })
        continue
      }
      const left = await deliver(batch.lines)
      inFlight = undefined
      if (left.length > 0) {
        // close() gave up: a disk batch is still on disk (re-sent next time, answered as
        // duplicates where it had arrived); a memory batch is persisted by close().
        if (!batch.disk) abandoned = left
        return
      }
      if (batch.disk) {
        await outbox.ack(batch.disk.seq, batch.disk.ackedTotal).catch((err: unknown) => {
          logger?.warn({ error: mask(describe(err)) }, 'vigil shipper: could not record progress; some events may be re-sent')
        })
      }
      progressed()
    }
  }

  const loop = run()

  function stats(): ShipperStats {
    const inFlightCount = inFlight?.lines.length ?? 0
    return {
      queued: memory.length + spilling,
      inFlight: inFlightCount,
      // A disk batch in flight is counted once, as in flight (it is acked on disk once delivered).
      onDisk: Math.max(0, outbox.events - (inFlight?.disk ? inFlightCount : 0)),
      onDiskBytes: outbox.bytes,
      sent: counts.sent,
      duplicates: counts.duplicates,
      rejected: counts.rejected,
      dropped: counts.dropped,
      lastError,
    }
  }

  async function flush(timeoutMs = 10_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    await opened
    const empty = () => {
      const s = stats()
      return s.queued === 0 && s.inFlight === 0 && s.onDisk === 0
    }
    while (!empty()) {
      const left = deadline - Date.now()
      if (left <= 0 || closed) return empty()
      wake()
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 50))
        t.unref()
        progressWaiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
    return true
  }

  let closingDone: Promise<void> | undefined
  function close(deadlineMs = 5_000): Promise<void> {
    closingDone ??= (async () => {
      closing = true
      closeDeadline = Date.now() + deadlineMs
      const abortTimer = setTimeout(() => closeAbort.abort(), deadlineMs)
      for (const s of [...sleepers]) s()
      wake()
      await loop
      clearTimeout(abortTimer)
      closed = true
      if (diskUsable) {
        const rest = memory
        memory = []
        for (const [lines, write] of [
          [abandoned, (l: string[]) => outbox.prepend(l)],
          [rest, (l: string[]) => outbox.append(l)],
        ] as const) {
          if (lines.length === 0) continue
          const written = await write(lines).catch(() => 0)
          counts.dropped += lines.length - written
        }
        await outbox.close().catch(() => undefined)
      } else {
        counts.dropped += abandoned.length + memory.length
        memory = []
      }
      abandoned = []
      if (counts.dropped > 0) logger?.warn({ dropped: counts.dropped }, 'vigil shipper: closed with events dropped')
    })()
    return closingDone
  }

  return { emit, flush, close, stats }
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause
    const inner = cause instanceof Error ? `: ${(cause as { code?: string }).code ?? cause.message}` : ''
    return `${err.name === 'Error' ? '' : `${err.name} `}${err.message}${inner}`.trim()
  }
  return String(err)
}
