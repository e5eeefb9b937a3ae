/**
 * The key explorer's routes (the dashboard's Keys page): finding a key by a prefix of its
 * api_key_id or of an account it acted for, and one key's activity over a period.
 *
 * - `GET /v1/keys?q=<prefix>&limit=` (keys:read) → `{items: [{api_key_id, account_id,
 *   last_seen, events_24h, failures_24h}], next: null}`, most recently seen first. `q` absent:
 *   every key. Keys and accounts come from detect's `key_accounts` (migration 009).
 * - `GET /v1/keys/:api_key_id/activity?from=&to=` (keys:read): buckets of requests, orders,
 *   notional and failures with volume.spike's baseline band, where the key was used, from
 *   which addresses, its recent failures and its scopes. A key with no traffic answers 200
 *   with zero buckets and empty lists (a key may exist and be idle).
 *
 * Every read is bounded: rollups by a time range on their sort key, `events` by the key and a
 * time range on its primary key, lists at 50 rows, at most 240 buckets. Buckets are aligned to
 * the epoch and count their whole span, so the first and last may reach outside from/to; the
 * lists (locations, ips, recent_failures, scopes) are exactly [from, to).
 *
 * The band (`baseline: {low, median, high}`) is volume.spike's statistic on the order count
 * (rule params from rules/detections/volume_spike.yaml): the bucket's seasonal twins (the same
 * bucket one season back, two back, … over history_days; the season is a week for
 * `hour_of_week`), median and scale as `robustZ` computes them; `high` is the count at which
 * volume.spike would fire (z_threshold scales above the median and min_ratio_to_baseline
 * times the higher of median and EWMA), `low` the median z_threshold scales below, at least 0.
 * null when the key is younger than min_history_days at the bucket or has no sample yet
 * (volume.spike then judges by its cold-start limits), or when no volume.spike rule is loaded.
 */
import type { FastifyPluginAsync } from 'fastify'
import { VigilError, storeUnavailable, type Store } from '@vigil/core'
import { ewma, robustZ, seasonalHistory, WEEK_MS, type Rule, type SeasonalPoint } from '@vigil/detect'
import { displayIp, EVENT_SELECT_LIST, toEventView, type EventView } from './event-view.js'
import { clickHouseToRfc3339, rfc3339ToClickHouse } from './time-format.js'

const MINUTE_MS = 60_000
const DAY_MS = 86_400_000
/** Bucket widths, each a divisor of a day and a week so seasonal twins line up. */
export const BUCKET_SIZES_MS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 240, 360, 480, 720, 1440].map((m) => m * MINUTE_MS)
export const MAX_BUCKETS = 240
/** The longest period: 239 days always fits in 240 one-day buckets, however it is aligned. */
export const MAX_ACTIVITY_RANGE_MS = 239 * DAY_MS
export const DEFAULT_ACTIVITY_RANGE_MS = DAY_MS
/** Rows of each list in an activity answer. */
export const ACTIVITY_LIST_LIMIT = 50
/** rollup_key_orders_1m keeps 120 days (migration 003). */
const ROLLUP_RETENTION_DAYS = 120
const PRINTABLE_ID = /^[^\p{Cc}]{1,128}$/u

export interface KeySearchItem {
  api_key_id: string
  account_id: string | null
  last_seen: string
  events_24h: number
  failures_24h: number
}

export interface ActivityBucket {
  t: string
  requests: number
  orders: number
  notional: number
  failures: number
  baseline: { low: number; median: number; high: number } | null
}

export interface KeyActivity {
  api_key_id: string
  account_ids: string[]
  bucket_ms: number
  buckets: ActivityBucket[]
  locations: Array<{ country: string; city: string | null; lat: number | null; lon: number | null; count: number; first_seen: string; last_seen: string }>
  ips: Array<{ client_ip: string; country: string | null; count: number; failures: number; last_seen: string }>
  recent_failures: EventView[]
  scopes: string[]
}

const badQuery = (detail: string) => new VigilError('VIGIL_ERR_KEY_BAD_QUERY', detail)
const badRange = (detail: string) => new VigilError('VIGIL_ERR_API_BAD_TIME_RANGE', detail)

function readQuery(raw: unknown, known: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  if (raw === null || typeof raw !== 'object') return out
  for (const [k, v] of Object.entries(raw)) {
    if (!known.includes(k)) throw new VigilError('VIGIL_ERR_API_BAD_REQUEST', `unknown parameter "${k.slice(0, 32)}"`)
    if (typeof v !== 'string') throw new VigilError('VIGIL_ERR_API_BAD_REQUEST', `${k} may be given once`)
    out[k] = v
  }
  return out
}

