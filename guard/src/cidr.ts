/**
 * IP allowlists for API keys: CIDR matching for IPv4 and IPv6. Every address is held as 16
 * bytes, IPv4 as its IPv4-mapped IPv6 form (`::ffff:a.b.c.d`), so `10.0.0.0/8` matches a
 * client that a dual-stack socket reports as `::ffff:10.1.2.3`, and the reverse.
 *
 * Relied on by: the plugin (the `ip_allowlist` of each key).
 */
import { isIPv4, isIPv6 } from 'node:net'

export interface Cidr {
  bytes: Uint8Array
  /** Prefix length in the 128-bit space. */
  bits: number
}

function v4Bytes(ip: string): Uint8Array {
  const out = new Uint8Array(16)
  out[10] = 0xff
  out[11] = 0xff
  ip.split('.').forEach((part, i) => {
    out[12 + i] = Number(part)
  })
  return out
}

function v6Bytes(ip: string): Uint8Array {
  let text = ip
  const out = new Uint8Array(16)
  // A trailing dotted quad (`::ffff:1.2.3.4`) is the last 32 bits.
  const lastColon = text.lastIndexOf(':')
  const tail = text.slice(lastColon + 1)
  let tailBytes: Uint8Array | undefined
  if (tail.includes('.')) {
    tailBytes = v4Bytes(tail).subarray(12)
    text = `${text.slice(0, lastColon + 1)}0:0`
  }
  const [head = '', rest] = text.split('::') as [string, string | undefined]
  const headGroups = head === '' ? [] : head.split(':')
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':')
  const groups = rest === undefined ? headGroups : [...headGroups, ...Array<string>(8 - headGroups.length - restGroups.length).fill('0'), ...restGroups]
  groups.forEach((g, i) => {
    const n = parseInt(g, 16)
    out[i * 2] = n >> 8
    out[i * 2 + 1] = n & 0xff
  })
  if (tailBytes) out.set(tailBytes, 12)
  return out
}

/** The 16-byte form of an IPv4 or IPv6 address, or undefined when it is not one. A zone (`%eth0`) is ignored. */
export function ipBytes(ip: string): Uint8Array | undefined {
  const bare = ip.includes('%') ? ip.slice(0, ip.indexOf('%')) : ip
  if (isIPv4(bare)) return v4Bytes(bare)
  if (isIPv6(bare)) return v6Bytes(bare)
  return undefined
}

/** Parses `a.b.c.d/n`, `x::y/n`, or a bare address (a /32 or /128). Throws on anything else. */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/')
  const addr = slash === -1 ? text : text.slice(0, slash)
  const bytes = ipBytes(addr)
  if (!bytes) throw new Error(`not an IP address or CIDR: ${JSON.stringify(text)}`)
  const v4 = isIPv4(addr)
  const max = v4 ? 32 : 128
  let bits = max
  if (slash !== -1) {
    const p = text.slice(slash + 1)
    if (!/^[0-9]{1,3}$/.test(p) || Number(p) > max) throw new Error(`bad prefix length in ${JSON.stringify(text)}`)
    bits = Number(p)
  }
  return { bytes, bits: v4 ? bits + 96 : bits }
}

export function cidrContains(cidr: Cidr, ip: Uint8Array): boolean {
  let bits = cidr.bits
  for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff
    if (((cidr.bytes[i] as number) & mask) !== ((ip[i] as number) & mask)) return false
  }
  return true
}

/** True when `ip` is inside any of `cidrs`; an unparsable `ip` is never inside. */
export function ipAllowed(cidrs: readonly Cidr[], ip: string): boolean {
  const bytes = ipBytes(ip)
  if (!bytes) return false
  return cidrs.some((c) => cidrContains(c, bytes))
}
