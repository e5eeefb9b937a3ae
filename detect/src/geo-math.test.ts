import { describe, expect, it } from 'vitest'
import { cidrMatcher, haversineKm, impliedSpeedKmh, isImpossibleTravel, networkOf } from './geo-math.js'

const LONDON = { lat: 51.5074, lon: -0.1278 }
const NEW_YORK = { lat: 40.7128, lon: -74.006 }
const SYDNEY = { lat: -33.8688, lon: 151.2093 }
const HOUR = 3_600_000

describe('haversineKm', () => {
  it('gives London–New York ≈ 5570 km within 1 %', () => {
    expect(Math.abs(haversineKm(LONDON, NEW_YORK) - 5570) / 5570).toBeLessThan(0.01)
  })

  it('is symmetric', () => {
    expect(haversineKm(NEW_YORK, LONDON)).toBeCloseTo(haversineKm(LONDON, NEW_YORK), 9)
  })

  it('gives half the circumference for antipodes, without NaN', () => {
    const half = Math.PI * 6371.0088
    expect(haversineKm({ lat: 0, lon: 0 }, { lat: 0, lon: 180 })).toBeCloseTo(half, 6)
    expect(haversineKm({ lat: 90, lon: 0 }, { lat: -90, lon: 0 })).toBeCloseTo(half, 6)
    expect(haversineKm({ lat: 40.4168, lon: -3.7038 }, { lat: -40.4168, lon: 176.2962 })).toBeCloseTo(half, 3)
  })

  it('gives 0 for the same point, and across the antimeridian the short way round', () => {
    expect(haversineKm(LONDON, LONDON)).toBe(0)
    expect(haversineKm({ lat: 0, lon: 179.5 }, { lat: 0, lon: -179.5 })).toBeCloseTo(111.2, 0)
  })

  it('rejects coordinates out of range or NaN', () => {
    for (const bad of [
      { lat: 91, lon: 0 },
      { lat: 0, lon: -180.5 },
      { lat: Number.NaN, lon: 0 },
      { lat: 0, lon: Number.POSITIVE_INFINITY },
    ]) {
      expect(() => haversineKm(bad, LONDON)).toThrow(RangeError)
      expect(() => haversineKm(LONDON, bad)).toThrow(RangeError)
    }
  })
})

describe('impliedSpeedKmh', () => {
  const at = (p: { lat: number; lon: number }, tsMs: number) => ({ ...p, tsMs })

  it('is distance over elapsed time, in either order', () => {
    const d = haversineKm(LONDON, NEW_YORK)
    expect(impliedSpeedKmh(at(LONDON, 0), at(NEW_YORK, 7 * HOUR), { toleranceKm: 0 })).toBeCloseTo(d / 7, 6)
    expect(impliedSpeedKmh(at(NEW_YORK, 7 * HOUR), at(LONDON, 0), { toleranceKm: 0 })).toBeCloseTo(d / 7, 6)
  })

  it('takes the tolerance off the distance first, floored at 0', () => {
    const d = haversineKm(LONDON, NEW_YORK)
    expect(impliedSpeedKmh(at(LONDON, 0), at(NEW_YORK, HOUR), { toleranceKm: 200 })).toBeCloseTo(d - 200, 6)
    // Two fixes 50 km apart, a second apart: within a 100 km tolerance that is no travel.
    const near = { lat: LONDON.lat + 0.45, lon: LONDON.lon }
    expect(haversineKm(LONDON, near)).toBeGreaterThan(45)
    expect(impliedSpeedKmh(at(LONDON, 0), at(near, 1000), { toleranceKm: 100 })).toBe(0)
  })

  it('is Infinity for a real distance at the same instant, and 0 for none', () => {
    expect(impliedSpeedKmh(at(LONDON, 5), at(NEW_YORK, 5), { toleranceKm: 100 })).toBe(Number.POSITIVE_INFINITY)
    expect(impliedSpeedKmh(at(LONDON, 5), at(LONDON, 5), { toleranceKm: 0 })).toBe(0)
  })

  it('rejects a negative or non-finite tolerance and non-finite times', () => {
    expect(() => impliedSpeedKmh(at(LONDON, 0), at(NEW_YORK, HOUR), { toleranceKm: -1 })).toThrow(RangeError)
    expect(() => impliedSpeedKmh(at(LONDON, 0), at(NEW_YORK, HOUR), { toleranceKm: Number.NaN })).toThrow(RangeError)
    expect(() => impliedSpeedKmh(at(LONDON, 0), at(NEW_YORK, HOUR), { toleranceKm: Number.POSITIVE_INFINITY })).toThrow(RangeError)
    expect(() => impliedSpeedKmh(at(LONDON, Number.NaN), at(NEW_YORK, HOUR), { toleranceKm: 0 })).toThrow(RangeError)
  })
})

