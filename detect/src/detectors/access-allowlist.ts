/**
 * A rule's `allowlist` as the account rules apply it. An event is allowlisted when its
 * client address is inside one of `ips` (CIDRs; IPv4 and IPv4-mapped IPv6 alike), or its
 * api_key_id, account_id or source is listed. Allowlisted events never start an evaluation
 * and are left out of what the rollups count wherever the rollups can tell them apart:
 * always by address (`denials_by_ip` is kept per address), by key in an address's distinct
 * credentials, and by key when the entity judged is that key. A key's or user's counts still
 * include events of a listed account or source (the rollup does not keep those apart).
 */
import type { EngineRule, StreamEvent } from '../detector.js'
import { cidrMatcher } from '../geo-math.js'

export interface Allowlist {
  /** True when the event is to be ignored. */
  event(e: StreamEvent): boolean
  ip(ip: string): boolean
  key(apiKeyId: string): boolean
  /** Query parameters for `ALLOWLISTED_IP_SQL` and the key/account/source filters. */
  params: { allow_addrs: string[]; allow_bits: number[]; allow_keys: string[]; allow_accounts: string[]; allow_sources: string[] }
}

/**
 * SQL: is the address text (stream form, '' for none) inside the allowlist? Takes
 * `{allow_addrs:Array(String)}` and `{allow_bits:Array(UInt8)}`, IPv4 ranges given as
 * IPv4-mapped IPv6 so that one comparison covers both families.
 */
export function allowlistedIpSql(ipText: string): string {
  return `(${ipText} != '' AND arrayExists(r -> toIPv6OrDefault(${ipText}) BETWEEN r.1 AND r.2,
    arrayMap((a, b) -> IPv6CIDRToRange(toIPv6(a), b), {allow_addrs:Array(String)}, {allow_bits:Array(UInt8)})))`
}

const compiled = new WeakMap<object, Allowlist>()
const EMPTY: NonNullable<EngineRule['allowlist']> = {}

/** The rule's allowlist, compiled once per rule object (a bad CIDR throws, naming it). */
export function allowlistOf(rule: EngineRule): Allowlist {
  const list = rule.allowlist ?? EMPTY
  const cached = compiled.get(list)
  if (cached) return cached
  const cidrs = list.ips ?? []
  const inRange = cidrMatcher(cidrs)
  const keys = new Set(list.api_keys ?? [])
  const accounts = new Set(list.accounts ?? [])
  const sources = new Set(list.sources ?? [])
  const addrs: string[] = []
  const bits: number[] = []
  for (const cidr of cidrs) {
    const [addr = '', prefix] = cidr.split('/')
    const v4 = !addr.includes(':')
    addrs.push(v4 ? `::ffff:${addr}` : addr)
    bits.push(prefix === undefined ? 128 : Number(prefix) + (v4 ? 96 : 0))
  }
  const out: Allowlist = {
    event: (e) => (e.client_ip !== '' && inRange(e.client_ip)) || keys.has(e.api_key_id) || accounts.has(e.account_id) || sources.has(e.source),
    ip: (ip) => ip !== '' && inRange(ip),
    key: (id) => keys.has(id),
    params: { allow_addrs: addrs, allow_bits: bits, allow_keys: [...keys], allow_accounts: [...accounts], allow_sources: [...sources] },
  }
  compiled.set(list, out)
  return out
}
