/**
 * `npm run bench -- detect`: event-to-alert latency and the CPU cost of one detection tick,
 * at a sustained ingest rate into `vigil up` with a large history already stored.
 *
 * 1. History (child process "prestore"): `--stored` ordinary events (default 10,000,000) over
 *    the past `--days` (default 28) of event time, on `--keys` API keys, are written straight
 *    into the `events` table of a fresh data dir by one `INSERT … SELECT` per 500,000 rows
 *    (materialized views fire on those inserts, so every rollup and baseline holds them).
 *    Each row is stamped as received a fraction of a millisecond after its event time, as if
 *    it had arrived live, and the detector's cursor (`detect_cursor`) is set to the newest
 *    of them: "already stored" means already seen by detection, as in a Vigil that has been
 *    running. The live run's detectors still read that history (baselines, fat-finger
 *    medians, geo history, windows) but do not re-walk 10 M rows as new arrivals.
 * 2. `vigil up` in this process (`startVigil`, embedded ClickHouse, private Redis), with
 *    `DetectionEngine.prototype.tick` wrapped to time every tick (wall and process CPU).
 * 3. Load (child process "load", so its CPU is not Vigil's): signed NDJSON batches of
 *    `--batch` events (default 1,000) paced to `--rate` events/s (default 20,000) of clean
 *    traffic on the same keys (each key from one host, ordinary orders, reads and logins),
 *    for a warm-up, then `--duration` s measured (default 60), then a tail. During the
 *    measured part, every `--attack-every` s (default 1) one batch carries an attack on a
 *    fresh entity: alternately 12 forged signatures on one new key from one address
 *    (auth.brute_force) and 30 unknown-key failures across 15 keys from one new address
 *    (auth.credential_stuffing), each from its own /24.
 * 4. Latency = the alert's `detected_at` − its `event_received_at` (ingest's clock), for each
 *    injected attack's alert, read from `alert_changes`. Alerts on anything not injected
 *    are counted as false alarms.
 * 5. Tick CPU: process CPU (all threads: JS, chDB's query threads) during each tick, and the
 *    marginal cost: (CPU rate while detecting − CPU rate over a control stretch of the same
 *    load with ticks paused) ÷ ticks per second.
 * Results and the machine go to docs/benchmarks.md.
 *
 * Options (`--name=value` or `--name value`): --stored=10000000 --days=28 --keys=auto
 * --rate=20000 --batch=1000 --duration=60 --warmup=10 --tail=5 --drain=120 --control=15 --attack-every=1;
 * --render writes the doc again from the last run's figures (in the temp dir).
 */
import { spawn } from 'node:child_process'
import { createHmac } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os, { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { execFileSync } from 'node:child_process'
import { CORE_MIGRATIONS_DIR, loadConfig, migrate, openStore } from '@vigil/core'
import { BUILTIN_DETECTORS, chTimeToMs, DETECT_MIGRATIONS_DIR, DetectionEngine, type TickResult } from '@vigil/detect'
import { startVigil } from '@vigil/server'
import { machine, writeSection } from './machine.js'

const here = fileURLToPath(import.meta.url)
const root = path.resolve(path.dirname(here), '../..')
const ROLE_ENV = 'VIGIL_BENCH_DETECT_ROLE'
/** The last run's figures, so the doc can be written again from them (`--render`). */
const LAST_RESULT = path.join(tmpdir(), 'vigil-bench-detect-last.json')

// ---------------------------------------------------------------------------------------
// What the clean traffic looks like: the demo generator's desks, books and sizes
// (server/src/demo-traffic.ts), spread over many keys. Shared by history and live load.

const INSTRUMENTS = [
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
] as const
const DESKS = [
  { ips: ['81.2.69.142'], ua: 'lse-gateway/4.2.1 (FIX bridge)' },
  { ips: ['98.137.11.163', '128.30.52.100'], ua: 'algo-engine/2.9.0 python-requests/2.32' },
  { ips: ['85.214.132.117', '194.25.2.129'], ua: 'TradeDesk/7.1 (Windows NT 10.0; Win64; x64)' },
  { ips: ['212.27.48.10', '62.210.16.6'], ua: 'okhttp/4.12.0' },
  { ips: ['130.89.148.77'], ua: 'amsterdam-mm/1.4 Go-http-client/2.0' },
  { ips: ['195.186.1.111'], ua: 'zrh-risk/3.0 Java/21' },
  { ips: ['165.21.83.88'], ua: 'sg-desk/0.9 node-fetch' },
  { ips: ['210.140.92.183', '202.12.27.33'], ua: 'tky-algo/5.5 libcurl/8.5' },
  { ips: ['155.133.246.44'], ua: 'mad-broker/2.2 (Android 14)' },
] as const
const QTYS = [10, 50, 100, 250, 1000] as const
const READ_PATHS = ['/v2/positions', '/v2/orders?status=open', '/v2/account', '/v2/fills?limit=50'] as const
/** Per mille: order.new, order.cancel, api.request; the rest auth.login (all successes). */
const MIX = { order: 100, cancel: 150, read: 980 } as const
/** Share of events that are orders, for sizing the key population. */
const ORDER_SHARE = MIX.order / 1000

interface KeyProfile {
  k: number
  apiKeyId: string
  accountId: string
  userId: string
  /** One host per key, inside its desk's /24. */
  ip: string
  ua: string
  scopes: string[]
  /** Indexes into INSTRUMENTS. */
  book: [number, number, number]
  typicalQty: number
}

function keyProfile(k: number): KeyProfile {
  const desk = DESKS[k % DESKS.length] as (typeof DESKS)[number]
  const slot = Math.floor(k / DESKS.length)
  const base = desk.ips[slot % desk.ips.length] as string
  const host = 1 + (Math.floor(slot / desk.ips.length) % 254)
  return {
    k,
    apiKeyId: `bk_${String(k).padStart(6, '0')}`,
    accountId: `ACC-${100_000 + Math.floor(k / 2)}`,
    userId: `trader${k}@bench.example`,
    ip: `${base.slice(0, base.lastIndexOf('.'))}.${host}`,
    ua: desk.ua,
    scopes: k % 6 === 0 ? ['read', 'trade', 'withdraw'] : ['read', 'trade'],
    book: [(k * 5) % 12, (k * 5 + 3) % 12, (k * 5 + 6) % 12],
    typicalQty: QTYS[k % QTYS.length] as number,
  }
}

/** Keys enough that no key reaches volume.spike's min_count (20 orders in a 10-minute bucket). */
function autoKeys(rate: number, seconds: number): number {
  return Math.max(20_000, Math.ceil((rate * ORDER_SHARE * Math.min(seconds, 600)) / 12))
}

/** The attacks of a run, known to the orchestrator and the load generator alike. */
interface Injection {
  n: number
  kind: 'brute_force' | 'credential_stuffing'
  rule: string
  entityType: string
  entityId: string
  ip: string
  /** Seconds after the start of the measured part. */
  atS: number
}

function injectionPlan(run: string, durationS: number, everyS: number): Injection[] {
  const out: Injection[] = []
  for (let n = 0; n * everyS < durationS - 0.5; n++) {
    const bf = n % 2 === 0
    // Each attack from its own /24 (CGNAT space), so no two of them add up to a network's.
    const ip = bf ? `100.${64 + (n >> 8)}.${n & 255}.10` : `100.${96 + (n >> 8)}.${n & 255}.20`
    out.push({
      n,
      kind: bf ? 'brute_force' : 'credential_stuffing',
      rule: bf ? 'auth.brute_force' : 'auth.credential_stuffing',
      entityType: bf ? 'api_key' : 'ip',
      entityId: bf ? `bfk_${run}_${n}` : ip,
      ip,
      atS: n * everyS + 0.25,
    })
  }
  return out
}

// ---------------------------------------------------------------------------------------
// Small helpers.

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[i] as number
}
const sortNum = (xs: number[]) => [...xs].sort((a, b) => a - b)
const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN)
const cpuMs = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage) => (b.user - a.user + b.system - a.system) / 1000
const fmt = (n: number, d = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }) : 'n/a')
/** Epoch ms with µs → RFC 3339 with 6 fractional digits. */
function isoMicros(ms: number): string {
  const whole = Math.floor(ms)
  return `${new Date(whole).toISOString().slice(0, 23)}${String(Math.floor((ms - whole) * 1000)).padStart(3, '0')}Z`
}

