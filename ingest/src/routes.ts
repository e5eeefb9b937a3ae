/**
 * `POST /v1/events` exactly as CONTRACT §2. The order of checks matters:
 *   1. the source, its timestamp and its signature over the bytes as sent — before the body
 *      is decompressed or parsed, so an unauthenticated sender cannot make us inflate a zip
 *      bomb or parse anything;
 *   2. replay (the same signature twice), then the rate limit;
 *   3. media type, decompression (bounded), parsing, the event-count limit;
 *   4. each event on its own: a bad one is rejected by index, the good ones are kept;
 *   5. 202 only once the accepted rows are durable (in ClickHouse or the fsync'd spool).
 */
import { gunzip } from 'node:zlib'
import { promisify } from 'node:util'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import { VigilError, isVigilError, verifySignature, type VigilConfig } from '@vigil/core'
import type { SourceRegistry } from './sources.js'
import type { BatchWriter } from './batch-writer.js'
import type { IdempotencyCache } from './idempotency.js'
import type { ReplayCache } from './replay-cache.js'
import type { SourceRateLimiter } from './rate-limit.js'
import { normalizeEvent, type RequestContext } from './normalize.js'
import type { GeoLookup } from './geo.js'
import { ingestClock } from './clock.js'

const gunzipAsync = promisify(gunzip)

export interface IngestCounters {
  request(code: string): void
  accepted(source: string, n: number): void
  duplicates(source: string, n: number): void
  rejected(source: string, n: number): void
}

export interface RouteDeps {
  config: VigilConfig
  logger: Logger
  sources: SourceRegistry
  writer: BatchWriter
  idempotency: IdempotencyCache
  replay: ReplayCache
  rateLimiter: SourceRateLimiter
  geo: GeoLookup
  counters?: IngestCounters
  /** False once shutdown has begun. */
  accepting: () => boolean
}

export interface IngestResult {
  accepted: number
  duplicates: number
  rejected: Array<{ index: number; error: string }>
}

const SIG_HEX = /v1=([0-9a-fA-F]{64})/g

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name]
  return Array.isArray(v) ? v[0] : v
}

/** The signature value that verified, to key the replay cache. */
function matchedSignatures(sigHeader: string): string[] {
  return [...sigHeader.matchAll(SIG_HEX)].map((m) => (m[1] as string).toLowerCase())
}

async function decode(req: FastifyRequest, body: Buffer, maxBytes: number): Promise<Buffer> {
  const enc = (header(req, 'content-encoding') ?? 'identity').trim().toLowerCase()
  if (enc === 'identity' || enc === '') return body
  if (enc !== 'gzip' && enc !== 'x-gzip') throw new VigilError('VIGIL_ERR_INGEST_UNSUPPORTED_MEDIA_TYPE', `content-encoding ${enc.slice(0, 32)}`)
  try {
    return await gunzipAsync(body, { maxOutputLength: maxBytes })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
      throw new VigilError('VIGIL_ERR_INGEST_PAYLOAD_TOO_LARGE', `more than ${maxBytes} bytes after decompression`)
    }
    throw new VigilError('VIGIL_ERR_INGEST_MALFORMED_BODY', 'gzip data is corrupt')
  }
}

type Parsed = { items: unknown[]; lineErrors: Map<number, string> }

