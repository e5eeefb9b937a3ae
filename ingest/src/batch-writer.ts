/**
 * The batch writer: merges the rows of many requests into one ClickHouse insert (a batch
 * is cut at `flushRows` rows or `flushMs` after its first row, whichever comes first) and
 * tells each request when its rows are durable — inserted, or fsync'd in the spool.
 *
 * Why merge here: chDB's async_insert does not merge concurrent inserts, and every insert
 * makes a part on disk; 1k-row inserts run at a third of the speed of 10k-row ones
 * (DESIGN.md, measured).
 *
 * While anything waits in the spool, new batches go to the spool too and one replayer
 * drains it oldest first, so storage sees batches in the order they were accepted and only
 * one insert runs at a time.
 *
 * Once rows are in ClickHouse (inserted, or replayed from the spool), `onDurable` gets them as
 * values in process: `vigil up` hands them to the detection engine, which then does not wait
 * to read them back (detect engine.ts `offer`). Rows only spooled are handed on when replayed.
 */
import type { RawFormat, Store } from '@vigil/core'
import { VigilError } from '@vigil/core'
import type { Logger } from 'pino'
import { Spool, type SpoolEntry } from './spool.js'

export interface BatchWriterMetrics {
  flushed(rows: number, seconds: number, to: 'clickhouse' | 'spool'): void
  spoolBytes(bytes: number): void
  buried(rows: number): void
}

/** Rows now in ClickHouse: each row's values positional in `columns`, in the order they were written. */
export interface DurableRows {
  columns: readonly string[]
  rows: ReadonlyArray<readonly unknown[]>
}

export interface BatchWriterOptions {
  store: Store
  spool: Spool
  logger: Logger
  table: string
  columns: readonly string[]
  format: RawFormat
  flushRows: number
  flushMs: number
  spoolMaxBytes: number
  metrics?: BatchWriterMetrics
  /** Replay attempts for one spooled batch while ClickHouse answers pings but refuses it. @defaultValue `5` */
  poisonAttempts?: number
  /**
   * Called once per batch with its rows once they are in ClickHouse (not when only spooled).
   * Synchronous and never awaited; a throw is logged and changes nothing for the batch.
   */
  onDurable?: (batch: DurableRows) => void
}

interface Waiter {
  resolve: () => void
  reject: (err: Error) => void
}

interface Batch {
  chunks: Buffer[]
  /** The rows' values when every write gave them (`onDurable`); else parsed from the chunks. */
  values: Array<readonly unknown[]>
  rows: number
  bytes: number
  waiters: Waiter[]
}

const INSERT_SETTINGS = {
  // A backfill may span many days; warn instead of refusing the insert.
  throw_on_max_partitions_per_insert_block: 0,
}

const emptyBatch = (): Batch => ({ chunks: [], values: [], rows: 0, bytes: 0, waiters: [] })

export class BatchWriter {
  readonly #o: BatchWriterOptions
  #pending: Batch = emptyBatch()
  #timer: NodeJS.Timeout | undefined
  #flushing: Promise<void> | undefined
  #closed = false
  #replaying: Promise<void> | undefined
  #replayTimer: NodeJS.Timeout | undefined
  #replayDelayMs = 200
  #poison = new Map<number, number>()
  #lastError: string | undefined

  constructor(opts: BatchWriterOptions) {
    this.#o = opts
    this.#o.metrics?.spoolBytes(opts.spool.bytes)
    if (opts.spool.length > 0) this.#scheduleReplay(0)
  }