function parseArgs(argv: readonly string[]): Map<string, string> {
  const out = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    if (!a.startsWith('--')) continue
    const eq = a.indexOf('=')
    if (eq > 0) out.set(a.slice(2, eq), a.slice(eq + 1))
    else if (argv[i + 1] !== undefined && !(argv[i + 1] as string).startsWith('--')) out.set(a.slice(2), argv[++i] as string)
    else out.set(a.slice(2), 'true')
  }
  return out
}

// ---------------------------------------------------------------------------------------
// Role "prestore": the history, in its own process (chDB is one engine per process).

interface PrestoreJob {
  dataDir: string
  stored: number
  days: number
  keys: number
  endMs: number
}

async function prestore(job: PrestoreJob): Promise<void> {
  const { default: geoip } = await import('geoip-lite')
  const store = await openStore(loadConfig({ VIGIL_DATA_DIR: job.dataDir }, { cwd: job.dataDir }))
  try {
    await migrate(store, [
      { dir: CORE_MIGRATIONS_DIR, scope: 'core' },
      { dir: DETECT_MIGRATIONS_DIR, scope: 'detect' },
    ])
    // The key profiles as a table, geo looked up as ingest does (geoip-lite), for the join.
    await store.command(`CREATE TABLE bench_keys (k UInt64, api_key_id String, account_id String, user_id String, ip String, ua String,
      scopes Array(String), book Array(UInt8), typ Float64, country String, region String, city String, lat Nullable(Float64), lon Nullable(Float64))
      ENGINE = MergeTree ORDER BY k`)
    let lines = ''
    for (let k = 0; k < job.keys; k++) {
      const p = keyProfile(k)
      const g = geoip.lookup(p.ip)
      const geo = g && g.country ? { country: g.country, region: g.region ?? '', city: g.city ?? '', lat: g.ll?.[0] ?? null, lon: g.ll?.[1] ?? null } : { country: '', region: '', city: '', lat: null, lon: null }
      lines += JSON.stringify({ k, api_key_id: p.apiKeyId, account_id: p.accountId, user_id: p.userId, ip: p.ip, ua: p.ua, scopes: p.scopes, book: p.book, typ: p.typicalQty, ...geo }) + '\n'
    }
    await store.insertNdjson('bench_keys', ['k', 'api_key_id', 'account_id', 'user_id', 'ip', 'ua', 'scopes', 'book', 'typ', 'country', 'region', 'city', 'lat', 'lon'], lines)

    const startNs = BigInt(job.endMs - job.days * 86_400_000) * 1_000_000n
    const stepNs = (BigInt(job.days) * 86_400_000_000_000n) / BigInt(job.stored)
    const arr = (xs: readonly (string | number)[]) => `[${xs.map((x) => (typeof x === 'number' ? String(x) : `'${x}'`)).join(', ')}]`
    const SYM = arr(INSTRUMENTS.map((i) => i.symbol))
    const VEN = arr(INSTRUMENTS.map((i) => i.venue))
    const CCY = arr(INSTRUMENTS.map((i) => i.currency))
    const PX = `[${INSTRUMENTS.map((i) => i.price.toFixed(2)).join(', ')}]::Array(Float64)`
    const READS = arr(READ_PATHS)
    const chunk = 500_000
    const t0 = performance.now()
    for (let off = 0; off < job.stored; off += chunk) {
      await store.command(historySql(off, Math.min(chunk, job.stored - off), { startNs, stepNs, keys: job.keys, SYM, VEN, CCY, PX, READS }))
      const done = Math.min(job.stored, off + chunk)
      process.stderr.write(`bench detect: stored ${done.toLocaleString('en-US')} / ${job.stored.toLocaleString('en-US')} (${Math.round(done / ((performance.now() - t0) / 1000)).toLocaleString('en-US')} rows/s)\n`)
    }
    const seconds = (performance.now() - t0) / 1000
    await store.command('DROP TABLE bench_keys')
    // Detection has seen all of it: its cursor at the newest arrival.
    await store.command("INSERT INTO detect_cursor (name, received_at, id) SELECT 'default', max(received_at), '' FROM events")
    // Let background merges settle, as they would have in a Vigil that stored this over weeks.
    const settleEnd = Date.now() + 180_000
    while (Date.now() < settleEnd) {
      const [m] = await store.query<{ n: string }>('SELECT toString(count()) AS n FROM system.merges')
      if (Number(m?.n ?? 0) === 0) break
      await sleep(1000)
    }
    const [stat] = await store.query<{ rows: string; cursor: string; first: string; last: string }>(
      "SELECT toString(count()) AS rows, toString(max(received_at)) AS cursor, toString(min(ts)) AS first, toString(max(ts)) AS last FROM events",
    )
    process.stdout.write(JSON.stringify({ rows: Number(stat?.rows), seconds, rowsPerSec: job.stored / seconds, cursor: stat?.cursor, first: stat?.first, last: stat?.last }) + '\n')
  } finally {
    await store.close()
  }
}

interface SqlParts {
  startNs: bigint
  stepNs: bigint
  keys: number
  SYM: string
  VEN: string
  CCY: string
  PX: string
  READS: string
}

