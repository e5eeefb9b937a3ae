/**
 * Distance, travel speed and address ranges: the arithmetic of `geo.impossible_travel`,
 * the per-rule allowlists of known egress ranges, and the per-/24 grouping of
 * `auth.credential_stuffing` (CONTRACT §5).
 *
 * Relied on by those detectors on every tick, so matchers are compiled once per rule and
 * answer without allocating. Addresses arrive as ingest stored them: ClickHouse keeps
 * `client_ip` as IPv6, so IPv4 clients come back as `::ffff:a.b.c.d` and must behave
 * exactly like `a.b.c.d` everywhere here.
 */

export interface LatLon {
  lat: number
  lon: number
}

/** A located use of a credential: where (geoip coordinates) and when (event time). */
export interface GeoFix extends LatLon {
  tsMs: number
}

/** IUGG mean Earth radius; the haversine error against the ellipsoid stays within ~0.5 %. */
export const EARTH_RADIUS_KM = 6371.0088

const DEG = Math.PI / 180
const HOUR_MS = 3_600_000

function checkLatLon(p: LatLon, name: string): void {
  if (!(p.lat >= -90 && p.lat <= 90) || !(p.lon >= -180 && p.lon <= 180)) {
    throw new RangeError(`${name} is not a coordinate: lat ${String(p.lat)}, lon ${String(p.lon)}`)
  }
}

/** Great-circle distance in km. Throws a RangeError for a latitude or longitude out of range or NaN. */
export function haversineKm(a: LatLon, b: LatLon): number {
  checkLatLon(a, 'a')
  checkLatLon(b, 'b')
  const dLat = (b.lat - a.lat) * DEG
  const dLon = (b.lon - a.lon) * DEG
  const s = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * DEG) * Math.cos(b.lat * DEG) * Math.sin(dLon / 2) ** 2
  // Rounding can push `s` a hair over 1 near the antipodes, where asin would give NaN.
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(s)))
}

/**
 * The speed, in km/h, a person would need to make both uses of a key. geoip coordinates are
 * a city centre or a country centroid, so `toleranceKm` is taken off the distance first
 * (floored at 0): two fixes that coarse cannot prove any travel shorter than that. The
 * order of `a` and `b` does not matter. Equal timestamps with distance left after the
 * tolerance give Infinity; no distance left gives 0, whatever the time.
 */
export function impliedSpeedKmh(a: GeoFix, b: GeoFix, opts: { toleranceKm: number }): number {
  if (!(opts.toleranceKm >= 0) || opts.toleranceKm === Number.POSITIVE_INFINITY) {
    throw new RangeError(`toleranceKm must be a finite number ≥ 0, got ${String(opts.toleranceKm)}`)
  }
  if (!Number.isFinite(a.tsMs) || !Number.isFinite(b.tsMs)) {
    throw new RangeError(`tsMs must be finite, got ${String(a.tsMs)} and ${String(b.tsMs)}`)
  }
  const km = Math.max(0, haversineKm(a, b) - opts.toleranceKm)
  if (km === 0) return 0
  const hours = Math.abs(b.tsMs - a.tsMs) / HOUR_MS
  return hours === 0 ? Number.POSITIVE_INFINITY : km / hours
}

/** True when the implied speed is above `maxKmh` (equal is still possible travel). */
export function isImpossibleTravel(a: GeoFix, b: GeoFix, opts: { maxKmh: number; toleranceKm: number }): boolean {
  if (!(opts.maxKmh > 0)) throw new RangeError(`maxKmh must be a number > 0, got ${String(opts.maxKmh)}`)
  return impliedSpeedKmh(a, b, opts) > opts.maxKmh
}

// ---------------------------------------------------------------------------------------
// Addresses
// ---------------------------------------------------------------------------------------

// Parse results land here rather than in a fresh array: the matcher runs per event. The
// code is synchronous, so one scratch per module is never shared between two parses.
const WORDS = new Uint32Array(4)
const GROUPS = new Uint16Array(8)

const V4 = 4
const V6 = 6
const INVALID = 0
type Family = typeof V4 | typeof V6 | typeof INVALID

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48
  const l = c | 0x20
  if (l >= 97 && l <= 102) return l - 87
  return -1
}

/**
 * Dotted-quad IPv4 in s[start, end) as an unsigned 32-bit number, or -1. Leading zeros are
 * refused (`010.0.0.1`): some parsers read them as octal, so the address is ambiguous.
 */