function timeParam(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined
  const ch = v.length <= 64 ? rfc3339ToClickHouse(v) : undefined
  if (ch === undefined) throw badRange(`${name} must be an RFC 3339 time`)
  return Date.parse(`${ch.slice(0, 10)}T${ch.slice(11, 23)}Z`)
}

/** The period asked for: `to` defaults to now, `from` to a day before `to`. */
export function activityRange(q: { from?: string; to?: string }, nowMs: number): { fromMs: number; toMs: number } {
  const to = timeParam('to', q.to) ?? nowMs
  const from = timeParam('from', q.from) ?? to - DEFAULT_ACTIVITY_RANGE_MS
  if (from >= to) throw badRange('from must be before to')
  if (to - from > MAX_ACTIVITY_RANGE_MS) throw badRange('from and to are at most 239 days apart')
  return { fromMs: from, toMs: to }
}

/** The narrowest bucket that covers [from, to) in at most MAX_BUCKETS epoch-aligned buckets. */
export function bucketFor(fromMs: number, toMs: number): number {
  for (const b of BUCKET_SIZES_MS) if (Math.ceil(toMs / b) - Math.floor(fromMs / b) <= MAX_BUCKETS) return b
  throw badRange('from and to are at most 239 days apart')
}

const sec = (ms: number) => Math.floor(ms / 1000)
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z')

async function query<T>(store: Store, sql: string, params?: Record<string, unknown>): Promise<T[]> {
  try {
    return await store.query<T>(sql, params)
  } catch (err) {
    throw storeUnavailable(err)
  }
}

/** Keys whose id or one of whose accounts starts with `q`, most recently seen first. */
export async function searchKeys(store: Store, q: string, limit: number, nowMs: number): Promise<KeySearchItem[]> {
  const keys = await query<{ k: string; acct: string; last: string }>(
    store,
    `SELECT api_key_id AS k, argMaxIf(account_id, ls, account_id != '') AS acct, toString(max(ls)) AS last
     FROM (
       SELECT api_key_id, account_id, max(last_seen) AS ls FROM key_accounts
       WHERE startsWith(api_key_id, {q:String}) OR startsWith(account_id, {q:String})
       GROUP BY api_key_id, account_id
     )
     GROUP BY k ORDER BY max(ls) DESC, k LIMIT {limit:UInt32}`,
    { q, limit },
  )
  if (keys.length === 0) return []
  const counts = await query<{ k: string; n: string; f: string }>(
    store,
    `SELECT api_key_id AS k, toString(count()) AS n, toString(countIf(outcome != 'success')) AS f FROM events FINAL
     WHERE api_key_id IN {keys:Array(String)} AND ts >= toDateTime(${sec(nowMs - DAY_MS)}, 'UTC')
     GROUP BY k`,
    { keys: keys.map((r) => r.k) },
  )
  const byKey = new Map(counts.map((r) => [r.k, r]))
  return keys.map((r) => ({
    api_key_id: r.k,
    account_id: r.acct || null,
    last_seen: clickHouseToRfc3339(r.last),
    events_24h: Number(byKey.get(r.k)?.n ?? 0),
    failures_24h: Number(byKey.get(r.k)?.f ?? 0),
  }))
}

interface BandParams {
  actions: string[]
  periodMs: number
  seasons: number
  minHistoryMs: number
  z: number
  ratio: number
  alpha: number
}

function bandParams(rules: readonly Rule[]): BandParams | undefined {
  const rule = rules.find((r) => r.id === 'volume.spike')
  if (!rule) return undefined
  const p = rule.params as Record<string, unknown>
  const periodMs = p.seasonality === 'hour_of_day' ? DAY_MS : WEEK_MS
  return {
    actions: (p.order_actions as string[] | undefined) ?? ['order.new'],
    periodMs,
    seasons: Math.floor((Math.min(Number(p.history_days ?? 28), ROLLUP_RETENTION_DAYS) * DAY_MS) / periodMs),
    minHistoryMs: Number(p.min_history_days ?? 7) * DAY_MS,
    z: Number(p.z_threshold ?? 6),
    ratio: Number(p.min_ratio_to_baseline ?? 5),
    alpha: Number(p.ewma_alpha ?? 0.3),
  }
}

const round2 = (x: number) => Math.round(x * 100) / 100