/** One chunk of history: rows `off` … `off + cnt − 1` of the whole, generated by ClickHouse. */
function historySql(off: number, cnt: number, p: SqlParts): string {
  return `
INSERT INTO events (source, received_at, clock_skew_ms, geo_country, geo_region, geo_city, geo_lat, geo_lon, id, ts, action, outcome, reason,
  api_key_id, account_id, user_id, session_id, client_ip, user_agent, scopes, http_method, http_path, http_status, http_latency_ms,
  http_bytes_in, http_bytes_out, http_request_id, tls_version, tls_cipher, order_id, order_client_order_id, order_symbol, order_side,
  order_type, order_qty, order_price, order_notional, order_currency, order_venue, order_tif)
SELECT 'bench', fromUnixTimestamp64Nano(t_ns + skew_ns, 'UTC'), skew_ns / 1e6, country, region, city, lat, lon,
  concat('h', toString(number)), fromUnixTimestamp64Nano(t_ns, 'UTC'), a, 'success', '',
  api_key_id, account_id, user_id, concat('sess-', toString(k), '-', toString(intDiv(t_ns, 3600000000000))),
  toIPv6(ip), ua, scopes,
  multiIf(a = 'order.new', 'POST', a = 'order.cancel', 'DELETE', a = 'auth.login', 'POST', 'GET'),
  multiIf(a = 'order.new', '/v2/orders', a = 'order.cancel', concat('/v2/orders/ord_', lower(hex(h1))), a = 'auth.login', '/v2/session',
    ${p.READS}[1 + h1 % ${READ_PATHS.length}]),
  if(a = 'order.new', 201, 200), round(0.8 + r1 * r2 * 40, 3), if(a = 'order.new', 220 + h1 % 120, 0), 180 + h2 % 900,
  concat('req_', lower(hex(h2))), 'TLSv1.3', 'TLS_AES_256_GCM_SHA384',
  if(is_order, concat('ord_', lower(hex(h1))), ''), if(a = 'order.new', concat('c-', lower(hex(h2))), ''),
  if(is_order, ${p.SYM}[inst], ''), if(a = 'order.new', if(h2 % 2 = 0, 'buy', 'sell'), ''), if(a = 'order.new', 'limit', ''),
  if(a = 'order.new', qty, NULL), if(a = 'order.new', px, NULL), if(a = 'order.new', round(qty * px, 2), NULL),
  if(is_order, ${p.CCY}[inst], ''), if(is_order, ${p.VEN}[inst], ''), if(a = 'order.new', 'day', '')
FROM (
  SELECT *, toUInt32(book[1 + h1 % 3]) + 1 AS inst, greatest(1, round(typ * (0.5 + r3))) AS qty,
    round(${p.PX}[inst] * (1 + (r2 - 0.5) * 0.004), if(${p.PX}[inst] < 10, 4, 2)) AS px
  FROM (
    SELECT number, toInt64(${p.startNs}) + toInt64(number) * ${p.stepNs} AS t_ns, toInt64(50000 + cityHash64(number, 1) % 400000) AS skew_ns,
      cityHash64(number, 2) % ${p.keys} AS k, cityHash64(number, 3) % 1000 AS roll,
      multiIf(roll < ${MIX.order}, 'order.new', roll < ${MIX.cancel}, 'order.cancel', roll < ${MIX.read}, 'api.request', 'auth.login') AS a,
      a IN ('order.new', 'order.cancel') AS is_order,
      cityHash64(number, 4) AS h1, cityHash64(number, 5) AS h2,
      (cityHash64(number, 6) % 1000000) / 1e6 AS r1, (cityHash64(number, 7) % 1000000) / 1e6 AS r2, (cityHash64(number, 8) % 1000000) / 1e6 AS r3
    FROM numbers(${off}, ${cnt})
  ) AS n
  INNER JOIN bench_keys AS kp ON kp.k = n.k
)
SETTINGS throw_on_max_partitions_per_insert_block = 0`
}

// ---------------------------------------------------------------------------------------
// Role "load": the trading API, in its own process.

interface LoadJob {
  url: string
  source: string
  secret: string
  run: string
  rate: number
  batch: number
  keys: number
  /** Epoch ms the first batch is due. */
  t0: number
  warmupS: number
  durationS: number
  tailS: number
  attackEveryS: number
}

interface BatchRecord {
  seq: number
  schedAt: number
  sendAt: number
  ackAt: number
  status: number
  accepted: number
  rejected: number
  attacks: number[]
}

/** Most batches in flight; past it the generator waits, and the lag shows in schedAt − sendAt. */
const MAX_IN_FLIGHT = 32