function parseV4(s: string, start: number, end: number): number {
  let value = 0
  let octets = 0
  let i = start
  while (octets < 4) {
    const first = i
    let n = 0
    while (i < end) {
      const d = s.charCodeAt(i) - 48
      if (d < 0 || d > 9) break
      n = n * 10 + d
      i++
    }
    const len = i - first
    if (len === 0 || len > 3 || n > 255 || (len > 1 && s.charCodeAt(first) === 48)) return -1
    value = value * 256 + n
    octets++
    if (octets < 4) {
      if (i >= end || s.charCodeAt(i) !== 46) return -1
      i++
    }
  }
  return i === end ? value : -1
}

/** IPv6 text into WORDS; false when it is not one. Zone ids (`%eth0`) are refused. */
function parseV6(s: string): boolean {
  const n = s.length
  if (n < 2 || n > 45) return false
  let count = 0
  let gapAt = -1
  let i = 0
  if (s.charCodeAt(0) === 58) {
    if (s.charCodeAt(1) !== 58) return false
    gapAt = 0
    i = 2
  }
  while (i < n) {
    let j = i
    let v = 0
    while (j < n && j - i < 5) {
      const h = hexVal(s.charCodeAt(j))
      if (h < 0) break
      v = v * 16 + h
      j++
    }
    if (j < n && s.charCodeAt(j) === 46) {
      // An embedded IPv4 tail takes the last two groups.
      if (count > 6) return false
      const v4 = parseV4(s, i, n)
      if (v4 < 0) return false
      GROUPS[count++] = v4 >>> 16
      GROUPS[count++] = v4 & 0xffff
      i = n
      break
    }
    if (j === i || j - i > 4 || count >= 8) return false
    GROUPS[count++] = v
    if (j === n) break
    if (s.charCodeAt(j) !== 58) return false
    if (j + 1 < n && s.charCodeAt(j + 1) === 58) {
      if (gapAt >= 0) return false
      gapAt = count
      i = j + 2
    } else {
      i = j + 1
      if (i === n) return false
    }
  }
  if (gapAt < 0 ? count !== 8 : count > 7) return false
  const zeros = 8 - count
  for (let k = 0; k < 4; k++) {
    WORDS[k] = ((group(2 * k, gapAt, zeros, count) << 16) | group(2 * k + 1, gapAt, zeros, count)) >>> 0
  }
  return true
}

/** Group `k` of the expanded address, with `zeros` groups inserted at `gapAt`. */
function group(k: number, gapAt: number, zeros: number, count: number): number {
  if (gapAt < 0 || k < gapAt) return GROUPS[k]!
  if (k < gapAt + zeros) return 0
  const src = k - zeros
  return src < count ? GROUPS[src]! : 0
}

/**
 * Parses `ip`. IPv4 and IPv4-mapped IPv6 both give V4 with the address in WORDS[3];
 * other IPv6 gives V6 with all four WORDS.
 */
function parseIp(ip: string): Family {
  if (ip.indexOf(':') === -1) {
    const v = parseV4(ip, 0, ip.length)
    if (v < 0) return INVALID
    WORDS[3] = v
    return V4
  }
  if (!parseV6(ip)) return INVALID
  return WORDS[0] === 0 && WORDS[1] === 0 && WORDS[2] === 0xffff ? V4 : V6
}

/** The 32-bit mask of the first `bits` bits (0..32). `<< 32` is `<< 0` in JavaScript. */
function mask32(bits: number): number {
  return bits <= 0 ? 0 : bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0
}

function invalidCidr(cidr: string, why: string): Error {
  return new Error(`Invalid CIDR "${cidr}": ${why}`)
}

/**
 * A predicate for "is this address inside one of these ranges", for IPv4 and IPv6 CIDRs.
 *
 * The list is parsed once, here: an invalid entry throws an Error naming it, so a bad
 * allowlist in a rule file fails when the rule loads, not on the first event. A bare
 * address is a one-address range (`/32` or `/128`); host bits set below the prefix
 * (`10.1.2.3/8`) are ignored, as routers do.
 *
 * IPv4 and IPv4-mapped IPv6 are one address family: `::ffff:1.2.3.4` matches `1.2.3.0/24`,
 * `1.2.3.4` matches `::ffff:1.2.3.0/120`, and an IPv6 range that covers all of
 * `::ffff:0:0/96` (such as `::/0`) matches every IPv4 address. An address that does not
 * parse matches nothing.
 *
 * IPv4 ranges are kept per prefix length in sets, so a lookup costs one probe per distinct
 * length whatever the list's size; IPv6 ranges are scanned (allowlists hold a few).
 */