function parseBody(kind: 'ndjson' | 'json', text: string, maxEvents: number): Parsed {
  const lineErrors = new Map<number, string>()
  if (kind === 'json') {
    let doc: unknown
    try {
      doc = JSON.parse(text)
    } catch {
      throw new VigilError('VIGIL_ERR_INGEST_MALFORMED_BODY', 'not valid JSON')
    }
    const items = Array.isArray(doc) ? doc : doc !== null && typeof doc === 'object' ? [doc] : undefined
    if (!items) throw new VigilError('VIGIL_ERR_INGEST_MALFORMED_BODY', 'expected an event object or an array of events')
    if (items.length > maxEvents) throw new VigilError('VIGIL_ERR_INGEST_PAYLOAD_TOO_LARGE', `more than ${maxEvents} events`)
    return { items, lineErrors }
  }
  // NDJSON: one event per non-empty line; `index` counts events, blank lines are skipped.
  const items: unknown[] = []
  let start = 0
  while (start < text.length) {
    let end = text.indexOf('\n', start)
    if (end === -1) end = text.length
    let line = text.slice(start, end)
    start = end + 1
    if (line.endsWith('\r')) line = line.slice(0, -1)
    if (line.trim() === '') continue
    if (items.length >= maxEvents) throw new VigilError('VIGIL_ERR_INGEST_PAYLOAD_TOO_LARGE', `more than ${maxEvents} events`)
    try {
      items.push(JSON.parse(line))
    } catch {
      lineErrors.set(items.length, 'line is not valid JSON')
      items.push(undefined)
    }
  }
  return { items, lineErrors }
}

function mediaKind(req: FastifyRequest): 'ndjson' | 'json' {
  const ct = (header(req, 'content-type') ?? '').split(';')[0]?.trim().toLowerCase()
  if (ct === 'application/x-ndjson' || ct === 'application/ndjson' || ct === 'application/jsonl') return 'ndjson'
  if (ct === 'application/json') return 'json'
  throw new VigilError('VIGIL_ERR_INGEST_UNSUPPORTED_MEDIA_TYPE')
}

function sendError(reply: FastifyReply, err: VigilError): FastifyReply {
  for (const [k, v] of Object.entries(err.headers)) reply.header(k, v)
  return reply.code(err.statusCode).send(err.toBody())
}

/** Maps what fastify's own body handling throws onto the contract's codes. */
function toVigilError(err: unknown): VigilError | undefined {
  if (isVigilError(err)) return err
  const code = (err as { code?: string } | undefined)?.code
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new VigilError('VIGIL_ERR_INGEST_PAYLOAD_TOO_LARGE')
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') {
    return new VigilError('VIGIL_ERR_INGEST_UNSUPPORTED_MEDIA_TYPE')
  }
  if (typeof code === 'string' && code.startsWith('FST_ERR_CTP')) return new VigilError('VIGIL_ERR_INGEST_MALFORMED_BODY')
  return undefined
}