async function load(job: LoadJob): Promise<void> {
  const intervalMs = (job.batch / job.rate) * 1000
  const totalBatches = Math.round(((job.warmupS + job.durationS + job.tailS) * 1000) / intervalMs)
  const measuredStart = job.t0 + job.warmupS * 1000
  const plan = injectionPlan(job.run, job.durationS, job.attackEveryS)
  const profiles = Array.from({ length: job.keys }, (_, k) => keyProfile(k))
  // Everything about a key that does not change, prebuilt.
  const fixed = profiles.map(
    (p) =>
      `"api_key_id":"${p.apiKeyId}","account_id":"${p.accountId}","user_id":"${p.userId}","client_ip":"${p.ip}","user_agent":"${p.ua}",` +
      `"scopes":${JSON.stringify(p.scopes)},"tls":{"version":"TLSv1.3","cipher":"TLS_AES_256_GCM_SHA384"}`,
  )
  const rnd = Math.random
  const hex = () => Math.floor(rnd() * 2 ** 48).toString(16)
  const httpOf = (method: string, p: string, status: number, bytesIn: number) =>
    `"http":{"method":"${method}","path":"${p}","status":${status},"latency_ms":${Math.round((0.8 + rnd() * rnd() * 40) * 1000) / 1000},"bytes_in":${bytesIn},"bytes_out":${180 + Math.floor(rnd() * 900)},"request_id":"req_${hex()}"}`

  function cleanEvent(id: string, tsMs: number): string {
    const k = Math.floor(rnd() * job.keys)
    const p = profiles[k] as KeyProfile
    const roll = Math.floor(rnd() * 1000)
    const head = `{"id":"${id}","ts":"${isoMicros(tsMs)}",${fixed[k] as string},"session_id":"sess-${k}-${Math.floor(tsMs / 3_600_000)}","outcome":"success"`
    if (roll < MIX.order) {
      const inst = INSTRUMENTS[p.book[Math.floor(rnd() * 3)] as number] as (typeof INSTRUMENTS)[number]
      const qty = Math.max(1, Math.round(p.typicalQty * (0.5 + rnd())))
      const digits = inst.price < 10 ? 4 : 2
      const price = Math.round(inst.price * (1 + (rnd() - 0.5) * 0.004) * 10 ** digits) / 10 ** digits
      return (
        `${head},"action":"order.new",${httpOf('POST', '/v2/orders', 201, 220 + Math.floor(rnd() * 120))},"order":{"id":"ord_${hex()}","client_order_id":"c-${hex()}",` +
        `"symbol":"${inst.symbol}","side":"${rnd() < 0.5 ? 'buy' : 'sell'}","type":"limit","qty":${qty},"price":${price},"notional":${Math.round(qty * price * 100) / 100},` +
        `"currency":"${inst.currency}","venue":"${inst.venue}","tif":"day"}}`
      )
    }
    if (roll < MIX.cancel) {
      const inst = INSTRUMENTS[p.book[Math.floor(rnd() * 3)] as number] as (typeof INSTRUMENTS)[number]
      const orderId = `ord_${hex()}`
      return `${head},"action":"order.cancel",${httpOf('DELETE', `/v2/orders/${orderId}`, 200, 0)},"order":{"id":"${orderId}","symbol":"${inst.symbol}","venue":"${inst.venue}","currency":"${inst.currency}"}}`
    }
    if (roll < MIX.read) return `${head},"action":"api.request",${httpOf('GET', READ_PATHS[Math.floor(rnd() * READ_PATHS.length)] as string, 200, 0)}}`
    return `${head},"action":"auth.login",${httpOf('POST', '/v2/session', 200, 96)}}`
  }

  function attackEvents(inj: Injection, nowMs: number): string[] {
    const out: string[] = []
    if (inj.kind === 'brute_force') {
      for (let j = 0; j < 12; j++) {
        out.push(
          JSON.stringify({
            id: `${job.run}-bf-${inj.n}-${j}`,
            ts: isoMicros(nowMs - 3000 + j * 250),
            action: 'api.request',
            outcome: 'failure',
            reason: 'bad_signature',
            api_key_id: inj.entityId,
            client_ip: inj.ip,
            user_agent: 'python-requests/2.32.3',
            http: { method: 'POST', path: '/v2/orders', status: 401 },
          }),
        )
      }
    } else {
      for (let j = 0; j < 30; j++) {
        out.push(
          JSON.stringify({
            id: `${job.run}-cs-${inj.n}-${j}`,
            ts: isoMicros(nowMs - 3000 + j * 100),
            action: 'api.request',
            outcome: 'failure',
            reason: 'unknown_key',
            api_key_id: `csk_${job.run}_${inj.n}_${j % 15}`,
            client_ip: inj.ip,
            user_agent: 'Go-http-client/1.1',
            http: { method: 'GET', path: '/v2/account', status: 401 },
          }),
        )
      }
    }
    return out
  }

  const records: BatchRecord[] = []
  const inFlight = new Set<Promise<void>>()
  let nextAttack = 0
  const cpu0 = process.cpuUsage()
  const wait0 = job.t0 - Date.now()
  if (wait0 > 0) await sleep(wait0)
  const endAt = job.t0 + totalBatches * intervalMs
  let lastLog = Date.now()
  for (let seq = 0; seq < totalBatches; seq++) {
    const schedAt = job.t0 + seq * intervalMs
    const wait = schedAt - Date.now()
    if (wait > 0) await sleep(wait)
    while (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight)
    const now = Date.now()
    // Open loop with an end: a sender that fell behind does not run past the planned end.
    if (now >= endAt) break
    if (process.env.BENCH_DEBUG && now - lastLog >= 1000) {
      lastLog = now
      const acked = records.filter((r) => r.ackAt > 0)
      process.stderr.write(`load +${now - job.t0} ms: sent ${records.length}, acked ${acked.length}, in flight ${inFlight.size}, behind ${Math.round(now - schedAt)} ms\n`)
    }
    const attacks: Injection[] = []
    while (nextAttack < plan.length && measuredStart + (plan[nextAttack] as Injection).atS * 1000 <= now) attacks.push(plan[nextAttack++] as Injection)
    const lines: string[] = []
    for (const a of attacks) lines.push(...attackEvents(a, now))
    const clean = job.batch - lines.length
    for (let i = 0; i < clean; i++) lines.push(cleanEvent(`${job.run}-${seq}-${i}`, now - intervalMs + ((i + 1) * intervalMs) / clean))
    const body = lines.join('\n') + '\n'
    const t = String(Math.floor(Date.now() / 1000))
    const sig = createHmac('sha256', job.secret).update(`${t}.`).update(body).digest('hex')
    const rec: BatchRecord = { seq, schedAt, sendAt: Date.now(), ackAt: 0, status: 0, accepted: 0, rejected: 0, attacks: attacks.map((a) => a.n) }
    records.push(rec)
    const p: Promise<void> = fetch(`${job.url}/v1/events`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-ndjson', 'vigil-source': job.source, 'vigil-timestamp': t, 'vigil-signature': `v1=${sig}` },
      signal: AbortSignal.timeout(30_000),
    })
      .then(async (res) => {
        const text = await res.text()
        rec.ackAt = Date.now()
        rec.status = res.status
        if (res.status === 202) {
          const j = JSON.parse(text) as { accepted: number; rejected: unknown[] }
          rec.accepted = j.accepted
          rec.rejected = j.rejected.length
        }
      })
      .catch(() => {
        rec.ackAt = Date.now()
        rec.status = -1
      })
      .finally(() => inFlight.delete(p))
    inFlight.add(p)
  }
  await Promise.all(inFlight)
  const cpu = process.cpuUsage(cpu0)
  process.stdout.write(JSON.stringify({ records, cpuMs: (cpu.user + cpu.system) / 1000, plan: plan.length }) + '\n')
}

// ---------------------------------------------------------------------------------------
// The orchestrator, which also hosts `vigil up`.

function runChild(role: string, job: unknown): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', here], {
      env: { ...process.env, [ROLE_ENV]: role, VIGIL_BENCH_DETECT_JOB: JSON.stringify(job) },
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    child.once('error', reject)
    child.once('exit', (code) => {
      if (code === 0) resolve(out.trim().split('\n').pop() as string)
      else reject(new Error(`bench detect: ${role} exited ${code}`))
    })
  })
}

/** Busy and total CPU time of the whole machine (all processes), ms. */
function machineCpu(): { busy: number; total: number } {
  let busy = 0
  let total = 0
  for (const c of os.cpus()) {
    const t = c.times
    busy += t.user + t.nice + t.sys + t.irq
    total += t.user + t.nice + t.sys + t.irq + t.idle
  }
  return { busy, total }
}

interface TickSample {
  start: number
  end: number
  wallMs: number
  cpuMs: number
  events: number
  created: number
  ok: boolean
}

