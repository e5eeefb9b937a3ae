/**
 * Event-time windows for the account rules (auth.brute_force, auth.credential_stuffing,
 * access.*, rate.abuse): which windows a batch asks about, their counts from
 * `rollup_denials_1s` (migration 004) in one query for every window of every entity type a
 * detector judges, and a few of the events behind a window that fired.
 *
 * Like `windowTotals` (../windows.ts), a window ends at an entity's newest relevant event and
 * covers the whole seconds (end - window, end]. Unlike it, one entity can have several windows
 * in one batch: a late burst that arrives with fresh events of the same key is judged in the
 * window it belongs to, not only in the fresh one. And counts are per reason and per address
 * (`denials_by_ip`), so a rule counts exactly its reasons, leaves out its allowlisted
 * addresses, and knows how many addresses and credentials they came from.
 */
import type { Store } from '@vigil/core'
import type { StreamEvent } from '../detector.js'
import { chTimeToMs } from '../engine.js'
import { allowlistedIpSql, type Allowlist } from './access-allowlist.js'
import { networkSql } from './access-network.js'

/** What a window is about: a key, a user, a client address, or the network around one. */
export type CountEntity = 'api_key' | 'user' | 'ip' | 'net'

export interface PlannedWindow {
  type: CountEntity
  entity: string
  /** Whole seconds (startSec, endSec]. */
  startSec: number
  endSec: number
  /** The batch's relevant events of the entity inside the window, oldest first (never none). */
  events: StreamEvent[]
}

/**
 * One window per entity and per cluster of its batch events: the batch's events of an entity
 * are walked oldest first, a cluster spans at most a quarter of the window, and its window
 * ends at its newest event. A live batch (a fraction of a second) is one cluster, so one
 * window per entity, ending at its newest event; a late or replayed batch gets the windows its
 * history needs, and a burst of up to ¾ of the window whose newest event is in the batch is
 * judged whole wherever the clusters fall.
 *
 * A cluster holding a late event (arrived more than `latenessMs` after its time) also gets
 * the windows ending one, two and three quarters of a window after it: the rest of its burst
 * may have arrived before it, and those windows see the burst whole. Every stored second is
 * then read by at most a few windows.
 */