describe('isImpossibleTravel', () => {
  const opts = { maxKmh: 1000, toleranceKm: 100 }

  it('flags London then New York an hour later, not eight hours later', () => {
    expect(isImpossibleTravel({ ...LONDON, tsMs: 0 }, { ...NEW_YORK, tsMs: HOUR }, opts)).toBe(true)
    expect(isImpossibleTravel({ ...LONDON, tsMs: 0 }, { ...NEW_YORK, tsMs: 8 * HOUR }, opts)).toBe(false)
  })

  it('flags a simultaneous use from another continent, not from the same city', () => {
    expect(isImpossibleTravel({ ...LONDON, tsMs: 0 }, { ...SYDNEY, tsMs: 0 }, opts)).toBe(true)
    expect(isImpossibleTravel({ ...LONDON, tsMs: 0 }, { ...LONDON, tsMs: 0 }, opts)).toBe(false)
  })

  it('treats exactly maxKmh as possible', () => {
    const d = haversineKm(LONDON, NEW_YORK) - 100
    const ms = (d / 1000) * HOUR
    expect(isImpossibleTravel({ ...LONDON, tsMs: 0 }, { ...NEW_YORK, tsMs: ms }, opts)).toBe(false)
    expect(isImpossibleTravel({ ...LONDON, tsMs: 0 }, { ...NEW_YORK, tsMs: ms - 1000 }, opts)).toBe(true)
  })

  it('rejects a maxKmh that is not positive', () => {
    expect(() => isImpossibleTravel({ ...LONDON, tsMs: 0 }, { ...NEW_YORK, tsMs: HOUR }, { maxKmh: 0, toleranceKm: 0 })).toThrow(RangeError)
  })
})