async function orchestrate(): Promise<void> {
  const args = parseArgs(process.argv.slice(2))
  const num = (name: string, def: number) => {
    const v = Number(args.get(name) ?? process.env[`BENCH_${name.toUpperCase().replace(/-/g, '_')}`] ?? def)
    if (!Number.isFinite(v) || v < 0) throw new Error(`bench detect: --${name} must be a number`)
    return v
  }
  const stored = Math.round(num('stored', 10_000_000))
  const days = num('days', 28)
  const rate = num('rate', 20_000)
  const batch = Math.round(num('batch', 1000))
  const durationS = num('duration', 60)
  const warmupS = num('warmup', 10)
  const tailS = num('tail', 5)
  const drainS = num('drain', 120)
  const controlS = Math.max(5, num('control', 15))
  const attackEveryS = num('attack-every', 1)
  const keys = Math.round(num('keys', autoKeys(rate, warmupS + durationS + tailS)))
  const run = Date.now().toString(36)

  const uptimeBefore = execFileSync('uptime').toString().trim()
  console.log(`bench detect: ${machine()}`)
  console.log(`bench detect: before: ${uptimeBefore}`)
  const dataDir = mkdtempSync(path.join(tmpdir(), 'vigil-bench-detect-'))
  try {
    console.log(`bench detect: storing ${stored.toLocaleString('en-US')} events over ${days} days on ${keys.toLocaleString('en-US')} keys in ${dataDir}`)
    const pre = JSON.parse(await runChild('prestore', { dataDir, stored, days, keys, endMs: Date.now() - 60_000 } satisfies PrestoreJob)) as {
      rows: number
      seconds: number
      rowsPerSec: number
      cursor: string
    }
    const diskBytes = Number(execFileSync('du', ['-sb', dataDir]).toString().split('\t')[0])
    console.log(`bench detect: stored ${pre.rows.toLocaleString('en-US')} rows in ${Math.round(pre.seconds)} s (${Math.round(pre.rowsPerSec).toLocaleString('en-US')} rows/s), ${(diskBytes / 2 ** 30).toFixed(2)} GiB on disk; cursor ${pre.cursor}`)

    // Every tick of the engine `vigil up` starts, timed. Installed before it starts.
    const ticks: TickSample[] = []
    // BENCH_PAUSED=1 (diagnosis): ingest alone, no tick ever runs.
    let paused = Boolean(process.env.BENCH_PAUSED)
    let ticking = false
    // And the stretches between ticks, for what the process burns without one.
    const gaps: Array<{ start: number; wallMs: number; cpuMs: number }> = []
    let lastEnd: { w: number; cpu: NodeJS.CpuUsage } | undefined
    const realTick = DetectionEngine.prototype.tick
    DetectionEngine.prototype.tick = async function (this: DetectionEngine): Promise<TickResult> {
      if (paused) {
        lastEnd = undefined
        // Nothing read, nothing found (other counters the engine may add are zero too).
        return { events: 0, findings: 0, created: 0, repeated: 0 } as TickResult
      }
      ticking = true
      const c0 = process.cpuUsage()
      const w0 = performance.now()
      if (lastEnd) gaps.push({ start: performance.timeOrigin + lastEnd.w, wallMs: w0 - lastEnd.w, cpuMs: cpuMs(lastEnd.cpu, c0) })
      let r: TickResult | undefined
      try {
        r = await realTick.call(this)
        return r
      } finally {
        const w1 = performance.now()
        const start = performance.timeOrigin + w0
        const c1 = process.cpuUsage()
        ticks.push({ start, end: performance.timeOrigin + w1, wallMs: w1 - w0, cpuMs: cpuMs(c0, c1), events: r?.events ?? 0, created: r?.created ?? 0, ok: r !== undefined })
        lastEnd = { w: w1, cpu: c1 }
        ticking = false
      }
    }

    // Batches ingest made durable reach the engine in process (`offer`, judged at once); the
    // ticks above are then only its catch-up reads of the stream. Paused: handed-over batches
    // are dropped (the stream read after the control would find them, but the run ends first).
    const realOffer = DetectionEngine.prototype.offer
    let offered = 0
    DetectionEngine.prototype.offer = function (this: DetectionEngine, events) {
      if (paused) return
      offered += events.length
      realOffer.call(this, events)
    }

    // And every detector's share of a pass, and each pass of them all over one page of the
    // stream or one lot of handed-over events.
    interface Pass {
      page: unknown
      start: number
      w0: number
      cpu0: NodeJS.CpuUsage
      wallMs: number
      cpuMs: number
    }
    const passes: Pass[] = []
    let pass: Pass | undefined
    const detectorMs = new Map<string, Array<{ start: number; ms: number }>>()
    const realDetect = new Map(BUILTIN_DETECTORS.map((d) => [d, d.detect]))
    for (const d of BUILTIN_DETECTORS) {
      const inner = d.detect
      const list: Array<{ start: number; ms: number }> = []
      detectorMs.set(d.ruleId, list)
      d.detect = async (events, ctx) => {
        // Paused: a tick still in progress reads on to the end of the stream (a tick runs until
        // it has caught up), but judges nothing, so it ends soon and close need not wait for it.
        if (paused) return []
        const w0 = performance.now()
        // One pass = every detector over one page of the stream (at most 20,000 events).
        if (!pass || pass.page !== events) {
          pass = { page: events, start: performance.timeOrigin + w0, w0, cpu0: process.cpuUsage(), wallMs: 0, cpuMs: 0 }
          passes.push(pass)
        }
        const current = pass
        try {
          return await inner.call(d, events, ctx)
        } finally {
          const w1 = performance.now()
          list.push({ start: performance.timeOrigin + w0, ms: w1 - w0 })
          current.wallMs = w1 - current.w0
          current.cpuMs = cpuMs(current.cpu0, process.cpuUsage())
        }
      }
    }

    const env: NodeJS.ProcessEnv = { ...process.env, VIGIL_DATA_DIR: dataDir, VIGIL_HOST: '127.0.0.1', VIGIL_PORT: '0', VIGIL_LOG_LEVEL: 'warn' }
    delete env.REDIS_URL
    delete env.CLICKHOUSE_URL
    const handle = await startVigil(loadConfig(env, { cwd: dataDir }))
    try {
      const { secret } = await handle.sources.add('bench', { by: 'bench detect' })
      const plan = injectionPlan(run, durationS, attackEveryS)
      // Room for the load child to start (tsx compiles it): on a busy machine 2 s was not
      // enough, and a sender that starts after its planned end sends nothing.
      const t0 = Date.now() + 10_000
      const mStart = t0 + warmupS * 1000
      const mEnd = mStart + durationS * 1000
      const loadEnd = mEnd + tailS * 1000
      const until = (t: number) => sleep(Math.max(0, t - Date.now()))
      const job: LoadJob = { url: handle.url, source: 'bench', secret, run, rate, batch, keys, t0, warmupS, durationS, tailS, attackEveryS }
      const loadDone = runChild('load', job)
      console.log(
        `bench detect: ${rate.toLocaleString('en-US')} events/s in batches of ${batch}: ${warmupS} s warm-up, ${durationS} s measured with ${plan.length} attacks, ${tailS} s tail`,
      )

      await until(mStart)
      const cpuA0 = process.cpuUsage()
      const machA0 = machineCpu()
      const wA0 = performance.now()
      await until(mEnd)
      const cpuA = cpuMs(cpuA0, process.cpuUsage())
      const machA = machineCpu()
      const wallA = performance.now() - wA0
      const uptimeDuring = execFileSync('uptime').toString().trim()
      const loadOut = JSON.parse(await loadDone) as { records: BatchRecord[]; cpuMs: number }
      const loadStopped = Date.now()

      // Drain: detection goes on until every attack has its alert (or --drain s pass).
      const ids = plan.map((p) => p.entityId)
      const injectedAlerted = async () =>
        Number(
          (await handle.store.query<{ n: string }>('SELECT toString(uniqExact(entity_id)) AS n FROM alert_changes WHERE version = 1 AND entity_id IN {ids:Array(String)}', { ids }))[0]?.n ?? 0,
        )
      while (Date.now() < loadStopped + drainS * 1000 && (await injectedAlerted()) < plan.length) await sleep(500)
      const drainedMs = Date.now() - loadStopped

      // Control: the same load with ticks paused, for Vigil's CPU without detection. Only once
      // the engine is idle (a tick reads until it has caught up, and cannot be cut short).
      paused = true
      const idleBy = Date.now() + 60_000
      while (ticking && Date.now() < idleBy) await sleep(50)
      let control: { cpuMs: number; wallMs: number; achieved: number; machineBusy: number } | undefined
      if (!ticking) {
        const c0 = Date.now() + 10_000
        const controlDone = runChild('load', { ...job, run: `${run}c`, t0: c0, warmupS: controlS, durationS: 0, tailS: 0 })
        await until(c0 + 3000)
        const cpuB0 = process.cpuUsage()
        const machB0 = machineCpu()
        const wB0 = performance.now()
        const from = Date.now()
        await until(c0 + controlS * 1000 - 500)
        const cpuB = cpuMs(cpuB0, process.cpuUsage())
        const wallB = performance.now() - wB0
        const machB = machineCpu()
        const out = JSON.parse(await controlDone) as { records: BatchRecord[] }
        const acc = out.records.filter((r) => r.sendAt >= from && r.sendAt < from + wallB).reduce((sum, r) => sum + r.accepted, 0)
        control = { cpuMs: cpuB, wallMs: wallB, achieved: acc / (wallB / 1000), machineBusy: (machB.busy - machB0.busy) / wallB }
      }

      // --- alerts
      const rows = await handle.store.query<{ rule: string; et: string; eid: string; det: string; recv: string }>(
        'SELECT rule, entity_type AS et, entity_id AS eid, toString(detected_at) AS det, toString(event_received_at) AS recv FROM alert_changes WHERE version = 1',
      )
      const want = new Map(plan.map((p) => [`${p.rule}\u0000${p.entityId}`, p]))
      const batchOf = new Map<number, BatchRecord>()
      for (const r of loadOut.records) for (const n of r.attacks) batchOf.set(n, r)
      const found: Array<{ inj: Injection; latencyMs: number; detMs: number; recvMs: number }> = []
      const unexpected: typeof rows = []
      for (const r of rows) {
        const inj = want.get(`${r.rule}\u0000${r.eid}`)
        if (!inj) {
          unexpected.push(r)
          continue
        }
        const detMs = chTimeToMs(r.det)
        const recvMs = chTimeToMs(r.recv)
        found.push({ inj, latencyMs: detMs - recvMs, detMs, recvMs })
      }
      const lat = sortNum(found.map((f) => f.latencyMs))
      const latBy = (rule: string) => sortNum(found.filter((f) => f.inj.rule === rule).map((f) => f.latencyMs))
      // Where the time goes: ingest stamp → durable (202) → the tick that found it → stored.
      const ackMinusRecv: number[] = []
      const pickup: number[] = []
      const inTick: number[] = []
      const sendToAlert: number[] = []
      for (const f of found) {
        const b = batchOf.get(f.inj.n)
        if (b && b.ackAt > 0) {
          ackMinusRecv.push(b.ackAt - f.recvMs)
          sendToAlert.push(f.detMs - b.sendAt)
        }
        // The pass that stored it (a stream page or handed-over events): the detectors' last one to start before.
        const t = passes.filter((x) => x.start <= f.detMs + 1).at(-1)
        if (t) {
          pickup.push(t.start - f.recvMs)
          inTick.push(f.detMs - t.start)
        }
      }

      // --- ingest
      const inM = loadOut.records.filter((r) => r.sendAt >= mStart && r.sendAt < mEnd)
      // A run without load measures nothing: say so rather than print empty figures.
      if (inM.length === 0) throw new Error(`the load generator sent no batch in the measured part (${loadOut.records.length} in all): it started too late or could not connect`)
      const all = loadOut.records
      const count = (rs: BatchRecord[], f: (r: BatchRecord) => boolean) => rs.filter(f).length
      const acceptedM = inM.reduce((s, r) => s + r.accepted, 0)
      const reqLat = sortNum(all.filter((r) => r.status === 202).map((r) => r.ackAt - r.sendAt))
      const lag = sortNum(all.map((r) => r.sendAt - r.schedAt))

      // --- ticks
      const tM = ticks.filter((t) => t.start >= mStart && t.start < mEnd)
      const pM = passes.filter((x) => x.start >= mStart && x.start < mEnd)
      const pEvents = pM.map((x) => (x.page as unknown[]).length)
      const tWall = sortNum(tM.map((t) => t.wallMs))
      const tCpu = sortNum(tM.map((t) => t.cpuMs))
      const rateA = cpuA / wallA
      const rateB = control ? control.cpuMs / control.wallMs : Number.NaN
      const marginalPerTick = ((rateA - rateB) * wallA) / Math.max(1, tM.length)
      const marginalPerPass = ((rateA - rateB) * wallA) / Math.max(1, pM.length)
      // Without a control: what the process burns between ticks (ingest alone), taken off each tick.
      const gM = gaps.filter((g) => g.start >= mStart && g.start < mEnd)
      const gapRate = gM.reduce((sum, g) => sum + g.cpuMs, 0) / Math.max(1, gM.reduce((sum, g) => sum + g.wallMs, 0))
      const netPerTick = mean(tM.map((t) => t.cpuMs - gapRate * t.wallMs))
      const machBusyA = (machA.busy - machA0.busy) / wallA

      let histogramCount = 0
      const hist = await handle.metrics.getSingleMetricAsString('vigil_detect_event_to_alert_seconds')
      for (const m of hist.matchAll(/^vigil_detect_event_to_alert_seconds_count\{[^}]*\} (\d+)$/gm)) histogramCount += Number(m[1])

      const result = {
        stored: pre.rows,
        storedSeconds: Math.round(pre.seconds),
        storedRowsPerSec: Math.round(pre.rowsPerSec),
        diskGiB: Number((diskBytes / 2 ** 30).toFixed(2)),
        keys,
        injected: plan.length,
        alerted: found.length,
        alertedAfterLoad: found.filter((f) => f.detMs > loadStopped).length,
        drainSeconds: drainedMs / 1000,
        latencyMs: { p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), max: lat[lat.length - 1], mean: mean(lat) },
        byRule: Object.fromEntries(['auth.brute_force', 'auth.credential_stuffing'].map((r) => [r, { n: latBy(r).length, p50: quantile(latBy(r), 0.5), p99: quantile(latBy(r), 0.99) }])),
        breakdownMs: {
          ackAfterReceivedP50: quantile(sortNum(ackMinusRecv), 0.5),
          pickupP50: quantile(sortNum(pickup), 0.5),
          pickupP99: quantile(sortNum(pickup), 0.99),
          inTickP50: quantile(sortNum(inTick), 0.5),
          inTickP99: quantile(sortNum(inTick), 0.99),
          sendToAlertP50: quantile(sortNum(sendToAlert), 0.5),
          sendToAlertP99: quantile(sortNum(sendToAlert), 0.99),
        },
        passes: {
          n: pM.length,
          eventsMean: mean(pEvents),
          eventsJudged: pEvents.reduce((a, b) => a + b, 0),
          wallMean: mean(pM.map((x) => x.wallMs)),
          cpuMean: mean(pM.map((x) => x.cpuMs)),
          cpuPer1000Events: (pM.reduce((a, x) => a + x.cpuMs, 0) / Math.max(1, pEvents.reduce((a, b) => a + b, 0))) * 1000,
          perSec: pM.length / durationS,
          marginalCpu: marginalPerPass,
          offeredEvents: offered,
        },
        detectorsMs: [...detectorMs]
          .map(([rule, xs]) => {
            const inM = sortNum(xs.filter((x) => x.start >= mStart && x.start < mEnd).map((x) => x.ms))
            return { rule, mean: mean(inM), p99: quantile(inM, 0.99) }
          })
          .sort((a, b) => b.mean - a.mean),
        unexpected: unexpected.map((u) => `${u.rule} ${u.et}:${u.eid}`),
        histogramCount,
        ingest: {
          target: rate,
          achievedMeasured: Math.round(acceptedM / durationS),
          achievedControl: control ? Math.round(control.achieved) : Number.NaN,
          batchesMeasured: inM.length,
          status202: count(all, (r) => r.status === 202),
          status429: count(all, (r) => r.status === 429),
          status503: count(all, (r) => r.status === 503),
          otherStatus: count(all, (r) => r.status !== 202 && r.status !== 429 && r.status !== 503 && r.status !== -1),
          errors: count(all, (r) => r.status === -1),
          rejectedEvents: all.reduce((s, r) => s + r.rejected, 0),
          requestP50: quantile(reqLat, 0.5),
          requestP99: quantile(reqLat, 0.99),
          scheduleLagP99: quantile(lag, 0.99),
          scheduleLagMax: lag[lag.length - 1],
        },
        ticks: {
          n: tM.length,
          perSec: tM.length / durationS,
          failed: tM.filter((t) => !t.ok).length,
          eventsRead: tM.reduce((s, t) => s + t.events, 0),
          eventsPerTick: mean(tM.map((t) => t.events)),
          wallMean: mean(tWall),
          wallP50: quantile(tWall, 0.5),
          wallP99: quantile(tWall, 0.99),
          wallMax: tWall[tWall.length - 1],
          cpuMean: mean(tCpu),
          cpuP50: quantile(tCpu, 0.5),
          cpuP99: quantile(tCpu, 0.99),
          marginalCpuPerTick: marginalPerTick,
          netCpuPerTick: netPerTick,
          gapCores: gapRate,
        },
        cpu: {
          vigilCoresDetecting: rateA,
          vigilCoresControl: rateB,
          machineBusyCoresDetecting: machBusyA,
          machineBusyCoresControl: control ? control.machineBusy : Number.NaN,
          loadGenCores: loadOut.cpuMs / (loadEnd - t0),
          controlSeconds: control ? control.wallMs / 1000 : 0,
        },
        uptimeBefore,
        uptimeDuring,
      }
      console.log(JSON.stringify(result, null, 2))
      if (process.env.BENCH_DEBUG) {
        for (const [rule, xs] of detectorMs) {
          const a = sortNum(xs.filter((x) => x.start >= t0).map((x) => x.ms))
          console.log(`debug ${rule}: n=${a.length} mean=${fmt(mean(a))} p50=${fmt(quantile(a, 0.5))} max=${fmt(a[a.length - 1] ?? Number.NaN)}`)
        }
        for (const t of ticks.filter((x) => x.start >= t0)) console.log(`debug tick +${fmt(t.start - t0)} wall=${fmt(t.wallMs)} cpu=${fmt(t.cpuMs)} events=${t.events}`)
      }
      const options: RunOptions = { stored, days, rate, batch, durationS, warmupS, attackEveryS }
      writeFileSync(LAST_RESULT, JSON.stringify({ result, options, when: new Date().toISOString() }, null, 2))
      if (process.env.BENCH_NO_DOC) return
      writeDoc(result, options)
      if (result.alerted < result.injected) {
        console.error('bench detect: some injected attacks raised no alert')
        process.exitCode = 1
      }
    } finally {
      paused = true
      await handle.close()
      DetectionEngine.prototype.tick = realTick
      DetectionEngine.prototype.offer = realOffer
      for (const [d, f] of realDetect) d.detect = f
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
}

