import { createHmac, timingSafeEqual } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { gunzipSync } from 'node:zlib'
import { afterEach, describe, expect, it } from 'vitest'
import type { GuardEvent } from './seams.js'
import { createShipper, type Shipper, type ShipperOptions } from './shipper.js'

const SOURCE = 'desk-eu-1'
const SECRET = 'whsec_Zq9-shipper-test-secret-4711'

interface Received {
  events: Array<Record<string, unknown>>
  /** Events per accepted request, in arrival order. */
  batches: number[]
  requests: number
  requestTimes: number[]
}

/** An answer in place of the normal one; `hang` never answers at all. */
type Answer = { status: number; headers?: Record<string, string>; body?: unknown } | 'hang' | undefined

/**
 * A stand-in for Vigil's ingest speaking CONTRACT §2: it checks Vigil-Source, the timestamp
 * window and the HMAC over the body bytes exactly as sent, refuses a replayed signature,
 * gunzips, reads NDJSON, answers duplicates by id. `answer` may override any request first.
 */
class IngestStandIn {
  readonly received: Received = { events: [], batches: [], requests: 0, requestTimes: [] }
  answer: (events: Array<Record<string, unknown>>, n: number) => Answer = () => undefined
  readonly #ids = new Set<string>()
  readonly #signatures = new Set<string>()
  #server: Server | undefined
  port = 0

  constructor(readonly secret: string = SECRET) {}

  async start(port = 0): Promise<void> {
    const server = createServer((req, res) => void this.#handle(req, res))
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
    this.port = (server.address() as AddressInfo).port
    this.#server = server
  }

  async stop(): Promise<void> {
    const s = this.#server
    this.#server = undefined
    if (!s) return
    s.closeAllConnections()
    await new Promise<void>((resolve) => s.close(() => resolve()))
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const raw = Buffer.concat(chunks)
    const n = this.received.requests++
    this.received.requestTimes.push(Date.now())
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers })
      res.end(JSON.stringify(body))
    }
    const err = (status: number, code: string, headers?: Record<string, string>) => send(status, { error: { code, message: code } }, headers)
    if (req.method !== 'POST' || req.url !== '/v1/events') return err(404, 'not_found')
    if (req.headers['vigil-source'] !== SOURCE) return err(401, 'unauthorized')
    const ts = String(req.headers['vigil-timestamp'] ?? '')
    if (!/^\d+$/.test(ts) || Math.abs(Date.now() / 1000 - Number(ts)) > 300) return err(401, 'stale_timestamp')
    const sig = String(req.headers['vigil-signature'] ?? '')
    const expected = createHmac('sha256', this.secret).update(`${ts}.`).update(raw).digest()
    const given = Buffer.from(sig.replace(/^v1=/, ''), 'hex')
    if (!sig.startsWith('v1=') || given.length !== expected.length || !timingSafeEqual(given, expected)) return err(401, 'bad_signature')
    if (this.#signatures.has(sig)) return err(409, 'replayed')
    this.#signatures.add(sig)
    if (req.headers['content-encoding'] !== 'gzip') return err(415, 'unsupported_media_type')
    if (req.headers['content-type'] !== 'application/x-ndjson') return err(415, 'unsupported_media_type')
    let events: Array<Record<string, unknown>>
    try {
      events = gunzipSync(raw)
        .toString('utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
    } catch {
      return err(400, 'malformed_body')
    }
    const override = this.answer(events, n)
    if (override === 'hang') return
    if (override) return send(override.status, override.body ?? {}, override.headers)
    let duplicates = 0
    const rejected: Array<{ index: number; error: string }> = []
    events.forEach((e, index) => {
      if (e.action === 'bad.action!') return rejected.push({ index, error: 'action: not a dotted name' })
      const id = String(e.id)
      if (this.#ids.has(id)) return duplicates++
      this.#ids.add(id)
      this.received.events.push(e)
    })
    this.received.batches.push(events.length)
    send(202, { accepted: events.length - duplicates - rejected.length, duplicates, rejected })
  }
}

let seq = 0
function event(extra: Partial<GuardEvent> = {}): GuardEvent {
  seq++
  return {
    id: '',
    ts: new Date().toISOString(),
    action: 'order.new',
    outcome: 'success',
    api_key_id: 'key-1',
    http: { method: 'POST', path: '/orders', status: 201, latency_ms: 1.5 },
    attrs: { n: String(seq) },
    ...extra,
  }
}

const dirs: string[] = []
const shippers: Shipper[] = []
const standIns: IngestStandIn[] = []
afterEach(async () => {
  for (const s of shippers.splice(0)) await s.close(200)
  for (const v of standIns.splice(0)) await v.stop()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function dataDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'vigil-shipper-'))
  dirs.push(d)
  return d
}

