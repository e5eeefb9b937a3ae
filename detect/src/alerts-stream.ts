/**
 * `GET /v1/alerts/stream` (alerts:read): Server-Sent Events of alert changes, what the
 * dashboard's alert grid follows instead of reloading.
 *
 * What a client relies on:
 * - The stream opens with `event: hello` (`data: {"at": <RFC 3339>}`, `id:` the current
 *   position), then one `event: alert` per alert that is created or changes (a repeat's
 *   count/last_seen, an escalated severity, a status, an incident link), its `data` the alert
 *   as `GET /v1/alerts/:id` answers it without `history`, its `id:` the position of the change.
 * - Reconnecting with `Last-Event-ID: <id>` sends exactly the alerts that changed after that
 *   position (each once, as it is now, in the order of their last change), then live ones; no
 *   hello. A value this server cannot have issued → 400 `bad_last_event_id`, before the stream.
 * - `: keep-alive` comments every 15 s. A client that cannot keep up (more than `maxQueued`
 *   alerts waiting) is disconnected and resumes with its last id, losing nothing.
 *
 * Source of truth is ClickHouse, so a change stored by another vigil process on the same
 * server reaches this process's clients: one poller per app reads `alert_feed` (migration
 * 007) every `pollMs` for all connected clients together, and polls at once when this
 * process stores a change. It re-reads the last `overlapMs` of the feed each time, so a change
 * another process committed a little late (stored time before one already seen) is still
 * sent; what it sent is remembered for that long, so nothing is sent twice.
 */