interface Quantiles {
  p50: number
  p99: number
}

interface BenchResult {
  stored: number
  storedSeconds: number
  storedRowsPerSec: number
  diskGiB: number
  keys: number
  injected: number
  alerted: number
  alertedAfterLoad: number
  drainSeconds: number
  latencyMs: Quantiles & { max: number | undefined; mean: number }
  byRule: Record<string, Quantiles & { n: number }>
  breakdownMs: Record<'ackAfterReceivedP50' | 'pickupP50' | 'pickupP99' | 'inTickP50' | 'inTickP99' | 'sendToAlertP50' | 'sendToAlertP99', number>
  passes: { n: number; eventsMean: number; eventsJudged: number; wallMean: number; cpuMean: number; cpuPer1000Events: number; perSec?: number; marginalCpu?: number; offeredEvents?: number }
  detectorsMs: Array<{ rule: string; mean: number; p99: number }>
  unexpected: string[]
  histogramCount: number
  ingest: {
    target: number
    achievedMeasured: number
    achievedControl: number
    batchesMeasured: number
    status202: number
    status429: number
    status503: number
    otherStatus: number
    errors: number
    rejectedEvents: number
    requestP50: number
    requestP99: number
    scheduleLagP99: number
    scheduleLagMax: number | undefined
  }
  ticks: {
    n: number
    perSec: number
    failed: number
    eventsRead: number
    eventsPerTick: number
    wallMean: number
    wallP50: number
    wallP99: number
    wallMax: number | undefined
    cpuMean: number
    cpuP50: number
    cpuP99: number
    marginalCpuPerTick: number
    netCpuPerTick: number
    gapCores: number
  }
  cpu: {
    vigilCoresDetecting: number
    vigilCoresControl: number
    machineBusyCoresDetecting: number
    machineBusyCoresControl: number
    loadGenCores: number
    controlSeconds: number
  }
  uptimeBefore: string
  uptimeDuring: string
}

