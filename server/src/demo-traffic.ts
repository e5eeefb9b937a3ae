/**
 * `vigil up --demo` (`startDemo`): the live demo of `@vigil/demo` — the demo trading API
 * behind `@vigil/guard`, shipping its events to us as source `demo` and following our
 * control channel, driven by the simulator's clean traffic and a cycle of labelled attacks.
 *
 * Also a small clean-event generator (`demoEvent`, `demoBatch`, `postDemoBatch`): ordinary
 * CONTRACT §1 events (each key trades from its own desk's addresses, logins succeed, orders
 * are of ordinary size) that tests and the false-alarm backfill (`npm run quality -- clean`)
 * post or store directly, without a trading API.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import type { Logger } from 'pino'
import { isVigilError, signPayload } from '@vigil/core'
import { startLiveDemo, type LiveDemo } from '@vigil/demo'
import type { SourceRegistry } from '@vigil/ingest'
import type { People } from './people.js'

export type Rng = () => number

interface Instrument {
  symbol: string
  venue: string
  currency: string
  price: number
}

const INSTRUMENTS: readonly Instrument[] = [
  { symbol: 'AAPL', venue: 'XNAS', currency: 'USD', price: 228 },
  { symbol: 'MSFT', venue: 'XNAS', currency: 'USD', price: 415 },
  { symbol: 'NVDA', venue: 'XNAS', currency: 'USD', price: 138 },
  { symbol: 'SPY', venue: 'ARCX', currency: 'USD', price: 590 },
  { symbol: 'JPM', venue: 'XNYS', currency: 'USD', price: 242 },
  { symbol: 'VOD', venue: 'XLON', currency: 'GBP', price: 0.71 },
  { symbol: 'AZN', venue: 'XLON', currency: 'GBP', price: 104 },
  { symbol: 'SAP', venue: 'XETR', currency: 'EUR', price: 221 },
  { symbol: 'ASML', venue: 'XAMS', currency: 'EUR', price: 652 },
  { symbol: 'NESN', venue: 'XSWX', currency: 'CHF', price: 76 },
  { symbol: '7203', venue: 'XTKS', currency: 'JPY', price: 2650 },
  { symbol: 'D05', venue: 'XSES', currency: 'SGD', price: 39 },
]

/** Desks and the public addresses they trade from (each resolves to its country). */
const DESKS: ReadonlyArray<{ country: string; ips: readonly string[]; userAgent: string }> = [
  { country: 'GB', ips: ['81.2.69.142'], userAgent: 'lse-gateway/4.2.1 (FIX bridge)' },
  { country: 'US', ips: ['98.137.11.163', '128.30.52.100'], userAgent: 'algo-engine/2.9.0 python-requests/2.32' },
  { country: 'DE', ips: ['85.214.132.117', '194.25.2.129'], userAgent: 'TradeDesk/7.1 (Windows NT 10.0; Win64; x64)' },
  { country: 'FR', ips: ['212.27.48.10', '62.210.16.6'], userAgent: 'okhttp/4.12.0' },
  { country: 'NL', ips: ['130.89.148.77'], userAgent: 'amsterdam-mm/1.4 Go-http-client/2.0' },
  { country: 'CH', ips: ['195.186.1.111'], userAgent: 'zrh-risk/3.0 Java/21' },
  { country: 'SG', ips: ['165.21.83.88'], userAgent: 'sg-desk/0.9 node-fetch' },
  { country: 'JP', ips: ['210.140.92.183', '202.12.27.33'], userAgent: 'tky-algo/5.5 libcurl/8.5' },
  { country: 'ES', ips: ['155.133.246.44'], userAgent: 'mad-broker/2.2 (Android 14)' },
]

interface DemoKey {
  apiKeyId: string
  accountId: string
  userId: string
  desk: (typeof DESKS)[number]
  /** One host per key: a desk's egress addresses can sit hundreds of km apart (Berlin and
   * Kleve for DE), and a key flipping between them every second is not clean traffic. */
  ip: string
  scopes: string[]
  /** Instruments this key trades; a real book is narrow. */
  book: Instrument[]
  typicalQty: number
}

const KEY_COUNT = 36

function pick<T>(rng: Rng, list: readonly T[]): T {
  return list[Math.floor(rng() * list.length)] as T
}

