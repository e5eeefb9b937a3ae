/**
 * The key explorer's data: the shapes the API answers (server/src/key-explorer.ts,
 * respond/src/keys-routes.ts) and the plain functions that turn them into what the page shows.
 * Kept free of React so they are tested without a browser.
 */
import datemath from '@elastic/datemath'
import type { GeoLocation } from './geo.js'

/** `GET /v1/keys?q=` items. */
export interface KeySearchItem {
  api_key_id: string
  account_id: string | null
  last_seen: string
  events_24h: number
  failures_24h: number
}

/** `GET /v1/keys/:api_key_id` (CONTRACT §4). */
export interface KeyState {
  api_key_id: string
  status: 'active' | 'revoked'
  revoked_at: string | null
  reason: string | null
  incident_id: string | null
}

export interface Baseline {
  low: number
  median: number
  high: number
}

export interface ActivityBucket {
  t: string
  requests: number
  orders: number
  notional: number
  failures: number
  baseline: Baseline | null
}

/** A stored event as `GET /v1/events` shows it (CONTRACT §1 plus ingest's enrichment). */
export interface EventView {
  id: string
  ts: string
  action: string
  outcome: string
  reason?: string
  client_ip?: string
  http?: { method?: string; path?: string; status?: number }
  [field: string]: unknown
}

export interface KeyIp {
  client_ip: string
  country: string | null
  count: number
  failures: number
  last_seen: string
}

/** `GET /v1/keys/:api_key_id/activity`. */
export interface KeyActivity {
  api_key_id: string
  account_ids: string[]
  bucket_ms: number
  buckets: ActivityBucket[]
  locations: GeoLocation[]
  ips: KeyIp[]
  recent_failures: EventView[]
  scopes: string[]
}

/** Where to see one key. */
export function keyPath(apiKeyId: string): string {
  return `/keys/${encodeURIComponent(apiKeyId)}`
}

/** The API path of one key, or of one of its sub-resources. */
export function keyApiPath(apiKeyId: string, sub?: 'activity' | 'revoke' | 'restore'): string {
  const base = `/v1/keys/${encodeURIComponent(apiKeyId)}`
  return sub ? `${base}/${sub}` : base
}

export interface SearchGroup {
  /** What the group's keys matched: their own id, or an account. */
  kind: 'keys' | 'account' | 'recent'
  label: string
  items: KeySearchItem[]
}

/**
 * Search answers grouped as the list shows them: keys whose id starts with `q` first, then
 * one group per matching account with its keys. The server matches either way (a key also
 * matches through an older account, so a key whose newest account does not match is listed
 * under "other accounts").
 */
export function groupSearchResults(items: readonly KeySearchItem[], q: string): SearchGroup[] {
  const query = q.trim()
  if (query === '') return items.length ? [{ kind: 'recent', label: 'Recently seen keys', items: [...items] }] : []
  const keys: KeySearchItem[] = []
  const byAccount = new Map<string, KeySearchItem[]>()
  const other: KeySearchItem[] = []
  for (const item of items) {
    if (item.api_key_id.startsWith(query)) keys.push(item)
    else if (item.account_id?.startsWith(query)) byAccount.set(item.account_id, [...(byAccount.get(item.account_id) ?? []), item])
    else other.push(item)
  }
  const groups: SearchGroup[] = []
  if (keys.length) groups.push({ kind: 'keys', label: 'Keys', items: keys })
  for (const [account, list] of [...byAccount].sort(([a], [b]) => a.localeCompare(b))) groups.push({ kind: 'account', label: `Account ${account}`, items: list })
  if (other.length) groups.push({ kind: 'account', label: 'Keys that acted for a matching account before', items: other })
  return groups
}

/**
 * What the suggestions show while the answer for `typed` is on its way: an answer for a shorter
 * prefix narrowed to what still matches (it holds every match of the longer one, up to its limit),
 * or null when the answer on hand is for something else and cannot be narrowed.
 */
export function narrowResults(answer: { q: string; items: readonly KeySearchItem[] } | undefined, typed: string): KeySearchItem[] | null {
  if (!answer) return null
  const q = typed.trim()
  if (answer.q === q) return [...answer.items]
  if (!q.startsWith(answer.q)) return null
  return answer.items.filter((i) => i.api_key_id.startsWith(q) || (i.account_id?.startsWith(q) ?? false))
}

/** One row of the activity chart; band values are null where volume.spike has no baseline. */
export interface ChartRow {
  x: number
  requests: number
  orders: number
  failures: number
  low: number | null
  median: number | null
  high: number | null
}

export function chartRows(buckets: readonly ActivityBucket[]): ChartRow[] {
  return buckets.map((b) => ({
    x: Date.parse(b.t),
    requests: b.requests,
    orders: b.orders,
    failures: b.failures,
    low: b.baseline?.low ?? null,
    median: b.baseline?.median ?? null,
    high: b.baseline?.high ?? null,
  }))
}

export interface ActivitySummary {
  requests: number
  orders: number
  failures: number
  /** Buckets whose order count is above the band's high edge (where volume.spike would fire). */
  aboveBand: number
  /** Buckets that have a band at all. */
  withBand: number
  countries: number
  ips: number
}

export function summarise(a: Pick<KeyActivity, 'buckets' | 'locations' | 'ips'>): ActivitySummary {
  let requests = 0
  let orders = 0
  let failures = 0
  let aboveBand = 0
  let withBand = 0
  for (const b of a.buckets) {
    requests += b.requests
    orders += b.orders
    failures += b.failures
    if (b.baseline) {
      withBand++
      if (b.orders > b.baseline.high) aboveBand++
    }
  }
  return { requests, orders, failures, aboveBand, withBand, countries: new Set(a.locations.map((l) => l.country)).size, ips: a.ips.length }
}

export const MAX_REASON = 1000

/** Why a revoke/restore reason cannot be sent, or null when it can (the server's rule). */
export function reasonError(reason: string): string | null {
  if (reason.trim() === '') return 'A reason is required; it is kept in the audit log.'
  if (reason.length > MAX_REASON) return `At most ${MAX_REASON} characters (now ${reason.length}).`
  return null
}

/** A date picker's range (`now-24h`, an absolute time, …) as RFC 3339 times, or an error. */
export function resolveRange(start: string, end: string, now: Date = new Date()): { from: string; to: string } | { error: string } {
  const from = datemath.parse(start, { forceNow: now })
  const to = datemath.parse(end, { roundUp: true, forceNow: now })
  if (!from?.isValid() || !to?.isValid()) return { error: 'The time range is not valid.' }
  if (!from.isBefore(to)) return { error: 'The start of the time range must be before its end.' }
  return { from: from.toISOString(), to: to.toISOString() }
}

/** The bucket width in words: "10 min", "1 h", "1 d". */
export function bucketLabel(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000} d`
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`
  return `${Math.round(ms / 60_000)} min`
}