  /** `storage` is `spooling` while batches wait on disk for ClickHouse. */
  status(): { storage: 'ok' | 'spooling'; spoolBytes: number; spoolBatches: number; lastError: string | undefined } {
    const spooling = this.#o.spool.length > 0
    return { storage: spooling ? 'spooling' : 'ok', spoolBytes: this.#o.spool.bytes, spoolBatches: this.#o.spool.length, lastError: this.#lastError }
  }

  /**
   * Queues rows (lines in the writer's format, each ending in "\n") and resolves once they are durable.
   * Rejects with `unavailable` when ClickHouse is down and the spool is full. `values`: the same
   * rows unserialised, positional in `columns` (for `onDurable`; without them it parses `body`).
   */
  write(body: Buffer, rows: number, values?: ReadonlyArray<readonly unknown[]>): Promise<void> {
    if (this.#closed) return Promise.reject(new VigilError('VIGIL_ERR_INGEST_UNAVAILABLE', 'shutting down', { headers: { 'Retry-After': '5' } }))
    if (rows === 0) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      const b = this.#pending
      b.chunks.push(body)
      if (this.#o.onDurable && values?.length === rows) for (const v of values) b.values.push(v)
      b.rows += rows
      b.bytes += body.length
      b.waiters.push({ resolve, reject })
      if (b.rows >= this.#o.flushRows) this.#kick()
      else if (!this.#timer) this.#timer = setTimeout(() => this.#kick(), this.#o.flushMs)
    })
  }

  /** Resolves when every row written before the call is durable. */
  async flush(): Promise<void> {
    while (this.#pending.rows > 0 || this.#flushing) {
      this.#kick()
      await this.#flushing
    }
  }

  /** Flushes what was accepted and stops the replayer; spooled batches stay on disk for next start. */
  async close(): Promise<void> {
    await this.flush()
    this.#closed = true
    if (this.#replayTimer) clearTimeout(this.#replayTimer)
    this.#replayTimer = undefined
    await this.#replaying
  }

  #kick(): void {
    if (this.#timer) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
    if (this.#flushing || this.#pending.rows === 0) return
    const batch = this.#pending
    this.#pending = emptyBatch()
    this.#flushing = this.#flushBatch(batch).finally(() => {
      this.#flushing = undefined
      // Rows that arrived during the flush: go now if a batch is full, else on its timer.
      if (this.#pending.rows >= this.#o.flushRows) this.#kick()
      else if (this.#pending.rows > 0 && !this.#timer) this.#timer = setTimeout(() => this.#kick(), this.#o.flushMs)
    })
  }

  async #flushBatch(batch: Batch): Promise<void> {
    // Buffers, not strings: concatenating them is a copy, where joining big strings flattens ropes and re-encodes.
    const body = batch.chunks.length === 1 ? (batch.chunks[0] as Buffer) : Buffer.concat(batch.chunks, batch.bytes)
    const started = performance.now()
    if (this.#o.spool.length === 0) {
      try {
        await this.#insert(body)
        this.#lastError = undefined
        this.#o.metrics?.flushed(batch.rows, (performance.now() - started) / 1000, 'clickhouse')
        for (const w of batch.waiters) w.resolve()
        if (this.#o.onDurable) this.#durable(this.#o.columns, this.#o.format, batch.values.length === batch.rows ? batch.values : undefined, body)
        return
      } catch (err) {
        this.#lastError = firstLine(err)
        this.#o.logger.warn({ rows: batch.rows, error: this.#lastError }, 'ClickHouse insert failed; spooling the batch')
      }
    }
    await this.#toSpool(batch, body, started)
  }

  async #toSpool(batch: Batch, body: Buffer, started: number): Promise<void> {
    if (this.#o.spool.bytes + body.length > this.#o.spoolMaxBytes) {
      const err = new VigilError('VIGIL_ERR_INGEST_UNAVAILABLE', undefined, { headers: { 'Retry-After': '10' } })
      for (const w of batch.waiters) w.reject(err)
      return
    }
    try {
      await this.#o.spool.append(Buffer.concat([Buffer.from(this.#spoolHeader()), body]))
    } catch (cause) {
      this.#o.logger.error({ error: firstLine(cause) }, 'spool write failed')
      const err = new VigilError('VIGIL_ERR_INGEST_UNAVAILABLE', undefined, { headers: { 'Retry-After': '10' }, cause })
      for (const w of batch.waiters) w.reject(err)
      return
    }
    this.#o.metrics?.flushed(batch.rows, (performance.now() - started) / 1000, 'spool')
    this.#o.metrics?.spoolBytes(this.#o.spool.bytes)
    for (const w of batch.waiters) w.resolve()
    this.#scheduleReplay(this.#replayDelayMs)
  }

  /** Hands rows now in ClickHouse to `onDurable`: the values given, else `body` parsed (spool replay). */
  #durable(columns: readonly string[], format: RawFormat, values: ReadonlyArray<readonly unknown[]> | undefined, body: Buffer | string): void {
    try {
      const rows = values ?? parseRows(columns, format, typeof body === 'string' ? body : body.toString('utf8'))
      if (rows.length > 0) this.#o.onDurable?.({ columns, rows })
    } catch (err) {
      this.#o.logger.warn({ error: firstLine(err) }, 'handing durable rows on failed; they are in ClickHouse')
    }
  }

  #insert(body: Buffer): Promise<void> {
    return this.#o.store.insertRaw(this.#o.table, this.#o.columns, body, { format: this.#o.format, settings: INSERT_SETTINGS })
  }

  /** Spool files start with a header naming their format and columns, so a later version with other columns still replays them. */
  #spoolHeader(): string {
    return JSON.stringify({ format: this.#o.format, columns: this.#o.columns }) + '\n'
  }

  #scheduleReplay(delayMs: number): void {
    if (this.#closed || this.#replayTimer || this.#replaying) return
    this.#replayTimer = setTimeout(() => {
      this.#replayTimer = undefined
      this.#replaying = this.#replay().finally(() => {
        this.#replaying = undefined
        if (this.#o.spool.length > 0) this.#scheduleReplay(this.#replayDelayMs)
      })
    }, delayMs)
    this.#replayTimer.unref()
  }