import type { FastifyBaseLogger, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { VigilError } from '@vigil/core'
import type { Alert, AlertStore, FeedPosition } from './alerts.js'

export interface AlertsStreamOptions {
  /** @defaultValue 500 */
  pollMs?: number
  /** How far back each poll re-reads the feed for changes committed late. @defaultValue 5000 */
  overlapMs?: number
  /** @defaultValue 15000 */
  keepAliveMs?: number
  /** Alerts waiting to be written before the connection is closed. @defaultValue 1000 */
  maxQueued?: number
  /** Feed rows read per query. @defaultValue 1000 */
  page?: number
}

/** One alert as it is after the change at `pos`. */
interface StreamItem {
  pos: FeedPosition
  alert: Alert
}

const CURSOR = /^(\d{1,16})\.(\d{1,19})\.([A-Za-z0-9_.:-]{0,128})$/

/** The SSE id of a position: `<µs>.<version>.<alert id>`. */
export function encodeFeedPosition(p: FeedPosition): string {
  return `${p.micros}.${p.version}.${p.id}`
}

/** A Last-Event-ID back to a position; undefined when this server cannot have issued it. */
export function decodeFeedPosition(text: string): FeedPosition | undefined {
  const m = CURSOR.exec(text)
  if (!m) return undefined
  const micros = Number(m[1])
  const version = Number(m[2])
  if (!Number.isSafeInteger(micros) || !Number.isSafeInteger(version)) return undefined
  return { micros, version, id: m[3] as string }
}

function compare(a: FeedPosition, b: FeedPosition): number {
  if (a.micros !== b.micros) return a.micros - b.micros
  if (a.id !== b.id) return a.id < b.id ? -1 : 1
  return a.version - b.version
}

/** Each alert of `rows` once, at its latest position, as it is now; in the order of those positions. */
async function itemsFor(alerts: AlertStore, rows: readonly FeedPosition[]): Promise<StreamItem[]> {
  const latest = new Map<string, FeedPosition>()
  for (const r of rows) {
    const cur = latest.get(r.id)
    if (!cur || compare(r, cur) > 0) latest.set(r.id, r)
  }
  const ids = [...latest.keys()]
  const byId = new Map<string, Alert>()
  for (let i = 0; i < ids.length; i += 500) for (const a of await alerts.getMany(ids.slice(i, i + 500))) byId.set(a.id, a)
  return [...latest.values()]
    .sort(compare)
    .flatMap((pos) => {
      const alert = byId.get(pos.id)
      return alert ? [{ pos, alert }] : []
    })
}

/** One poller for every client of this app; runs only while someone listens. */
class AlertFeed {
  readonly #alerts: AlertStore
  readonly #log: FastifyBaseLogger
  readonly #pollMs: number
  readonly #overlapUs: number
  readonly #page: number
  readonly #listeners = new Set<(items: StreamItem[]) => void>()
  /** Positions already sent, by key, with their µs (forgotten once older than the overlap). */
  readonly #sent = new Map<string, number>()
  #high: FeedPosition | undefined
  /** Where the feed stood when the poller started: what was there before is not news. */
  #base: FeedPosition | undefined
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  #again = false
  #unwatch: (() => void) | undefined

  constructor(alerts: AlertStore, log: FastifyBaseLogger, o: Required<Pick<AlertsStreamOptions, 'pollMs' | 'overlapMs' | 'page'>>) {
    this.#alerts = alerts
    this.#log = log
    this.#pollMs = o.pollMs
    this.#overlapUs = o.overlapMs * 1000
    this.#page = o.page
  }

  /** Adds a listener; resolves once the poller knows where the feed stands. */
  async subscribe(listener: (items: StreamItem[]) => void): Promise<() => void> {
    this.#listeners.add(listener)
    if (!this.#timer) {
      this.#timer = setInterval(() => this.poke(), this.#pollMs)
      this.#timer.unref()
      this.#unwatch = this.#alerts.onStored(() => this.poke())
    }
    if (!this.#high) await this.poke()
    return () => {
      this.#listeners.delete(listener)
      if (this.#listeners.size === 0) this.stop()
    }
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = undefined
    this.#unwatch?.()
    this.#unwatch = undefined
    this.#high = undefined
    this.#base = undefined
    this.#sent.clear()
  }

  /** Polls now, or once more right after the poll in progress. */
  poke(): Promise<void> {
    if (this.#running) {
      this.#again = true
      return this.#running
    }
    this.#running = (async () => {
      try {
        do {
          this.#again = false
          await this.#poll()
        } while (this.#again && this.#listeners.size > 0)
      } catch (err) {
        this.#log.warn({ err }, 'alerts stream poll failed; retrying on the next tick')
      } finally {
        this.#running = undefined
      }
    })()
    return this.#running
  }

  async #poll(): Promise<void> {
    if (this.#listeners.size === 0) return
    if (!this.#high) {
      this.#high = await this.#alerts.latestChange()
      this.#base = this.#high
      return
    }
    const fresh: FeedPosition[] = []
    let from: FeedPosition = { micros: Math.max(0, this.#high.micros - this.#overlapUs), id: '', version: 0 }
    for (;;) {
      const rows = await this.#alerts.changesAfter(from, this.#page)
      for (const r of rows) {
        const key = encodeFeedPosition(r)
        if (this.#sent.has(key) || (this.#base && compare(r, this.#base) <= 0)) continue
        this.#sent.set(key, r.micros)
        fresh.push(r)
      }
      const last = rows[rows.length - 1]
      if (last && compare(last, this.#high) > 0) this.#high = last
      if (rows.length < this.#page || !last) break
      from = last
    }
    const floor = this.#high.micros - this.#overlapUs
    for (const [key, us] of this.#sent) if (us < floor) this.#sent.delete(key)
    if (fresh.length === 0) return
    const items = await itemsFor(this.#alerts, fresh)
    for (const listener of this.#listeners) listener(items)
  }
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name]
  return Array.isArray(v) ? v[0] : v
}

const message = (id: FeedPosition, alert: Alert) => `id: ${encodeFeedPosition(id)}\nevent: alert\ndata: ${JSON.stringify(alert)}\n\n`

export function alertsStreamRoutes(alerts: AlertStore, options: AlertsStreamOptions = {}): FastifyPluginAsync {
  const keepAliveMs = options.keepAliveMs ?? 15_000
  const maxQueued = options.maxQueued ?? 1000
  const page = options.page ?? 1000
  return async (app) => {
    const feed = new AlertFeed(alerts, app.log, { pollMs: options.pollMs ?? 500, overlapMs: options.overlapMs ?? 5000, page })
    /** Open connections, so the app's close ends them instead of waiting for them. */
    const open = new Set<() => void>()
    app.addHook('preClose', async () => {
      for (const end of [...open]) end()
      feed.stop()
    })

    app.get('/v1/alerts/stream', { config: { permission: 'alerts:read' } }, async (req: FastifyRequest, reply: FastifyReply) => {
      const lastId = header(req, 'last-event-id')
      let resume: FeedPosition | undefined
      if (lastId !== undefined && lastId !== '') {
        resume = decodeFeedPosition(lastId)
        if (!resume) throw new VigilError('VIGIL_ERR_ALERTS_BAD_LAST_EVENT_ID')
      }
      // fastify answers HEAD with this handler too: the headers, never a stream that stays open.
      if (req.method === 'HEAD') return reply.header('content-type', 'text/event-stream; charset=utf-8').header('cache-control', 'no-store').send()

      // Subscribe before reading where the feed stands or the backlog: a change stored in
      // between is then both in the backlog and in the queue, and is sent once (below).
      const queue: StreamItem[] = []
      let closed = false
      let overflowed = false
      let wake: (() => void) | undefined
      const unsubscribe = await feed.subscribe((items) => {
        if (closed) return
        if (queue.length + items.length > maxQueued) {
          overflowed = true
          queue.length = 0
        } else {
          queue.push(...items)
        }
        wake?.()
      })
      let here: FeedPosition
      try {
        here = resume ?? (await alerts.latestChange())
      } catch (err) {
        unsubscribe()
        throw err
      }

      const raw = reply.raw
      reply.hijack()
      const headers: Record<string, string | number | string[]> = {}
      for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined) headers[k] = v
      raw.writeHead(200, {
        ...headers,
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      })
      raw.flushHeaders()
      const keepAlive = setInterval(() => {
        if (!closed) raw.write(': keep-alive\n\n')
      }, keepAliveMs)
      keepAlive.unref()
      const finish = () => {
        if (closed) return
        closed = true
        clearInterval(keepAlive)
        unsubscribe()
        open.delete(shutdown)
        queue.length = 0
        wake?.()
      }
      // On the app's close: end the stream, and drop it if a reader that stopped reading holds it.
      const shutdown = () => {
        finish()
        raw.end()
        setTimeout(() => raw.destroy(), 1000).unref()
      }
      open.add(shutdown)
      raw.on('close', finish)
      raw.on('error', finish)

      const write = async (text: string) => {
        if (closed) return
        if (!raw.write(text)) {
          await new Promise<void>((resolve) => {
            const done = () => {
              raw.off('drain', done)
              raw.off('close', done)
              resolve()
            }
            raw.on('drain', done)
            raw.on('close', done)
          })
        }
      }

      // The id each message carries never goes back: a late change (stored before one already
      // sent) goes out under the newest id sent, so a resume never repeats what was sent.
      let last = here
      const send = async (item: StreamItem) => {
        if (compare(item.pos, last) > 0) last = item.pos
        await write(message(last, item.alert))
      }

      try {
        if (resume) {
          // The backlog: every change after the client's position, page by page.
          for (let from = resume; !closed; ) {
            const rows = await alerts.changesAfter(from, page)
            for (const item of await itemsFor(alerts, rows)) await send(item)
            const tail = rows[rows.length - 1]
            if (rows.length < page || !tail) break
            from = tail
          }
        } else {
          await write(`id: ${encodeFeedPosition(here)}\nevent: hello\ndata: ${JSON.stringify({ at: new Date().toISOString() })}\n\n`)
        }
        const caughtUp = last
        while (!closed) {
          if (overflowed) {
            req.log.warn({ position: encodeFeedPosition(last) }, 'alerts stream reader too slow; closing so it resumes from its last id')
            break
          }
          const item = queue.shift()
          if (!item) {
            await new Promise<void>((resolve) => (wake = resolve))
            wake = undefined
            continue
          }
          // Already sent with the backlog (or before this client's position).
          if (compare(item.pos, caughtUp) <= 0) continue
          await send(item)
        }
      } catch (err) {
        req.log.error({ err }, 'alerts stream failed')
      } finally {
        finish()
        raw.end()
      }
    })
  }
}