/** The same keys every run (seeded by index), so baselines build up across restarts. */
function demoKeys(): DemoKey[] {
  return Array.from({ length: KEY_COUNT }, (_, i) => {
    const desk = DESKS[i % DESKS.length]!
    const ip = desk.ips[Math.floor(i / DESKS.length) % desk.ips.length]!
    const book = [0, 1, 2].map((k) => INSTRUMENTS[(i * 5 + k * 3) % INSTRUMENTS.length]!)
    return {
      apiKeyId: `demo_key_${String(i + 1).padStart(2, '0')}`,
      accountId: `ACC-${10_400 + Math.floor(i / 2)}`,
      userId: `trader${String(i + 1).padStart(2, '0')}@demo.example`,
      desk,
      ip,
      scopes: i % 6 === 0 ? ['read', 'trade', 'withdraw'] : ['read', 'trade'],
      book,
      typicalQty: [10, 50, 100, 250, 1000][i % 5]!,
    }
  })
}

const KEYS = demoKeys()

/** `Date` has milliseconds; the contract allows (and trading APIs send) microseconds. */
function microTs(nowMs: number, rng: Rng): string {
  const micros = String(Math.floor(rng() * 1000)).padStart(3, '0')
  return new Date(nowMs).toISOString().replace('Z', `${micros}Z`)
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex')
const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits

function baseEvent(key: DemoKey, nowMs: number, rng: Rng) {
  return {
    id: `demo-${hex(10)}`,
    ts: microTs(nowMs - Math.floor(rng() * 900), rng),
    api_key_id: key.apiKeyId,
    account_id: key.accountId,
    user_id: key.userId,
    session_id: `sess-${key.apiKeyId.slice(-2)}-${Math.floor(nowMs / 3_600_000).toString(36)}`,
    client_ip: key.ip,
    user_agent: key.desk.userAgent,
    scopes: key.scopes,
    tls: { version: 'TLSv1.3', cipher: pick(rng, ['TLS_AES_256_GCM_SHA384', 'TLS_AES_128_GCM_SHA256', 'TLS_CHACHA20_POLY1305_SHA256']) },
  }
}

function http(method: string, path: string, status: number, rng: Rng, bytesIn: number) {
  return {
    method,
    path,
    status,
    latency_ms: round(0.8 + rng() * rng() * 40, 3),
    bytes_in: bytesIn,
    bytes_out: 180 + Math.floor(rng() * 900),
    request_id: `req_${hex(8)}`,
  }
}

/** One clean event for a random key: mostly orders and reads, a few cancels and logins. */
export function demoEvent(nowMs: number, rng: Rng = Math.random): Record<string, unknown> {
  const key = pick(rng, KEYS)
  const base = baseEvent(key, nowMs, rng)
  const roll = rng()
  if (roll < 0.45) {
    const inst = pick(rng, key.book)
    const side = rng() < 0.5 ? 'buy' : 'sell'
    const type = rng() < 0.7 ? 'limit' : 'market'
    const qty = Math.max(1, Math.round(key.typicalQty * (0.5 + rng())))
    const price = round(inst.price * (1 + (rng() - 0.5) * 0.004), inst.price < 10 ? 4 : 2)
    const clientOrderId = `c-${hex(6)}`
    return {
      ...base,
      action: 'order.new',
      outcome: 'success',
      http: http('POST', '/v2/orders', 201, rng, 220 + Math.floor(rng() * 120)),
      order: {
        id: `ord_${hex(8)}`,
        client_order_id: clientOrderId,
        symbol: inst.symbol,
        side,
        type,
        qty,
        ...(type === 'limit' ? { price } : {}),
        notional: round(qty * price, 2),
        currency: inst.currency,
        venue: inst.venue,
        tif: type === 'limit' ? pick(rng, ['day', 'gtc', 'ioc']) : 'ioc',
      },
    }
  }
  if (roll < 0.6) {
    const inst = pick(rng, key.book)
    const orderId = `ord_${hex(8)}`
    return {
      ...base,
      action: 'order.cancel',
      outcome: 'success',
      http: http('DELETE', `/v2/orders/${orderId}`, 200, rng, 0),
      order: { id: orderId, symbol: inst.symbol, venue: inst.venue, currency: inst.currency },
    }
  }
  if (roll < 0.97) {
    const path = pick(rng, ['/v2/positions', '/v2/orders?status=open', '/v2/account', `/v2/quotes/${pick(rng, key.book).symbol}`, '/v2/fills?limit=50'])
    return { ...base, action: 'api.request', outcome: 'success', http: http('GET', path, 200, rng, 0) }
  }
  return { ...base, action: 'auth.login', outcome: 'success', http: http('POST', '/v2/session', 200, rng, 96) }
}

/** A batch as NDJSON, each line one event. */
export function demoBatch(count: number, nowMs: number, rng: Rng = Math.random): string {
  let out = ''
  for (let i = 0; i < count; i++) out += JSON.stringify(demoEvent(nowMs, rng)) + '\n'
  return out
}

/** Where `postDemoBatch` sends: our own API, as the source named. */
export interface DemoTarget {
  /** Base URL of our own API, e.g. `http://127.0.0.1:8080`. */
  url: string
  source: string
  secret: string
}

/** Posts one signed, gzip NDJSON batch exactly as CONTRACT §2 asks of a trading API. */
export async function postDemoBatch(opts: DemoTarget, ndjson: string): Promise<Response> {
  const body = gzipSync(Buffer.from(ndjson, 'utf8'))
  const timestamp = String(Math.floor(Date.now() / 1000))
  return fetch(new URL('/v1/events', opts.url), {
    method: 'POST',
    headers: {
      'content-type': 'application/x-ndjson',
      'content-encoding': 'gzip',
      'vigil-source': opts.source,
      'vigil-timestamp': timestamp,
      // Over the bytes as sent: the gzip stream, not the NDJSON inside it.
      'vigil-signature': signPayload(opts.secret, timestamp, body),
    },
    body,
    signal: AbortSignal.timeout(10_000),
  })
}

/**
 * `vigil up --demo`: creates source `demo` (or rotates it, since an existing secret is never
 * shown again) and starts the live demo of `@vigil/demo` against us — the demo trading API
 * behind the guard, shipping to `url` as `demo` and following our control channel, and the
 * simulator's clean traffic and attack cycle through it. The shipper's overflow lives in
 * `<dataDir>/demo-outbox`.
 */
/**
 * `tls`: when Vigil serves HTTPS, its own certificate file, trusted by the demo's guard (a
 * self-signed one included). A Vigil that asks machine clients for certificates
 * (`VIGIL_TLS_CLIENT_CA`) cannot run the demo: its guard has none (runtime.ts refuses).
 */
export async function startDemo(sources: SourceRegistry, url: string, logger: Logger, dataDir: string, tls?: { certFile: string }): Promise<LiveDemo> {
  let secret: string
  try {
    secret = (await sources.add('demo', { by: 'vigil up --demo' })).secret
  } catch (err) {
    if (!(isVigilError(err) && err.errName === 'VIGIL_ERR_SOURCE_EXISTS')) throw err
    secret = (await sources.rotate('demo', { by: 'vigil up --demo' })).secret
  }
  const outbox = path.join(dataDir, 'demo-outbox')
  mkdirSync(outbox, { recursive: true, mode: 0o700 })
  return startLiveDemo({
    vigilUrl: url,
    source: 'demo',
    secret,
    dataDir: outbox,
    logger: logger.child({ part: 'demo' }),
    ...(tls ? { tls: { ca: readFileSync(tls.certFile) } } : {}),
  })
}

/** The person `vigil up --demo` creates so the dashboard can be tried at once. */
export const DEMO_ADMIN_EMAIL = 'admin@demo.example'

/**
 * `vigil up --demo` on a Vigil without people: adds `admin@demo.example` (role admin) with a
 * generated password written to `<dataDir>/demo-admin-password` (owner-only), never logged.
 * Returns null when people exist already (the demo never adds a second account or resets one).
 */
export async function demoSignIn(people: Pick<People, 'add' | 'users'>, dataDir: string): Promise<{ email: string; file: string } | null> {
  if ((await people.users.list()).length > 0) return null
  const added = await people.add(DEMO_ADMIN_EMAIL, { role: 'admin' }, 'vigil up --demo')
  if (!added.initial_password) return null
  const file = path.join(dataDir, 'demo-admin-password')
  writeFileSync(file, `${added.initial_password}\n`, { mode: 0o600 })
  return { email: DEMO_ADMIN_EMAIL, file }
}