interface RunOptions {
  stored: number
  days: number
  rate: number
  batch: number
  durationS: number
  warmupS: number
  attackEveryS: number
}

function writeDoc(r: BenchResult, o: RunOptions, at = new Date()): void {
  const when = at.toISOString().slice(0, 16).replace('T', ' ')
  const ms = (n: number | undefined) => `${fmt(n ?? Number.NaN)} ms`
  const met = r.alerted === r.injected && r.latencyMs.p99 <= 1000
  // Core-seconds per accepted event, detecting and paused, in ms per 1,000 events.
  const marginalPer1000 = (r.cpu.vigilCoresDetecting / r.ingest.achievedMeasured - r.cpu.vigilCoresControl / r.ingest.achievedControl) * 1e6
  const load = (u: string) => u.replace(/^.*load average:\s*/, '')
  const opts = [
    o.stored !== 10_000_000 ? `--stored=${o.stored}` : '',
    o.durationS !== 60 ? `--duration=${o.durationS}` : '',
    o.rate !== 20_000 ? `--rate=${o.rate}` : '',
  ].filter(Boolean)
  writeSection(
    path.join(root, 'docs/benchmarks.md'),
    'detect',
    `## Detection: \`npm run bench -- detect\`

Last run ${when} UTC on ${machine()}${opts.length ? `, with \`${opts.join(' ')}\`` : ''}.
Load average (1, 5, 15 min) before the run ${load(r.uptimeBefore)}, at the end of the measured part ${load(r.uptimeDuring)}.

Setup: ${fmt(r.stored)} ordinary events already stored, over the ${o.days} days before the run, on ${fmt(r.keys)} API keys
(${r.diskGiB} GiB on disk; written with ClickHouse's own \`INSERT … SELECT\` at ${fmt(r.storedRowsPerSec)} rows/s, so every
materialized view and rollup holds them), with the detector's cursor at the newest of them: history the detectors read
(baselines, fat-finger medians, geo history, windows), not a backlog. Then \`vigil up\` (in the bench's process:
embedded ClickHouse, its private Redis) and, from a separate process, signed NDJSON batches of ${o.batch} clean events
paced at ${fmt(o.rate)} events/s: ${o.warmupS} s warm-up, ${o.durationS} s measured. In the measured part one batch every
${o.attackEveryS} s also carries an attack on a fresh entity, alternately \`auth.brute_force\` (12 forged signatures on a
new key from one address) and \`auth.credential_stuffing\` (30 unknown-key failures over 15 keys from one address).

| figure | value |
|---|---|
| **event-to-alert latency p50 / p99 / max** (alert \`detected_at\` − its event's \`received_at\`) | **${ms(r.latencyMs.p50)} / ${ms(r.latencyMs.p99)}** / ${ms(r.latencyMs.max)} |
| attacks injected / alerted (of which after the load had stopped, within ${fmt(r.drainSeconds)} s of draining) | ${r.injected} / ${r.alerted} (${r.alertedAfterLoad}) |
| p50 / p99 by rule: \`auth.brute_force\` (n) | ${ms(r.byRule['auth.brute_force']?.p50)} / ${ms(r.byRule['auth.brute_force']?.p99)} (${r.byRule['auth.brute_force']?.n ?? 0}) |
| p50 / p99 by rule: \`auth.credential_stuffing\` (n) | ${ms(r.byRule['auth.credential_stuffing']?.p50)} / ${ms(r.byRule['auth.credential_stuffing']?.p99)} (${r.byRule['auth.credential_stuffing']?.n ?? 0}) |
| alerts on anything not injected | ${r.unexpected.length}${r.unexpected.length ? ` (${r.unexpected.slice(0, 5).map((u) => `\`${u}\``).join(', ')}${r.unexpected.length > 5 ? ', …' : ''})` : ''} |
| ingest: target / achieved in the measured part / achieved with ticks paused (control), events/s | ${fmt(r.ingest.target)} / ${fmt(r.ingest.achievedMeasured)} / ${fmt(r.ingest.achievedControl)} |
| ingest: 202 / 429 / 503 / other / socket errors; events rejected | ${fmt(r.ingest.status202)} / ${r.ingest.status429} / ${r.ingest.status503} / ${r.ingest.otherStatus} / ${r.ingest.errors}; ${r.ingest.rejectedEvents} |
| ingest: request latency p50 / p99 (batch of ${o.batch}); sender behind schedule p99 / max | ${ms(r.ingest.requestP50)} / ${ms(r.ingest.requestP99)}; ${ms(r.ingest.scheduleLagP99)} / ${ms(r.ingest.scheduleLagMax)} |
| passes of all detectors (over events handed over by ingest, or a page of the stream), started in the measured part; per second | ${fmt(r.passes?.n ?? Number.NaN)}; ${fmt(r.passes?.perSec ?? Number.NaN, 2)} |
| events per pass (mean); events judged in the measured part; accepted in it | ${fmt(r.passes?.eventsMean ?? Number.NaN)}; ${fmt(r.passes?.eventsJudged ?? Number.NaN)}; ${fmt(r.ingest.achievedMeasured * o.durationS)} |
| one pass: wall / process CPU (all threads, ingest's included), mean; process CPU per 1,000 events judged | ${ms(r.passes?.wallMean)} / ${ms(r.passes?.cpuMean)}; ${ms(r.passes?.cpuPer1000Events)} |
| **CPU cost of one pass** (the issue's "tick"): Vigil's CPU per accepted event detecting less with detection paused (${marginalPer1000 > 0 ? ms(marginalPer1000) : 'none measurable'} per 1,000 events), × events per pass | **${marginalPer1000 > 0 ? ms(marginalPer1000 * ((r.passes?.eventsMean ?? Number.NaN) / 1000)) : `n/a: Vigil's process was as busy with detection paused (${fmt(r.cpu.vigilCoresControl, 2)} cores) as detecting (${fmt(r.cpu.vigilCoresDetecting, 2)}), so the cores, not detection's share, set the pace; a pass's own CPU is in the row above, ingest's included`}** |
| catch-up reads of the stream (\`tick\`) in the measured part; failed; events they brought (the rest was handed over: ${fmt(r.passes?.offeredEvents ?? Number.NaN)} in the whole run) | ${fmt(r.ticks.n)}; ${r.ticks.failed}; ${fmt(r.ticks.eventsRead)} |
| Vigil's process, cores busy: detecting / detection paused (${fmt(r.cpu.controlSeconds)} s control) | ${fmt(r.cpu.vigilCoresDetecting, 2)} / ${fmt(r.cpu.vigilCoresControl, 2)} |
| whole machine, cores busy: detecting / detection paused (the load generator's share: ${fmt(r.cpu.loadGenCores, 2)}) | ${fmt(r.cpu.machineBusyCoresDetecting, 2)} / ${fmt(r.cpu.machineBusyCoresControl, 2)} |
| detectors by wall time per call in the measured part, mean (p99) | ${r.detectorsMs.slice(0, 6).map((d) => `\`${d.rule}\` ${fmt(d.mean)} (${fmt(d.p99)})`).join(', ')} |
| where the latency goes, p50: ingest stamp → batch durable (202) / → start of the pass that stored the alert / pass start → alert stored | ${ms(r.breakdownMs.ackAfterReceivedP50)} / ${ms(r.breakdownMs.pickupP50)} / ${ms(r.breakdownMs.inTickP50)} |
| same, p99: → start of the pass / pass start → alert stored | ${ms(r.breakdownMs.pickupP99)} / ${ms(r.breakdownMs.inTickP99)} |
| from the sender's \`fetch\` to the alert stored, p50 / p99 | ${ms(r.breakdownMs.sendToAlertP50)} / ${ms(r.breakdownMs.sendToAlertP99)} |