/** volume.spike's band for each bucket start, or null where it has no baseline. */
async function baselineBands(store: Store, key: string, starts: readonly number[], bucketMs: number, p: BandParams): Promise<Map<number, ActivityBucket['baseline']>> {
  const out = new Map<number, ActivityBucket['baseline']>()
  const first = await query<{ f: string | null }>(
    store,
    `SELECT if(count() = 0, NULL, toString(min(first_seen))) AS f FROM key_action_first_seen WHERE api_key_id = {k:String} AND action IN {actions:Array(String)}`,
    { k: key, actions: p.actions },
  )
  const firstText = first[0]?.f
  if (!firstText || p.seasons === 0 || starts.length === 0) return out
  const firstMs = Date.parse(clickHouseToRfc3339(firstText))
  const lo = starts[0] as number
  const hi = (starts[starts.length - 1] as number) + bucketMs
  // Twins of [lo, hi) one season back, two back, …: merged when they touch (a long period).
  const ranges: Array<[number, number]> = []
  for (let k = p.seasons; k >= 1; k--) {
    const a = lo - k * p.periodMs
    const b = hi - k * p.periodMs
    const last = ranges[ranges.length - 1]
    if (last && a <= last[1]) last[1] = b
    else ranges.push([a, b])
  }
  const within = ranges.map(([a, b]) => `(minute >= toDateTime(${sec(a)}, 'UTC') AND minute < toDateTime(${sec(b)}, 'UTC'))`).join(' OR ')
  const rows = await query<{ t: string; n: string }>(
    store,
    `SELECT toString(intDiv(toUnixTimestamp(minute), ${bucketMs / 1000}) * ${bucketMs / 1000}) AS t, toString(sum(orders)) AS n
     FROM rollup_key_orders_1m WHERE (${within}) AND api_key_id = {k:String} AND action IN {actions:Array(String)}
     GROUP BY t`,
    { k: key, actions: p.actions },
  )
  // A zero point at the first order tells seasonalHistory where the key's history starts.
  const points: SeasonalPoint[] = [...rows.map((r) => ({ tsMs: Number(r.t) * 1000, value: Number(r.n) })), { tsMs: firstMs, value: 0 }]
  for (const s of starts) {
    if (s - firstMs < p.minHistoryMs) continue
    const h = seasonalHistory(points, s, { bucketMs, weeks: p.seasons, periodMs: p.periodMs })
    if (h.length === 0) continue
    const r = robustZ(0, h)
    const level = Math.max(r.median, ewma(h, p.alpha))
    out.set(s, {
      low: round2(Math.max(0, r.median - p.z * r.scale)),
      median: round2(r.median),
      high: round2(Math.max(r.median + p.z * r.scale, p.ratio * level)),
    })
  }
  return out
}