  /** Drains the spool oldest first until it is empty or ClickHouse fails again. */
  async #replay(): Promise<void> {
    let entry: SpoolEntry | undefined
    while (!this.#closed && (entry = this.#o.spool.peek())) {
      let body: string
      try {
        body = await this.#o.spool.read(entry)
        const nl = body.indexOf('\n')
        const header = parseHeader(body.slice(0, nl))
        if (!header) {
          const to = await this.#o.spool.bury(entry)
          this.#o.metrics?.buried(1)
          this.#o.logger.error({ file: to }, 'spooled batch has no readable header; moved to the dead-letter folder')
          continue
        }
        await this.#o.store.insertRaw(this.#o.table, header.columns, Buffer.from(body.slice(nl + 1)), { format: header.format, settings: INSERT_SETTINGS })
        if (this.#o.onDurable) this.#durable(header.columns, header.format, undefined, body.slice(nl + 1))
      } catch (err) {
        this.#lastError = firstLine(err)
        // ClickHouse refusing the data of this one batch: after a few tries set it aside, or
        // it would hold every later batch hostage. Anything else (down, table missing, disk
        // full, too many parts) is waited out.
        if (isDataError(err)) {
          const n = (this.#poison.get(entry.seq) ?? 0) + 1
          this.#poison.set(entry.seq, n)
          if (n >= (this.#o.poisonAttempts ?? 5)) {
            const to = await this.#o.spool.bury(entry)
            this.#poison.delete(entry.seq)
            this.#o.metrics?.buried(1)
            this.#o.logger.error({ file: to, error: this.#lastError }, 'spooled batch refused by ClickHouse; moved to the dead-letter folder')
            continue
          }
        }
        this.#replayDelayMs = Math.min(this.#replayDelayMs * 2, 5_000)
        return
      }
      await this.#o.spool.remove(entry)
      this.#poison.delete(entry.seq)
      this.#replayDelayMs = 200
      this.#lastError = undefined
      this.#o.metrics?.spoolBytes(this.#o.spool.bytes)
      this.#o.logger.info({ seq: entry.seq, left: this.#o.spool.length }, 'replayed a spooled batch into ClickHouse')
    }
  }
}

// ClickHouse error codes that say "these bytes are wrong", not "try again later":
// CANNOT_PARSE_TEXT 6, CANNOT_PARSE_QUOTED_STRING 26, CANNOT_PARSE_INPUT_ASSERTION_FAILED 27,
// CANNOT_PARSE_DATE 38, CANNOT_PARSE_DATETIME 41, TYPE_MISMATCH 53, ARGUMENT_OUT_OF_BOUND 69,
// CANNOT_CONVERT_TYPE 70, CANNOT_PARSE_NUMBER 72, INCORRECT_DATA 117, CANNOT_READ_ARRAY_FROM_TEXT 130,
// TOO_LARGE_STRING_SIZE 131, CANNOT_PARSE_IPV4 675, CANNOT_PARSE_IPV6 676.
const DATA_ERRORS = new Set([6, 26, 27, 38, 41, 53, 69, 70, 72, 117, 130, 131, 675, 676])

/** Lines of `format` → values positional in `columns`. */
function parseRows(columns: readonly string[], format: RawFormat, text: string): Array<readonly unknown[]> {
  const out: Array<readonly unknown[]> = []
  for (const line of text.split('\n')) {
    if (line.length === 0) continue
    const parsed = JSON.parse(line) as unknown
    if (format === 'JSONCompactEachRow') out.push(parsed as unknown[])
    else out.push(columns.map((c) => (parsed as Record<string, unknown>)[c]))
  }
  return out
}

function parseHeader(line: string): { format: RawFormat; columns: string[] } | undefined {
  try {
    const h = JSON.parse(line) as { format?: unknown; columns?: unknown }
    const formatOk = h.format === 'JSONEachRow' || h.format === 'JSONCompactEachRow'
    const columnsOk = Array.isArray(h.columns) && h.columns.every((c) => typeof c === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(c))
    return formatOk && columnsOk ? (h as { format: RawFormat; columns: string[] }) : undefined
  } catch {
    return undefined
  }
}

function isDataError(err: unknown): boolean {
  const code = Number((err as { code?: unknown; clickhouseCode?: unknown } | undefined)?.code)
  return DATA_ERRORS.has(code)
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err)
  return msg.split('\n')[0]?.slice(0, 300) ?? ''
}