export function cidrMatcher(cidrs: readonly string[]): (ip: string) => boolean {
  const v4ByLength = new Map<number, Set<number>>()
  const v6: number[] = []
  const addV4 = (network: number, bits: number): void => {
    let set = v4ByLength.get(bits)
    if (set === undefined) v4ByLength.set(bits, (set = new Set()))
    set.add((network & mask32(bits)) >>> 0)
  }

  for (const cidr of cidrs) {
    if (typeof cidr !== 'string') throw invalidCidr(String(cidr), 'not a string')
    const slash = cidr.indexOf('/')
    const addr = slash === -1 ? cidr : cidr.slice(0, slash)
    const family = parseIp(addr)
    if (family === INVALID) throw invalidCidr(cidr, 'not an IPv4 or IPv6 address')
    const isMapped = family === V4 && addr.indexOf(':') !== -1
    const maxBits = family === V4 && !isMapped ? 32 : 128
    let bits = maxBits
    if (slash !== -1) {
      const p = cidr.slice(slash + 1)
      if (!/^(?:0|[1-9]\d{0,2})$/.test(p) || Number(p) > maxBits) throw invalidCidr(cidr, `prefix must be 0 to ${maxBits}`)
      bits = Number(p)
    }
    if (family === V4 && !isMapped) {
      addV4(WORDS[3]!, bits)
      continue
    }
    if (isMapped && bits >= 96) {
      addV4(WORDS[3]!, bits - 96)
      continue
    }
    // An IPv6 range: keep network and mask, four words each.
    const entry = v6.length
    for (let k = 0; k < 4; k++) {
      const m = mask32(bits - 32 * k)
      v6.push((WORDS[k]! & m) >>> 0)
    }
    for (let k = 0; k < 4; k++) v6.push(mask32(bits - 32 * k))
    // A range that contains all of ::ffff:0:0/96 contains every IPv4 address.
    const mappedPrefix = [0, 0, 0xffff]
    if (bits <= 96 && mappedPrefix.every((w, k) => ((w & v6[entry + 4 + k]!) >>> 0) === v6[entry + k])) addV4(0, 0)
  }

  const lengths = [...v4ByLength.keys()].sort((a, b) => b - a)
  const masks = lengths.map(mask32)
  const sets = lengths.map((l) => v4ByLength.get(l)!)
  const v6Table = Uint32Array.from(v6)

  return (ip: string): boolean => {
    if (typeof ip !== 'string') return false
    const family = parseIp(ip)
    if (family === V4) {
      const a = WORDS[3]!
      for (let i = 0; i < sets.length; i++) {
        if (sets[i]!.has((a & masks[i]!) >>> 0)) return true
      }
      return false
    }
    if (family === INVALID) return false
    for (let e = 0; e < v6Table.length; e += 8) {
      if (
        ((WORDS[0]! & v6Table[e + 4]!) >>> 0) === v6Table[e] &&
        ((WORDS[1]! & v6Table[e + 5]!) >>> 0) === v6Table[e + 1] &&
        ((WORDS[2]! & v6Table[e + 6]!) >>> 0) === v6Table[e + 2] &&
        ((WORDS[3]! & v6Table[e + 7]!) >>> 0) === v6Table[e + 3]
      ) {
        return true
      }
    }
    return false
  }
}

/**
 * The network an address is grouped by: its `/24` for IPv4 (`203.0.113.0/24`) and its `/48`
 * for IPv6 (`2001:db8:1::/48`, RFC 5952 text), one site's allocation in either family.
 * IPv4-mapped addresses give their IPv4 `/24`. Throws a RangeError for text that is not an
 * address: callers group stored `client_ip` values, which ingest has already checked.
 */
export function networkOf(ip: string): string {
  const family = parseIp(ip)
  if (family === INVALID) throw new RangeError(`Not an IP address: "${ip}"`)
  if (family === V4) {
    const a = WORDS[3]!
    return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.0/24`
  }
  const g = [WORDS[0]! >>> 16, WORDS[0]! & 0xffff, WORDS[1]! >>> 16]
  // The five zero groups after the /48 are the longest zero run, so `::` stands for them
  // and for any zero groups that end the prefix.
  while (g.length > 0 && g[g.length - 1] === 0) g.pop()
  return `${g.map((x) => x.toString(16)).join(':')}::/48`
}