/** One key's activity over [from, to). */
export async function keyActivity(store: Store, rules: readonly Rule[], key: string, fromMs: number, toMs: number): Promise<KeyActivity> {
  const bucketMs = bucketFor(fromMs, toMs)
  const firstStart = Math.floor(fromMs / bucketMs) * bucketMs
  const end = Math.ceil(toMs / bucketMs) * bucketMs
  const starts: number[] = []
  for (let s = firstStart; s < end; s += bucketMs) starts.push(s)
  const band = bandParams(rules)
  const orderActions = band?.actions ?? ['order.new']
  const bs = bucketMs / 1000
  const k = { k: key }
  // Exact period for the lists, whole buckets for the series.
  const period = `api_key_id = {k:String} AND ts >= toDateTime64(${fromMs / 1000}, 3, 'UTC') AND ts < toDateTime64(${toMs / 1000}, 3, 'UTC')`
  const buckets = `api_key_id = {k:String} AND ts >= toDateTime(${sec(firstStart)}, 'UTC') AND ts < toDateTime(${sec(end)}, 'UTC')`

  const [volume, failures, locations, ips, recent, scopes, accounts, bands] = await Promise.all([
    // `orders` is the rollup's column (events of any action); the aliases must not shadow it.
    query<{ t: string; requests: string; orders_n: string; notional_n: number }>(
      store,
      `SELECT toString(intDiv(toUnixTimestamp(minute), ${bs}) * ${bs}) AS t, toString(sum(orders)) AS requests,
         toString(sumIf(orders, action IN {actions:Array(String)})) AS orders_n, sumIf(notional, action IN {actions:Array(String)}) AS notional_n
       FROM rollup_key_orders_1m
       WHERE minute >= toDateTime(${sec(firstStart)}, 'UTC') AND minute < toDateTime(${sec(end)}, 'UTC') AND api_key_id = {k:String}
       GROUP BY t`,
      { ...k, actions: orderActions },
    ),
    query<{ t: string; n: string }>(
      store,
      `SELECT toString(intDiv(toUnixTimestamp64Milli(ts), ${bucketMs}) * ${bucketMs}) AS t, toString(count()) AS n
       FROM events FINAL WHERE ${buckets} AND outcome != 'success' GROUP BY t`,
      k,
    ),
    query<{ country: string; city: string; lat: number | null; lon: number | null; n: string; f: string; l: string }>(
      store,
      `SELECT geo_country AS country, geo_city AS city, avg(geo_lat) AS lat, avg(geo_lon) AS lon, toString(count()) AS n,
         toString(min(ts)) AS f, toString(max(ts)) AS l
       FROM events FINAL WHERE ${period} AND geo_country != ''
       GROUP BY country, city ORDER BY count() DESC, country, city LIMIT ${ACTIVITY_LIST_LIMIT}`,
      k,
    ),
    query<{ ip: string; country: string; n: string; fails: string; l: string }>(
      store,
      `SELECT IPv6NumToString(client_ip) AS ip, anyIf(geo_country, geo_country != '') AS country, toString(count()) AS n,
         toString(countIf(outcome != 'success')) AS fails, toString(max(ts)) AS l
       FROM events FINAL WHERE ${period} AND client_ip != toIPv6('::')
       GROUP BY ip ORDER BY count() DESC, ip LIMIT ${ACTIVITY_LIST_LIMIT}`,
      k,
    ),
    query<Record<string, unknown>>(
      store,
      `SELECT ${EVENT_SELECT_LIST} FROM events FINAL WHERE ${period} AND outcome != 'success'
       ORDER BY ts DESC, source DESC, id DESC LIMIT ${ACTIVITY_LIST_LIMIT}`,
      k,
    ),
    query<{ scopes: string[] }>(store, `SELECT scopes FROM events FINAL WHERE ${period} AND notEmpty(scopes) ORDER BY ts DESC LIMIT 1`, k),
    query<{ a: string }>(
      store,
      `SELECT account_id AS a FROM key_accounts WHERE api_key_id = {k:String} AND account_id != ''
       GROUP BY account_id ORDER BY max(last_seen) DESC, account_id LIMIT ${ACTIVITY_LIST_LIMIT}`,
      k,
    ),
    band ? baselineBands(store, key, starts, bucketMs, band) : Promise.resolve(new Map<number, ActivityBucket['baseline']>()),
  ])

  const volumeAt = new Map(volume.map((r) => [Number(r.t) * 1000, r]))
  const failuresAt = new Map(failures.map((r) => [Number(r.t), Number(r.n)]))
  return {
    api_key_id: key,
    account_ids: accounts.map((r) => r.a),
    bucket_ms: bucketMs,
    buckets: starts.map((s) => {
      const v = volumeAt.get(s)
      return {
        t: iso(s),
        requests: Number(v?.requests ?? 0),
        orders: Number(v?.orders_n ?? 0),
        notional: round2(Number(v?.notional_n ?? 0)),
        failures: failuresAt.get(s) ?? 0,
        baseline: bands.get(s) ?? null,
      }
    }),
    locations: locations.map((r) => ({
      country: r.country,
      city: r.city || null,
      lat: r.lat === null ? null : round2(Number(r.lat)),
      lon: r.lon === null ? null : round2(Number(r.lon)),
      count: Number(r.n),
      first_seen: clickHouseToRfc3339(r.f),
      last_seen: clickHouseToRfc3339(r.l),
    })),
    ips: ips.flatMap((r) => {
      const ip = displayIp(r.ip)
      return ip === undefined ? [] : [{ client_ip: ip, country: r.country || null, count: Number(r.n), failures: Number(r.fails), last_seen: clickHouseToRfc3339(r.l) }]
    }),
    recent_failures: recent.map(toEventView),
    scopes: scopes[0]?.scopes ?? [],
  }
}

export function keyExplorerRoutes(deps: { store: Store; rules: readonly Rule[]; now?: () => number }): FastifyPluginAsync {
  const now = deps.now ?? Date.now
  return async (app) => {
    app.get('/v1/keys', { config: { permission: 'keys:read' } }, async (req) => {
      const q = readQuery(req.query, ['q', 'limit'])
      const prefix = q.q ?? ''
      if (prefix !== '' && !PRINTABLE_ID.test(prefix)) throw badQuery('q must be 1-128 printable characters')
      const limit = q.limit === undefined ? 20 : /^\d{1,3}$/.test(q.limit) ? Number(q.limit) : NaN
      if (!(limit >= 1 && limit <= 100)) throw badQuery('limit must be an integer from 1 to 100')
      return { items: await searchKeys(deps.store, prefix, limit, now()), next: null }
    })

    app.get('/v1/keys/:api_key_id/activity', { config: { permission: 'keys:read' } }, async (req) => {
      const { api_key_id: key } = req.params as { api_key_id: string }
      if (!PRINTABLE_ID.test(key)) throw new VigilError('VIGIL_ERR_KEY_BAD_ID')
      const q = readQuery(req.query, ['from', 'to'])
      const { fromMs, toMs } = activityRange(q, now())
      return keyActivity(deps.store, deps.rules, key, fromMs, toMs)
    })
  }
}