export function ingestRoutes(deps: RouteDeps): FastifyPluginAsync {
  const { config, sources, writer, idempotency, replay, rateLimiter, geo, logger } = deps
  const maxBytes = config.ingest.maxBytes
  const tolerance = config.ingest.signatureToleranceSec

  async function handle(req: FastifyRequest): Promise<IngestResult> {
    // 1. who is sending, and is this exactly what they signed?
    const source = header(req, 'vigil-source')
    if (!source) throw new VigilError('VIGIL_ERR_INGEST_UNAUTHORIZED', 'Vigil-Source header missing')
    const secrets = await sources.secretsFor(source).catch((cause: unknown) => {
      throw new VigilError('VIGIL_ERR_INGEST_UNAVAILABLE', 'source registry unavailable', { headers: { 'Retry-After': '5' }, cause })
    })
    if (!secrets) throw new VigilError('VIGIL_ERR_INGEST_UNAUTHORIZED')
    const ts = header(req, 'vigil-timestamp') ?? ''
    const nowSec = Date.now() / 1000
    if (!/^\d{1,12}$/.test(ts) || Math.abs(nowSec - Number(ts)) > tolerance) throw new VigilError('VIGIL_ERR_INGEST_STALE_TIMESTAMP')
    const sigHeader = header(req, 'vigil-signature') ?? ''
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)
    if (!sigHeader || !verifySignature(secrets, ts, raw, sigHeader)) throw new VigilError('VIGIL_ERR_INGEST_BAD_SIGNATURE')

    // 2. once only, and not too fast
    const sigs = matchedSignatures(sigHeader)
    for (const sig of sigs) {
      if (!(await replay.firstUse(source, sig))) throw new VigilError('VIGIL_ERR_INGEST_REPLAYED')
    }
    const wait = rateLimiter.check(source)
    if (wait > 0) throw new VigilError('VIGIL_ERR_INGEST_RATE_LIMITED', undefined, { headers: { 'Retry-After': String(wait) } })
    if (!deps.accepting()) throw new VigilError('VIGIL_ERR_INGEST_UNAVAILABLE', 'shutting down', { headers: { 'Retry-After': '5' } })

    // 3. what is in the body
    const kind = mediaKind(req)
    const body = await decode(req, raw, maxBytes)
    if (body.length > maxBytes) throw new VigilError('VIGIL_ERR_INGEST_PAYLOAD_TOO_LARGE')
    const text = body.toString('utf8')
    if (text.trim() === '') throw new VigilError('VIGIL_ERR_INGEST_MALFORMED_BODY', 'no events')
    const { items, lineErrors } = parseBody(kind, text, config.ingest.maxEvents)
    const waitMore = rateLimiter.take(source, items.length)
    if (waitMore > 0) throw new VigilError('VIGIL_ERR_INGEST_RATE_LIMITED', undefined, { headers: { 'Retry-After': String(waitMore) } })

    // 4. each event on its own
    const clock = ingestClock()
    const ctx: RequestContext = { source, receivedAt: clock.iso, receivedMs: clock.ms, geo }
    const rejected: IngestResult['rejected'] = []
    const rows: string[] = []
    const values: unknown[][] = []
    const clientIds: string[] = []
    const clientIdRow: number[] = []
    for (let i = 0; i < items.length; i++) {
      const lineError = lineErrors.get(i)
      if (lineError) {
        rejected.push({ index: i, error: lineError })
        continue
      }
      const n = normalizeEvent(items[i], ctx)
      if (!n.ok) {
        rejected.push({ index: i, error: n.error })
        continue
      }
      if (n.clientId) {
        clientIds.push(n.id)
        clientIdRow.push(rows.length)
      }
      rows.push(n.row)
      values.push(n.values)
    }

    // Retries of ids already stored, and repeats inside this request, are duplicates.
    let duplicates = 0
    let keep: string[] = rows
    let keepValues: unknown[][] = values
    const newIds: string[] = []
    if (clientIds.length > 0) {
      const seen = await idempotency.seen(source, clientIds)
      const drop = new Set<number>()
      const inRequest = new Set<string>()
      for (let j = 0; j < clientIds.length; j++) {
        const id = clientIds[j] as string
        if (seen[j] || inRequest.has(id)) drop.add(clientIdRow[j] as number)
        else {
          inRequest.add(id)
          newIds.push(id)
        }
      }
      if (drop.size > 0) {
        duplicates = drop.size
        keep = rows.filter((_, r) => !drop.has(r))
        keepValues = values.filter((_, r) => !drop.has(r))
      }
    }

    // 5. durable, then answered
    if (keep.length > 0) await writer.write(Buffer.from(keep.join('')), keep.length, keepValues)
    await idempotency.remember(source, newIds)
    deps.counters?.accepted(source, keep.length)
    deps.counters?.duplicates(source, duplicates)
    deps.counters?.rejected(source, rejected.length)
    return { accepted: keep.length, duplicates, rejected }
  }

  return async function plugin(app: FastifyInstance) {
    // The signature covers the bytes exactly as sent, so the body is taken raw whatever its
    // declared type; the handler decides what it accepts.
    app.removeAllContentTypeParsers()
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxBytes }, (_req, body, done) => done(null, body))

    app.setErrorHandler((err, req, reply) => {
      const known = toVigilError(err)
      if (known) {
        deps.counters?.request(known.code)
        return sendError(reply, known)
      }
      logger.error({ err, url: req.url }, 'ingest request failed')
      deps.counters?.request('internal_error')
      return sendError(reply, new VigilError('VIGIL_ERR_INTERNAL'))
    })

    app.post('/v1/events', { config: { permission: 'source' }, bodyLimit: maxBytes }, async (req, reply) => {
      const result = await handle(req)
      deps.counters?.request('accepted')
      return reply.code(202).send(result)
    })
  }
}