describe('cidrMatcher', () => {
  it('matches IPv4 ranges, including their edges', () => {
    const m = cidrMatcher(['203.0.113.0/24', '198.51.100.7/32', '10.0.0.0/8'])
    expect(m('203.0.113.0')).toBe(true)
    expect(m('203.0.113.255')).toBe(true)
    expect(m('203.0.112.255')).toBe(false)
    expect(m('203.0.114.0')).toBe(false)
    expect(m('198.51.100.7')).toBe(true)
    expect(m('198.51.100.8')).toBe(false)
    expect(m('10.255.255.255')).toBe(true)
    expect(m('11.0.0.0')).toBe(false)
  })

  it('handles /0, /31 and /32', () => {
    expect(cidrMatcher(['0.0.0.0/0'])('255.255.255.255')).toBe(true)
    expect(cidrMatcher(['0.0.0.0/0'])('0.0.0.0')).toBe(true)
    const m31 = cidrMatcher(['192.0.2.4/31'])
    expect([m31('192.0.2.3'), m31('192.0.2.4'), m31('192.0.2.5'), m31('192.0.2.6')]).toEqual([false, true, true, false])
    const m32 = cidrMatcher(['192.0.2.4/32'])
    expect([m32('192.0.2.4'), m32('192.0.2.5')]).toEqual([true, false])
  })

  it('matches IPv6 ranges, including /0, /48, /64 and /128', () => {
    const m = cidrMatcher(['2001:db8:1::/48', 'fe80::/64', '2001:db8:ffff::1/128'])
    expect(m('2001:db8:1::1')).toBe(true)
    expect(m('2001:db8:1:ffff:ffff:ffff:ffff:ffff')).toBe(true)
    expect(m('2001:db8:2::')).toBe(false)
    expect(m('fe80::1')).toBe(true)
    expect(m('fe80:0:0:1::1')).toBe(false)
    expect(m('2001:db8:ffff::1')).toBe(true)
    expect(m('2001:db8:ffff::2')).toBe(false)
    expect(m('2001:0DB8:0001:0000:0000:0000:0000:0001')).toBe(true)
    expect(cidrMatcher(['::/0'])('2001:db8::1')).toBe(true)
    expect(cidrMatcher(['::1/128'])('::1')).toBe(true)
    expect(cidrMatcher(['::1/128'])('::2')).toBe(false)
  })

  it('treats IPv4-mapped IPv6 as IPv4, in addresses and in ranges', () => {
    const m = cidrMatcher(['203.0.113.0/24'])
    expect(m('::ffff:203.0.113.9')).toBe(true)
    expect(m('::FFFF:203.0.113.9')).toBe(true)
    expect(m('::ffff:cb00:7109')).toBe(true)
    expect(m('0:0:0:0:0:ffff:203.0.113.9')).toBe(true)
    expect(m('::ffff:203.0.114.9')).toBe(false)
    const mapped = cidrMatcher(['::ffff:203.0.113.0/120'])
    expect(mapped('203.0.113.77')).toBe(true)
    expect(mapped('203.0.114.77')).toBe(false)
    // ::/0 holds the whole mapped range, so every IPv4 address.
    expect(cidrMatcher(['::/0'])('192.0.2.1')).toBe(true)
    expect(cidrMatcher(['2001:db8::/32'])('192.0.2.1')).toBe(false)
    // IPv4-compatible (::a.b.c.d) is not mapped: it stays IPv6.
    expect(cidrMatcher(['203.0.113.0/24'])('::203.0.113.9')).toBe(false)
  })

  it('takes bare addresses as single-address ranges and ignores host bits below the prefix', () => {
    const m = cidrMatcher(['192.0.2.10', '2001:db8::5', '10.1.2.3/8'])
    expect(m('192.0.2.10')).toBe(true)
    expect(m('192.0.2.11')).toBe(false)
    expect(m('2001:db8::5')).toBe(true)
    expect(m('10.200.0.1')).toBe(true)
  })

  it('matches nothing for an empty list or an address that does not parse', () => {
    expect(cidrMatcher([])('192.0.2.1')).toBe(false)
    const m = cidrMatcher(['0.0.0.0/0', '::/0'])
    for (const bad of ['', 'localhost', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1.2.3.4 ', ' 1.2.3.4', '1..2.3', '::g', ':::', '1:2:3:4:5:6:7:8:9', '1::2::3', 'fe80::1%eth0', '12345::', '1:2:3:4:5:6:7:', '::ffff:1.2.3']) {
      expect(m(bad), bad).toBe(false)
    }
  })

  it('throws an Error naming an invalid CIDR', () => {
    for (const bad of ['10.0.0.0/33', '2001:db8::/129', '10.0.0.0/', '10.0.0.0/-1', '10.0.0.0/08', '10.0.0/8', 'not-an-ip/8', '', '10.0.0.0/8/8', '10.0.0.0/ 8']) {
      expect(() => cidrMatcher(['192.0.2.0/24', bad])).toThrow(`Invalid CIDR "${bad}"`)
    }
  })

  it('answers for many ranges from one probe per prefix length', () => {
    // 5,000 /32s and /24s: correctness at a list size where a linear scan would be felt.
    const cidrs: string[] = []
    for (let i = 0; i < 2500; i++) cidrs.push(`100.${i >> 8}.${i & 255}.1/32`, `172.16.${i % 256}.0/24`)
    const m = cidrMatcher(cidrs)
    expect(m('100.9.195.1')).toBe(true)
    expect(m('100.9.195.2')).toBe(false)
    expect(m('172.16.200.200')).toBe(true)
    expect(m('172.17.0.1')).toBe(false)
  })
})

describe('networkOf', () => {
  it('gives the /24 of an IPv4 address, plain or mapped', () => {
    expect(networkOf('203.0.113.77')).toBe('203.0.113.0/24')
    expect(networkOf('::ffff:203.0.113.77')).toBe('203.0.113.0/24')
    expect(networkOf('::ffff:cb00:714d')).toBe('203.0.113.0/24')
    expect(networkOf('0.0.0.0')).toBe('0.0.0.0/24')
    expect(networkOf('255.255.255.255')).toBe('255.255.255.0/24')
  })

  it('gives the /48 of an IPv6 address in canonical form', () => {
    expect(networkOf('2001:db8:1:2::3')).toBe('2001:db8:1::/48')
    expect(networkOf('2001:0DB8:0000:ffff::1')).toBe('2001:db8::/48')
    expect(networkOf('2001:0:5::1')).toBe('2001:0:5::/48')
    expect(networkOf('::1')).toBe('::/48')
    expect(networkOf('fe80::1')).toBe('fe80::/48')
  })

  it('throws a RangeError for text that is not an address', () => {
    for (const bad of ['', 'x', '1.2.3', '2001:db8:::1', '203.0.113.0/24']) expect(() => networkOf(bad)).toThrow(RangeError)
  })
})