async function standIn(port = 0, secret = SECRET): Promise<IngestStandIn> {
  const v = new IngestStandIn(secret)
  await v.start(port)
  standIns.push(v)
  return v
}

/** A port that refuses connections now (Vigil down) and can be listened on later. */
async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as AddressInfo).port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

function shipper(options: Partial<ShipperOptions> & { vigilUrl: string; dataDir: string }): Shipper {
  const s = createShipper({ source: SOURCE, secret: SECRET, flushMs: 20, retryBaseMs: 20, retryMaxMs: 400, timeoutMs: 2000, ...options })
  shippers.push(s)
  return s
}

async function until(check: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

const attrN = (e: Record<string, unknown>) => (e.attrs as Record<string, string>).n
const deadLetters = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.startsWith('rejected-'))
    .flatMap((f) => readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean))
    .map((l) => JSON.parse(l) as { error: string; event: Record<string, unknown> })

describe('shipper', () => {
  it('ships signed gzip NDJSON batches of at most maxBatchEvents, every event with a ULID-like id', async () => {
    const vigil = await standIn()
    const s = shipper({ vigilUrl: vigil.url, dataDir: dataDir(), maxBatchEvents: 100 })
    const sent = Array.from({ length: 250 }, () => event())
    for (const e of sent) s.emit(e)
    expect(await s.flush()).toBe(true)
    expect(vigil.received.events.map(attrN)).toEqual(sent.map((e) => e.attrs?.n))
    expect(Math.max(...vigil.received.batches)).toBeLessThanOrEqual(100)
    const ids = vigil.received.events.map((e) => e.id as string)
    expect(new Set(ids).size).toBe(250)
    for (const id of ids) expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/)
    expect(s.stats()).toMatchObject({ sent: 250, duplicates: 0, rejected: 0, dropped: 0, queued: 0, inFlight: 0, onDisk: 0 })
  })

  it('keeps an id the trading API set, and counts a resent id as a duplicate', async () => {
    const vigil = await standIn()
    const s = shipper({ vigilUrl: vigil.url, dataDir: dataDir() })
    s.emit(event({ id: 'req-42' }))
    await s.flush()
    s.emit(event({ id: 'req-42' }))
    await s.flush()
    expect(vigil.received.events.map((e) => e.id)).toEqual(['req-42'])
    expect(s.stats()).toMatchObject({ sent: 1, duplicates: 1 })
  })

  it('Vigil down: emit returns at once, events overflow to disk, and every one arrives in order once it is back', async () => {
    const port = await freePort()
    const dir = dataDir()
    const s = shipper({ vigilUrl: `http://127.0.0.1:${port}`, dataDir: dir, maxBatchEvents: 50, memoryLimitEvents: 40 })
    const sent: GuardEvent[] = []
    for (let i = 0; i < 600; i++) {
      const e = event()
      sent.push(e)
      expect(() => s.emit(e)).not.toThrow()
    }
    await until(() => s.stats().onDisk > 400 && s.stats().lastError !== undefined, 'the overflow on disk')
    expect(readdirSync(dir).some((f) => /^seg-\d{16}\.ndjson$/.test(f))).toBe(true)
    expect(s.stats().lastError).toMatch(/network/)
    const vigil = await standIn(port)
    expect(await s.flush(20_000)).toBe(true)
    expect(vigil.received.events.map(attrN)).toEqual(sent.map((e) => e.attrs?.n))
    expect(s.stats()).toMatchObject({ sent: 600, dropped: 0, onDisk: 0, queued: 0 })
    // Delivered segments are deleted.
    expect(readdirSync(dir).filter((f) => f.startsWith('seg-'))).toEqual([])
  })

  it('disk full: events past diskLimitBytes are dropped and counted, the rest delivered', async () => {
    const port = await freePort()
    const s = shipper({ vigilUrl: `http://127.0.0.1:${port}`, dataDir: dataDir(), maxBatchEvents: 10, memoryLimitEvents: 10, diskLimitBytes: 4000 })
    for (let i = 0; i < 300; i++) s.emit(event())
    await until(() => s.stats().dropped > 0 && s.stats().queued === 0, 'drops')
    expect(s.stats().onDiskBytes).toBeLessThanOrEqual(4000)
    const vigil = await standIn(port)
    expect(await s.flush(20_000)).toBe(true)
    const st = s.stats()
    expect(st.sent).toBe(vigil.received.events.length)
    expect(st.sent + st.dropped).toBe(300)
    expect(st.sent).toBeGreaterThan(0)
  })

  it('honours Retry-After on 429 and 503', async () => {
    const vigil = await standIn()
    vigil.answer = (_e, n) => (n === 0 ? { status: 429, headers: { 'retry-after': '2' }, body: { error: { code: 'rate_limited' } } } : n === 1 ? { status: 503, headers: { 'retry-after': '1' }, body: { error: { code: 'unavailable' } } } : undefined)
    const s = shipper({ vigilUrl: vigil.url, dataDir: dataDir() })
    s.emit(event())
    expect(await s.flush()).toBe(true)
    const [t0, t1, t2] = vigil.received.requestTimes as [number, number, number]
    // Backoff alone would retry within a second (retryBaseMs 20); the waits are Vigil's.
    expect(t1 - t0).toBeGreaterThanOrEqual(1900)
    expect(t2 - t1).toBeGreaterThanOrEqual(900)
    expect(s.stats()).toMatchObject({ sent: 1, rejected: 0 })
    expect(s.stats().lastError).toMatch(/503 unavailable/)
  })

  it('413 splits the batch until it fits; a single event still too large is dead-lettered', async () => {
    const vigil = await standIn()
    vigil.answer = (events) => (events.length > 3 || events.some((e) => e.action === 'huge') ? { status: 413, body: { error: { code: 'payload_too_large' } } } : undefined)
    const dir = dataDir()
    const s = shipper({ vigilUrl: vigil.url, dataDir: dir, maxBatchEvents: 20, flushMs: 100 })
    const sent = Array.from({ length: 10 }, () => event())
    for (const e of sent.slice(0, 5)) s.emit(e)
    s.emit(event({ action: 'huge' }))
    for (const e of sent.slice(5)) s.emit(e)
    expect(await s.flush()).toBe(true)
    expect(vigil.received.events.map(attrN)).toEqual(sent.map((e) => e.attrs?.n))
    expect(Math.max(...vigil.received.batches)).toBeLessThanOrEqual(3)
    expect(s.stats()).toMatchObject({ sent: 10, rejected: 1 })
    const dead = deadLetters(dir)
    expect(dead).toHaveLength(1)
    expect(dead[0]).toMatchObject({ error: 'payload_too_large', event: { action: 'huge' } })
  })

  it('a wrong secret: re-signed a bounded number of times, then dead-lettered, never looping; the secret stays out of stats and logs', async () => {
    const vigil = await standIn()
    const dir = dataDir()
    const logs: unknown[] = []
    const logger = { warn: (o: object, m: string) => logs.push([o, m]), error: (o: object, m: string) => logs.push([o, m]) }
    const wrong = 'whsec_wrong-secret-0000000000'
    const s = createShipper({ vigilUrl: vigil.url, source: SOURCE, secret: wrong, dataDir: dir, flushMs: 10, retryBaseMs: 10, maxAuthRetries: 2, logger })
    shippers.push(s)
    s.emit(event())
    s.emit(event())
    expect(await s.flush()).toBe(true)
    expect(vigil.received.requests).toBe(3)
    expect(s.stats()).toMatchObject({ sent: 0, rejected: 2 })
    expect(deadLetters(dir).map((d) => d.error)).toEqual(['bad_signature', 'bad_signature'])
    const seen = JSON.stringify([logs, s.stats()])
    expect(seen).toContain('bad_signature')
    expect(seen).not.toContain(wrong)
  })

  it('other 4xx answers dead-letter the batch at once; a hostile error code echoing the secret is masked', async () => {
    // A secret that is also a well-formed error code, echoed back by a hostile Vigil: masking, not
    // the code filter, must keep it out.
    const secret = 'whsec_alpha_bravo_charlie_delta'
    const vigil = await standIn(0, secret)
    vigil.answer = () => ({ status: 400, body: { error: { code: secret, message: `your secret is ${secret}` } } })
    const dir = dataDir()
    const logs: unknown[] = []
    const s = createShipper({
      vigilUrl: vigil.url,
      source: SOURCE,
      secret,
      dataDir: dir,
      flushMs: 10,
      logger: { warn: (o, m) => logs.push([o, m]), error: (o, m) => logs.push([o, m]) },
    })
    shippers.push(s)
    s.emit(event())
    expect(await s.flush()).toBe(true)
    expect(vigil.received.requests).toBe(1)
    expect(s.stats().rejected).toBe(1)
    expect(s.stats().lastError).toContain('HTTP 400')
    expect(deadLetters(dir)).toHaveLength(1)
    expect(JSON.stringify([logs, s.stats()])).not.toContain(secret)
  })

  it('events Vigil rejects one by one are dead-lettered and counted; the good ones in the batch are kept', async () => {
    const vigil = await standIn()
    const dir = dataDir()
    const s = shipper({ vigilUrl: vigil.url, dataDir: dir })
    s.emit(event())
    s.emit(event({ action: 'bad.action!' }))
    s.emit(event())
    expect(await s.flush()).toBe(true)
    expect(vigil.received.events).toHaveLength(2)
    expect(s.stats()).toMatchObject({ sent: 2, rejected: 1 })
    expect(deadLetters(dir)).toEqual([expect.objectContaining({ error: 'action: not a dotted name', event: expect.objectContaining({ action: 'bad.action!' }) })])
  })

  it('a restart on the same dataDir resumes the events left on disk, in order', async () => {
    const port = await freePort()
    const dir = dataDir()
    const first = createShipper({ vigilUrl: `http://127.0.0.1:${port}`, source: SOURCE, secret: SECRET, dataDir: dir, flushMs: 10, retryBaseMs: 20, maxBatchEvents: 30, memoryLimitEvents: 25 })
    const sent = Array.from({ length: 100 }, () => event())
    // 10 in flight from memory, then 75 overflow to disk and 15 stay in memory: close() must
    // put the batch in flight before the overflow, and memory after it.
    for (const e of sent.slice(0, 10)) first.emit(e)
    await until(() => first.stats().inFlight === 10, 'a batch in flight')
    for (const e of sent.slice(10)) first.emit(e)
    await until(() => first.stats().onDisk === 75, 'the overflow')
    await first.close(300)
    expect(first.stats()).toMatchObject({ onDisk: 100, queued: 0, inFlight: 0 })
    expect(first.stats().dropped).toBe(0)
    first.emit(event())
    expect(first.stats().dropped).toBe(1)

    const vigil = await standIn(port)
    const second = shipper({ vigilUrl: vigil.url, dataDir: dir })
    expect(await second.flush()).toBe(true)
    expect(vigil.received.events.map(attrN)).toEqual(sent.map((e) => e.attrs?.n))
    expect(second.stats()).toMatchObject({ sent: 100, dropped: 0 })
  })

  it('a Vigil that never answers: the request times out and is retried; nothing lost', async () => {
    const vigil = await standIn()
    vigil.answer = (_e, n) => (n === 0 ? 'hang' : undefined)
    const s = shipper({ vigilUrl: vigil.url, dataDir: dataDir(), timeoutMs: 300 })
    s.emit(event())
    expect(await s.flush()).toBe(true)
    expect(vigil.received.requests).toBe(2)
    expect(vigil.received.events).toHaveLength(1)
    expect(s.stats().lastError).toMatch(/timeout|abort/i)
  })

  it('emit never throws: an event that cannot be serialised is dropped and counted', async () => {
    const vigil = await standIn()
    const s = shipper({ vigilUrl: vigil.url, dataDir: dataDir() })
    const cyclic = event() as GuardEvent & { self?: unknown }
    cyclic.self = cyclic
    expect(() => s.emit(cyclic)).not.toThrow()
    s.emit(event())
    expect(await s.flush()).toBe(true)
    expect(s.stats()).toMatchObject({ sent: 1, dropped: 1 })
  })
})