Target (issue): event-to-alert p99 ≤ 1 s at ${fmt(o.rate)} events/s with 10 M events stored: **${met ? 'met' : 'not met'}**${o.stored < 10_000_000 ? ' (this run stored fewer than 10 M)' : ''}.

Where the latency comes from: ingest stamps \`received_at\` once it has parsed a request, then the batch writer
makes rows durable (at most ${'`VIGIL_INGEST_FLUSH_MS`'} after the first row, 100 ms by default, or sooner when full; the
materialized views fill the rollups in the same insert) and hands the batch to the engine in process. The engine judges
what it was handed in one pass of every enabled detector, one after another, as soon as the pass before has ended; an
alert is stored when its detector's turn comes. So a row waits for its insert, the rest of the pass in progress, and its
own pass up to its detector. Pass CPU is process CPU, so it counts chDB's threads and ingest's work in the same moments,
which is why the marginal figure (a control stretch of the same load with detection paused) is the one to quote. The
load generator shares the machine's cores with Vigil.`,
  )
}

// ---------------------------------------------------------------------------------------

const role = process.env[ROLE_ENV]
if (role === 'prestore' || role === 'load') {
  const job = JSON.parse(process.env.VIGIL_BENCH_DETECT_JOB ?? '{}') as PrestoreJob & LoadJob
  await (role === 'prestore' ? prestore(job) : load(job))
} else if (process.argv.includes('--render')) {
  const last = JSON.parse(readFileSync(LAST_RESULT, 'utf8')) as { result: BenchResult; options: RunOptions; when: string }
  writeDoc(last.result, last.options, new Date(last.when))
} else {
  await orchestrate()
}
