/**
 * The network around a client address at a rule's prefix length (auth.credential_stuffing's
 * `ipv4_prefix` / `ipv6_prefix`), named the same way in JavaScript (`networkId`, for the
 * batch's events) and in SQL (`networkSql`, for rollup rows): an alert's entity id must be
 * one string whichever side computed it. The text is ClickHouse's: IPv4 dotted
 * (`203.0.113.0/24`), IPv6 as `IPv6NumToString` writes it, which is RFC 5952
 * (`2001:db8:4a2c::/48`) except for an address whose first 96 bits are zero, which it writes
 * with a dotted tail: only a prefix past /96 of such an address would name it differently here.
 *
 * Not geo-math's `networkOf`: that one is fixed at /24 and /48, and a rule may choose others.
 */

/** The network of `ip` (text as the stream shows it), or undefined when it is not an address. */
export function networkId(ip: string, v4Prefix: number, v6Prefix: number): string | undefined {
  if (!ip.includes(':')) {
    const v4 = parseV4(ip)
    if (v4 === undefined) return undefined
    const masked = v4Prefix === 0 ? 0 : (v4 & (0xffffffff << (32 - v4Prefix))) >>> 0
    return `${formatV4(masked)}/${v4Prefix}`
  }
  const groups = parseV6(ip)
  if (groups === undefined) return undefined
  const masked = groups.map((g, i) => {
    const bits = Math.min(16, Math.max(0, v6Prefix - 16 * i))
    return bits === 0 ? 0 : g & ((0xffff << (16 - bits)) & 0xffff)
  })
  return `${formatV6(masked)}/${v6Prefix}`
}

function parseV4(text: string): number | undefined {
  const parts = text.split('.')
  if (parts.length !== 4) return undefined
  let v = 0
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined
    v = v * 256 + Number(p)
  }
  return v
}

const formatV4 = (v: number) => [24, 16, 8, 0].map((s) => (v >>> s) & 0xff).join('.')

function parseV6(text: string): number[] | undefined {
  // An embedded IPv4 tail (`64:ff9b::192.0.2.1`) is the last two groups.
  const lastColon = text.lastIndexOf(':')
  let hexText = text
  if (text.slice(lastColon + 1).includes('.')) {
    const v4 = parseV4(text.slice(lastColon + 1))
    if (v4 === undefined) return undefined
    hexText = `${text.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`
  }
  const halves = hexText.split('::')
  if (halves.length > 2) return undefined
  const part = (s: string | undefined) => (s ? s.split(':') : [])
  const left = part(halves[0])
  const right = part(halves[1])
  const fill = halves.length === 2 ? 8 - left.length - right.length : 0
  if (fill < 0 || (halves.length === 1 && left.length !== 8)) return undefined
  const groups = [...left, ...Array<string>(fill).fill('0'), ...right]
  if (!groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return undefined
  return groups.map((g) => parseInt(g, 16))
}

/** RFC 5952: lower-case hex, no leading zeros, the longest run (≥ 2, the first on a tie) of zero groups as `::`. */
function formatV6(groups: readonly number[]): string {
  let best = -1
  let bestLen = 1
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < groups.length && groups[j] === 0) j++
    if (j - i > bestLen) {
      best = i
      bestLen = j - i
    }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (best < 0) return hex.join(':')
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`
}

/**
 * SQL naming the network of an address column holding stream text (dotted IPv4 or IPv6;
 * '' gives a name no batch asks for). Takes `{v4_prefix:UInt8}` and `{v6_prefix:UInt8}`.
 * The OrDefault parsers: ClickHouse may evaluate both branches of `if`.
 */
export function networkSql(ipText: string): string {
  return `if(isIPv4String(${ipText}),
    concat(IPv4NumToString(IPv4CIDRToRange(toIPv4OrDefault(${ipText}), {v4_prefix:UInt8}).1), '/', toString({v4_prefix:UInt8})),
    concat(IPv6NumToString(IPv6CIDRToRange(toIPv6OrDefault(${ipText}), {v6_prefix:UInt8}).1), '/', toString({v6_prefix:UInt8})))`
}
