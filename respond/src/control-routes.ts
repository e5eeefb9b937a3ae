/**
 * The control channel (CONTRACT §3): `GET /v1/control/state` and the Server-Sent Events stream
 * `GET /v1/control/stream`, what a trading API's guard reads to enforce revocations and
 * kill-switches.
 *
 * Relied on by: guards. What they rely on:
 * - Requests are signed like ingest (CONTRACT §2) with the body taken as the empty string:
 *   `Vigil-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.")>`.
 * - Every stream message is `id: <version>`, `event: delta`, `data: <one ControlDelta>`, in
 *   version order, each version exactly once. A guard resuming with `Last-Event-ID: n` (what
 *   EventSource sends by itself) or `?since=n` gets every delta with version > n, then live
 *   ones. Without a resume point the stream opens with `event: hello` carrying the current
 *   version (as its id): the guard fetches /state once and follows from there.
 * - `: keep-alive` comments every 15 s let the guard tell a quiet channel from a dead one.
 * - A connection that cannot keep up (more than `maxQueued` deltas waiting) is closed; the guard
 *   reconnects with its last version and loses nothing. Memory per connection stays bounded.
 * No replay cache, unlike ingest: these are idempotent reads, so a replayed signature gains an
 * eavesdropper nothing a fresh one would not (the answer is the same public state) and changes
 * nothing; the timestamp window still bounds how long a captured request stays usable.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import { VigilError, verifySignature } from '@vigil/core'
import type { ControlLog } from './control-log.js'
import type { ControlDelta } from './seams.js'

export interface ControlRoutesDeps {
  control: ControlLog
  /** The source registry's current secrets for a source id (several while rotating), or undefined. */
  secretsFor(source: string): Promise<readonly string[] | undefined>
  /** Allowed clock difference for Vigil-Timestamp, in seconds (ingest's, 300 by default). */
  toleranceSec: number
  logger: Logger
  /** @defaultValue 15000 */
  keepAliveMs?: number
  /** Deltas waiting to be written before the connection is closed. @defaultValue 10000 */
  maxQueued?: number
  /** Deltas read from storage per backlog page. @defaultValue 1000 */
  backlogPage?: number
}

const VERSION = /^\d{1,15}$/
const EMPTY = Buffer.alloc(0)

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name]
  return Array.isArray(v) ? v[0] : v
}

/** `?since=` or `Last-Event-ID` as a version, undefined when neither was sent. */
function resumePoint(req: FastifyRequest): number | undefined {
  const last = header(req, 'last-event-id')
  const q = req.query as Record<string, unknown> | undefined
  const since = q?.since
  const raw = last !== undefined && last !== '' ? last : since
  if (raw === undefined) return undefined
  if (typeof raw !== 'string' || !VERSION.test(raw)) throw new VigilError('VIGIL_ERR_CONTROL_BAD_VERSION')
  return Number(raw)
}

const message = (d: ControlDelta) => `id: ${d.version}\nevent: delta\ndata: ${JSON.stringify(d)}\n\n`

export function controlRoutes(deps: ControlRoutesDeps): FastifyPluginAsync {
  const { control, logger } = deps
  const keepAliveMs = deps.keepAliveMs ?? 15_000
  const maxQueued = deps.maxQueued ?? 10_000
  const backlogPage = deps.backlogPage ?? 1000

  async function authenticate(req: FastifyRequest): Promise<string> {
    const source = header(req, 'vigil-source')
    if (!source) throw new VigilError('VIGIL_ERR_CONTROL_UNAUTHORIZED', 'Vigil-Source header missing')
    const secrets = await deps.secretsFor(source).catch((cause: unknown) => {
      throw new VigilError('VIGIL_ERR_API_UNAVAILABLE', 'source registry unavailable', { headers: { 'Retry-After': '5' }, cause })
    })
    if (!secrets || secrets.length === 0) throw new VigilError('VIGIL_ERR_CONTROL_UNAUTHORIZED')
    const ts = header(req, 'vigil-timestamp') ?? ''
    if (!/^\d{1,12}$/.test(ts) || Math.abs(Date.now() / 1000 - Number(ts)) > deps.toleranceSec) throw new VigilError('VIGIL_ERR_CONTROL_STALE_TIMESTAMP')
    const sig = header(req, 'vigil-signature') ?? ''
    if (!sig || !verifySignature(secrets, ts, EMPTY, sig)) throw new VigilError('VIGIL_ERR_CONTROL_BAD_SIGNATURE')
    return source
  }

  async function stream(req: FastifyRequest, reply: FastifyReply, source: string): Promise<void> {
    const since = resumePoint(req)
    const current = await control.version()
    if (since !== undefined && since > current) throw new VigilError('VIGIL_ERR_CONTROL_VERSION_GONE', `the latest version is ${current}`)

    // Subscribe before reading the backlog: a delta committed in between is then both in the
    // backlog and in the queue, and the version check below sends it once.
    const queue: ControlDelta[] = []
    let closed = false
    let overflowed = false
    let wake: (() => void) | undefined
    const unsubscribe = await control.subscribe((d) => {
      if (closed) return
      if (queue.length >= maxQueued) {
        overflowed = true
        queue.length = 0
      } else {
        queue.push(d)
      }
      wake?.()
    })

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
    // Node sends the head with the first body bytes: a resumed stream with nothing to catch up
    // on would otherwise answer nothing until the first delta or keep-alive (15 s), and a guard
    // waiting for the response headers gives up and reconnects in a loop.
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
      queue.length = 0
      wake?.()
    }
    raw.on('close', finish)
    raw.on('error', finish)

    /** Writes, and waits while the socket's buffer is full so a slow reader slows the backlog. */
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

    let last: number
    if (since === undefined) {
      last = current
      await write(`id: ${current}\nevent: hello\ndata: ${JSON.stringify({ version: current })}\n\n`)
    } else {
      last = since
    }

    /** Everything stored after `last`, up to `until` when given. */
    const catchUp = async (until?: number) => {
      for (;;) {
        if (closed) return
        const page = await control.since(last, backlogPage)
        for (const d of page) {
          if (until !== undefined && d.version > until) return
          // Storage is the truth: a version it lacks (a tail cut from the log) is not waited for.
          await write(message(d))
          last = d.version
        }
        if (page.length < backlogPage) return
      }
    }

    try {
      await catchUp()
      while (!closed) {
        if (overflowed) {
          logger.warn({ source, version: last }, 'control stream reader too slow; closing so it resumes from its version')
          break
        }
        const d = queue.shift()
        if (!d) {
          await new Promise<void>((resolve) => (wake = resolve))
          wake = undefined
          continue
        }
        if (d.version <= last) continue
        // A delta missed on pub/sub (a reconnect) shows as a jump: fetch the gap from storage.
        if (d.version > last + 1) await catchUp(d.version - 1)
        if (d.version > last) {
          await write(message(d))
          last = d.version
        }
      }
    } catch (err) {
      logger.error({ err, source, version: last }, 'control stream failed')
    } finally {
      finish()
      raw.end()
    }
  }

  return async (app) => {
    app.get('/v1/control/state', { config: { permission: 'source' } }, async (req, reply) => {
      await authenticate(req)
      const state = await control.state()
      return reply.header('cache-control', 'no-store').send(state)
    })

    app.get('/v1/control/stream', { config: { permission: 'source' } }, async (req, reply) => {
      const source = await authenticate(req)
      await stream(req, reply, source)
    })
  }
}
