/**
 * Event-time window totals per entity, read from `rollup_entity_1s` in one query for every
 * entity a batch touched. Each entity has its own window end (its newest event in the batch),
 * so a late event is judged in the window it belongs to, not in "the last minute".
 * Buckets are whole seconds: a window (end - length, end] covers the seconds after
 * floor((end - length) / 1 s) up to and including floor(end / 1 s).
 */
import type { Store } from '@vigil/core'

export type RollupEntity = 'api_key' | 'user' | 'account' | 'ip' | 'net'

export interface WindowTotals {
  entity: string
  events: number
  auth_failures: number
  auth_successes: number
  ip_not_allowed: number
  scope_denied: number
  rate_limited: number
  orders: number
  notional: number
  ips: number
  failed_keys: number
  failed_users: number
  /** Auth failures (failure/denied on auth.*) by reason. */
  auth_fail_reasons: Record<string, number>
  /** Every non-success event with a reason, by reason. */
  denial_reasons: Record<string, number>
  /** Seconds (epoch ms) of the first and last bucket with activity in the window. */
  firstMs: number
  lastMs: number
}

interface Row {
  entity: string
  events: string
  auth_failures: string
  auth_successes: string
  ip_not_allowed: string
  scope_denied: string
  rate_limited: string
  orders: string
  notional: number
  ips: string
  failed_keys: string
  failed_users: string
  auth_fail_reasons: Record<string, string>
  denial_reasons: Record<string, string>
  first: string
  last: string
}

const SQL = `
SELECT entity_id AS entity,
  toString(sum(events)) AS events, toString(sum(auth_failures)) AS auth_failures, toString(sum(auth_successes)) AS auth_successes,
  toString(sum(ip_not_allowed)) AS ip_not_allowed, toString(sum(scope_denied)) AS scope_denied, toString(sum(rate_limited)) AS rate_limited,
  toString(sum(orders)) AS orders, sum(notional) AS notional,
  toString(uniqExactMerge(ips)) AS ips, toString(uniqExactMerge(failed_keys)) AS failed_keys, toString(uniqExactMerge(failed_users)) AS failed_users,
  sumMap(auth_fail_reasons) AS auth_fail_reasons, sumMap(denial_reasons) AS denial_reasons,
  toString(toUnixTimestamp(min(bucket))) AS first, toString(toUnixTimestamp(max(bucket))) AS last
FROM rollup_entity_1s
WHERE entity_type = {et:String}
  AND bucket > toDateTime({lo:Int64}, 'UTC') AND bucket <= toDateTime({hi:Int64}, 'UTC')
  AND entity_id IN {ids:Array(String)}
  AND toUnixTimestamp(bucket) > transform(entity_id, {ids:Array(String)}, {starts:Array(Int64)}, toInt64(0))
  AND toUnixTimestamp(bucket) <= transform(entity_id, {ids:Array(String)}, {ends:Array(Int64)}, toInt64(0))
GROUP BY entity_id`

/**
 * Totals for each entity over the window of `windowMs` ending at its own end time.
 * Entities with nothing in their window are absent from the result.
 */
export async function windowTotals(
  store: Store,
  entityType: RollupEntity,
  ends: ReadonlyMap<string, number>,
  windowMs: number,
): Promise<Map<string, WindowTotals>> {
  const out = new Map<string, WindowTotals>()
  if (ends.size === 0) return out
  const ids = [...ends.keys()]
  const endSec = ids.map((id) => Math.floor((ends.get(id) as number) / 1000))
  const startSec = endSec.map((e) => e - Math.ceil(windowMs / 1000))
  const rows = await store.query<Row>(SQL, {
    et: entityType,
    ids,
    ends: endSec,
    starts: startSec,
    lo: Math.min(...startSec),
    hi: Math.max(...endSec),
  })
  for (const r of rows) {
    out.set(r.entity, {
      entity: r.entity,
      events: Number(r.events),
      auth_failures: Number(r.auth_failures),
      auth_successes: Number(r.auth_successes),
      ip_not_allowed: Number(r.ip_not_allowed),
      scope_denied: Number(r.scope_denied),
      rate_limited: Number(r.rate_limited),
      orders: Number(r.orders),
      notional: r.notional,
      ips: Number(r.ips),
      failed_keys: Number(r.failed_keys),
      failed_users: Number(r.failed_users),
      auth_fail_reasons: numbers(r.auth_fail_reasons),
      denial_reasons: numbers(r.denial_reasons),
      firstMs: Number(r.first) * 1000,
      lastMs: Number(r.last) * 1000,
    })
  }
  return out
}

function numbers(m: Record<string, string>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(m)) out[k] = Number(v)
  return out
}

/** Sum of the counts of the given reasons. */
export function sumReasons(m: Record<string, number>, reasons: readonly string[]): number {
  let n = 0
  for (const r of reasons) n += m[r] ?? 0
  return n
}

/** For each entity, the newest event time among `events` that `pick` maps to it. */
export function latestPerEntity<T extends { tsMs: number }>(events: readonly T[], pick: (e: T) => string | undefined): Map<string, number> {
  const m = new Map<string, number>()
  for (const e of events) {
    const id = pick(e)
    if (!id) continue
    const cur = m.get(id)
    if (cur === undefined || e.tsMs > cur) m.set(id, e.tsMs)
  }
  return m
}