export function planWindows(
  events: readonly StreamEvent[],
  types: readonly CountEntity[],
  windowMs: number,
  entityOf: (e: StreamEvent, type: CountEntity) => string | undefined,
  latenessMs = Infinity,
): PlannedWindow[] {
  const spanSec = Math.ceil(windowMs / 1000)
  const clusterMs = Math.max(1000, windowMs / 4)
  const out: PlannedWindow[] = []
  for (const type of types) {
    const byEntity = new Map<string, StreamEvent[]>()
    for (const e of events) {
      const id = entityOf(e, type)
      if (!id) continue
      const list = byEntity.get(id)
      if (list) list.push(e)
      else byEntity.set(id, [e])
    }
    for (const [entity, list] of byEntity) {
      list.sort((a, b) => a.tsMs - b.tsMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      const ends = new Set<number>()
      let i = 0
      while (i < list.length) {
        const from = (list[i] as StreamEvent).tsMs
        let j = i
        while (j + 1 < list.length && (list[j + 1] as StreamEvent).tsMs < from + clusterMs) j++
        const endMs = (list[j] as StreamEvent).tsMs
        ends.add(Math.floor(endMs / 1000))
        const late = list.slice(i, j + 1).some((e) => Date.parse(e.receivedAt) - e.tsMs > latenessMs)
        for (let k = 1; late && k * clusterMs < windowMs; k++) ends.add(Math.floor((endMs + k * clusterMs) / 1000))
        i = j + 1
      }
      for (const endSec of [...ends].sort((a, b) => a - b)) {
        const startSec = endSec - spanSec
        const inside = list.filter((e) => {
          const s = Math.floor(e.tsMs / 1000)
          return s > startSec && s <= endSec
        })
        if (inside.length > 0) out.push({ type, entity, startSec, endSec, events: inside })
      }
    }
  }
  return out
}

/** What a window holds of the rule's reasons, allowlisted addresses left out. */
export interface WindowCounts {
  /** Events with one of the reasons. */
  denials: number
  byReason: Record<string, number>
  /** Distinct client addresses they came from (events without one are not an address). */
  ips: number
  /** Up to 10 of those addresses, sorted. */
  ipList: string[]
  /** Distinct api keys, and users of events without a key, they failed on (ip and net windows only). */
  keys: number
  users: number
  /** Up to 10 of those credentials, sorted. */
  credentialList: string[]
  /** Distinct minutes of the window, counted from its start, holding at least one of them. */
  activeMinutes: number
  /** First and last second holding one of them. */
  firstSec: number
  lastSec: number
}

export interface CountOptions {
  reasons: readonly string[]
  allow: Allowlist
  /** Prefix lengths naming a `net` (auth.credential_stuffing's params). @defaultValue 24 and 48 */
  netPrefix?: { v4: number; v6: number }
}

/** SQL: a `client_ip` column as the stream and the rollup write it (IPv4 dotted, '' for none). */
export const ADDRESS_TEXT_SQL = String.raw`if(client_ip = toIPv6('::'), '', replaceRegexpOne(IPv6NumToString(client_ip), '^::ffff:(\\d+\\.\\d+\\.\\d+\\.\\d+)$', '\\1'))`
const KEY_IP = `substring(k, 1, position(k, ' ') - 1)`
const KEY_REASON = `substring(k, position(k, ' ') + 1)`

/**
 * SQL: the entries of a rollup row's `denials_by_ip` with one of `{reasons:Array(String)}`,
 * from an address outside the allowlist (`allowlistedIpSql`'s parameters).
 */
export const MATCHED_DENIALS_SQL = `mapFilter((k, v) -> has({reasons:Array(String)}, ${KEY_REASON}) AND NOT ${allowlistedIpSql(KEY_IP)}, denials_by_ip)`

/** How one query tells entities of several types apart: `api_key|ak_…`, `net|203.0.113.0/24`. */
const keyOf = (type: CountEntity, entity: string) => `${type}|${entity}`

/**
 * SQL: the keys of the judged entities a rollup row counts for. A net is judged from its
 * addresses' rows, at the rule's prefix, so any prefix works and an allowlisted address
 * inside it is left out like any other.
 */
function rollupKeysSql(types: ReadonlySet<CountEntity>): string {
  const own = `[concat(entity_type, '|', entity_id)]`
  const ip = [types.has('ip') ? `concat('ip|', entity_id)` : '', types.has('net') ? `concat('net|', ${networkSql('entity_id')})` : ''].filter(Boolean)
  return ip.length === 0 ? own : `if(entity_type = 'ip', [${ip.join(', ')}], ${own})`
}

const COUNT_SQL = (types: ReadonlySet<CountEntity>) => `
SELECT w,
  toString(sum(arraySum(mapValues(hits)))) AS denials,
  sumMap(arrayMap(k -> ${KEY_REASON}, mapKeys(hits)), mapValues(hits)) AS by_reason,
  toString(length(groupUniqArrayArray(row_ips))) AS ips,
  arraySlice(arraySort(groupUniqArrayArray(row_ips)), 1, 10) AS ip_list,
  toString(uniqExactArray(arrayFilter(x -> x != '', arrayMap(c -> c.2, creds)))) AS keys,
  toString(uniqExactArray(arrayFilter(x -> x != '', arrayMap(c -> c.3, creds)))) AS users,
  arraySlice(arraySort(groupUniqArrayArray(arrayMap(c -> if(c.2 != '', c.2, c.3), creds))), 1, 10) AS credential_list,
  toString(uniqExact(intDiv(sec - arrayElement({starts:Array(Int64)}, w) - 1, 60))) AS minutes,
  toString(min(sec)) AS first, toString(max(sec)) AS last
FROM (
  SELECT arrayJoin(${rollupKeysSql(types)}) AS key, toUnixTimestamp(bucket) AS sec,
    ${MATCHED_DENIALS_SQL} AS hits,
    arrayFilter(c -> has({reasons:Array(String)}, c.1) AND NOT has({allow_keys:Array(String)}, c.2), credentials) AS creds,
    arrayFilter(ip -> ip != '', arrayMap(k -> ${KEY_IP}, mapKeys(hits))) AS row_ips,
    transform(key, {ids:Array(String)}, {firsts:Array(UInt32)}, toUInt32(0)) AS f,
    transform(key, {ids:Array(String)}, {counts:Array(UInt32)}, toUInt32(0)) AS c
  FROM rollup_denials_1s
  WHERE entity_type IN {row_types:Array(String)}
    AND bucket > toDateTime({lo:Int64}, 'UTC') AND bucket <= toDateTime({hi:Int64}, 'UTC')
    AND (entity_type = 'ip' OR entity_id IN {direct_ids:Array(String)})
    AND key IN {ids:Array(String)} AND notEmpty(hits)
)
ARRAY JOIN arrayFilter(i -> sec > arrayElement({starts:Array(Int64)}, i) AND sec <= arrayElement({ends:Array(Int64)}, i), range(f, f + c)) AS w
GROUP BY w`

interface CountRow {
  w: number
  denials: string
  by_reason: [string[], Array<string | number>]
  ips: string
  ip_list: string[]
  keys: string
  users: string
  credential_list: string[]
  minutes: string
  first: string
  last: string
}

function commonParams(opts: CountOptions): Record<string, unknown> {
  return { reasons: [...opts.reasons], ...opts.allow.params, v4_prefix: opts.netPrefix?.v4 ?? 24, v6_prefix: opts.netPrefix?.v6 ?? 48 }
}

/**
 * The counts of every window, in one query whatever the entity types; `undefined` for a
 * window holding none of the reasons (all its events allowlisted, say).
 */
export async function countWindows(store: Store, windows: readonly PlannedWindow[], opts: CountOptions): Promise<Array<WindowCounts | undefined>> {
  const out: Array<WindowCounts | undefined> = windows.map(() => undefined)
  if (windows.length === 0) return out
  // Windows sorted by key, each key's a contiguous run the query finds by its first index and length.
  const order = windows.map((_, i) => i)
  const keys = windows.map((w) => keyOf(w.type, w.entity))
  order.sort((a, b) => ((keys[a] as string) < (keys[b] as string) ? -1 : (keys[a] as string) > (keys[b] as string) ? 1 : (windows[a] as PlannedWindow).endSec - (windows[b] as PlannedWindow).endSec))
  const ids: string[] = []
  const firsts: number[] = []
  const counts: number[] = []
  order.forEach((wi, k) => {
    if (ids[ids.length - 1] === keys[wi]) counts[counts.length - 1] = (counts[counts.length - 1] as number) + 1
    else {
      ids.push(keys[wi] as string)
      firsts.push(k + 1)
      counts.push(1)
    }
  })
  const starts = order.map((i) => (windows[i] as PlannedWindow).startSec)
  const ends = order.map((i) => (windows[i] as PlannedWindow).endSec)
  const types = new Set(windows.map((w) => w.type))
  const rows = await store.query<CountRow>(COUNT_SQL(types), {
    ...commonParams(opts),
    ids,
    firsts,
    counts,
    starts,
    ends,
    lo: starts.reduce((a, b) => Math.min(a, b)),
    hi: ends.reduce((a, b) => Math.max(a, b)),
    row_types: [...new Set([...types].map((t) => (t === 'net' ? 'ip' : t)))],
    direct_ids: [...new Set(windows.filter((w) => w.type === 'api_key' || w.type === 'user').map((w) => w.entity))],
  })
  for (const r of rows) {
    const wi = order[Number(r.w) - 1]
    if (wi === undefined) continue
    const byReason: Record<string, number> = {}
    r.by_reason[0].forEach((reason, i) => {
      const n = Number(r.by_reason[1][i])
      if (n > 0) byReason[reason] = n
    })
    out[wi] = {
      denials: Number(r.denials),
      byReason,
      ips: Number(r.ips),
      ipList: r.ip_list,
      keys: Number(r.keys),
      users: Number(r.users),
      credentialList: r.credential_list,
      activeMinutes: Number(r.minutes),
      firstSec: Number(r.first),
      lastSec: Number(r.last),
    }
  }
  return out
}

/** An event behind a window, as evidence. */
export interface SampleEvent {
  id: string
  tsMs: number
  action: string
  reason: string
  client_ip: string
}

/** SQL: the keys of the judged entities a stream row belongs to. */
function streamKeysSql(types: ReadonlySet<CountEntity>): string {
  const column: Record<CountEntity, string> = { api_key: 'api_key_id', user: 'user_id', ip: ADDRESS_TEXT_SQL, net: networkSql(ADDRESS_TEXT_SQL) }
  return `[${[...types].map((t) => `concat('${t}|', ${column[t]})`).join(', ')}]`
}

const SAMPLE_SQL = (types: ReadonlySet<CountEntity>) => `
SELECT key, id, toString(ts) AS ts, action, reason, ip
FROM (
  SELECT arrayJoin(${streamKeysSql(types)}) AS key, id, ts, action, reason, ${ADDRESS_TEXT_SQL} AS ip
  FROM detect_stream
  WHERE received_at >= fromUnixTimestamp64Milli({received_from:Int64}) AND received_at <= fromUnixTimestamp64Milli({received_to:Int64})
    AND outcome != 'success' AND has({reasons:Array(String)}, reason)
    AND NOT ${allowlistedIpSql(ADDRESS_TEXT_SQL)}
    AND NOT has({allow_keys:Array(String)}, api_key_id) AND NOT has({allow_accounts:Array(String)}, account_id)
    AND NOT has({allow_sources:Array(String)}, source)
    AND key IN {ids:Array(String)}
    AND toUnixTimestamp(ts) > transform(key, {ids:Array(String)}, {starts:Array(Int64)}, toInt64(0))
    AND toUnixTimestamp(ts) <= transform(key, {ids:Array(String)}, {ends:Array(Int64)}, toInt64(0))
)
ORDER BY key, ts, id
LIMIT ${SAMPLE_SIZE} BY key`

/** At most this many sample event ids in an alert's evidence. */
export const SAMPLE_SIZE = 10

const toSample = (e: StreamEvent): SampleEvent => ({ id: e.id, tsMs: e.tsMs, action: e.action, reason: e.reason, client_ip: e.client_ip })

/**
 * Up to `SAMPLE_SIZE` events behind each window, oldest first; past that many, the oldest
 * ones and the newest (what made it fire). The batch's events come first; only windows whose
 * batch holds fewer than the sample and fewer than their count are completed, in one query
 * over the stream, reading what arrived from one window (plus lateness) before the batch on:
 * a live window's earlier events, without scanning history for a late one.
 */
export async function sampleWindows(
  store: Store,
  windows: readonly PlannedWindow[],
  counts: ReadonlyArray<number>,
  batch: readonly StreamEvent[],
  opts: CountOptions & { windowMs: number; latenessMs: number },
): Promise<SampleEvent[][]> {
  const out = windows.map((w) => w.events.map(toSample))
  const short = windows.map((_, i) => i).filter((i) => (out[i] as SampleEvent[]).length < Math.min(SAMPLE_SIZE, counts[i] ?? 0))
  if (short.length > 0 && batch.length > 0) {
    // One range per key, the span of its windows; rows are sorted into windows below.
    const ranges = new Map<string, { startSec: number; endSec: number; windows: number[] }>()
    for (const wi of short) {
      const w = windows[wi] as PlannedWindow
      const key = keyOf(w.type, w.entity)
      const r = ranges.get(key)
      if (r) {
        r.startSec = Math.min(r.startSec, w.startSec)
        r.endSec = Math.max(r.endSec, w.endSec)
        r.windows.push(wi)
      } else ranges.set(key, { startSec: w.startSec, endSec: w.endSec, windows: [wi] })
    }
    const received = batch.map((e) => Date.parse(e.receivedAt)).sort((a, b) => a - b)
    const rows = await store.query<{ key: string; id: string; ts: string; action: string; reason: string; ip: string }>(
      SAMPLE_SQL(new Set(short.map((i) => (windows[i] as PlannedWindow).type))),
      {
        ...commonParams(opts),
        received_from: Math.floor((received[0] as number) - opts.windowMs - opts.latenessMs),
        received_to: Math.ceil(received[received.length - 1] as number) + 1,
        ids: [...ranges.keys()],
        starts: [...ranges.values()].map((r) => r.startSec),
        ends: [...ranges.values()].map((r) => r.endSec),
      },
    )
    for (const r of rows) {
      const tsMs = chTimeToMs(r.ts)
      const sec = Math.floor(tsMs / 1000)
      for (const wi of ranges.get(r.key)?.windows ?? []) {
        const w = windows[wi] as PlannedWindow
        const list = out[wi] as SampleEvent[]
        if (sec <= w.startSec || sec > w.endSec || list.some((s) => s.id === r.id)) continue
        list.push({ id: r.id, tsMs, action: r.action, reason: r.reason, client_ip: r.ip })
      }
    }
  }
  return out.map((list) => {
    const sorted = [...list].sort((a, b) => a.tsMs - b.tsMs || (a.id < b.id ? -1 : 1))
    return sorted.length <= SAMPLE_SIZE ? sorted : [...sorted.slice(0, SAMPLE_SIZE - 1), sorted[sorted.length - 1] as SampleEvent]
  })
}
