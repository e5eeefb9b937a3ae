import { describe, expect, it } from 'vitest'
import { ipAllowed, ipBytes, parseCidr } from './cidr.js'

const allow = (cidrs: string[], ip: string) => ipAllowed(cidrs.map(parseCidr), ip)

describe('cidr', () => {
  it('matches IPv4 ranges at their edges', () => {
    expect(allow(['10.0.0.0/8'], '10.255.255.255')).toBe(true)
    expect(allow(['10.0.0.0/8'], '11.0.0.0')).toBe(false)
    expect(allow(['192.168.1.0/25'], '192.168.1.127')).toBe(true)
    expect(allow(['192.168.1.0/25'], '192.168.1.128')).toBe(false)
    expect(allow(['203.0.113.7'], '203.0.113.7')).toBe(true)
    expect(allow(['203.0.113.7'], '203.0.113.8')).toBe(false)
    expect(allow(['0.0.0.0/0'], '8.8.8.8')).toBe(true)
  })

  it('matches IPv6 ranges, compressed or not', () => {
    expect(allow(['2001:db8::/32'], '2001:db8:ffff::1')).toBe(true)
    expect(allow(['2001:db8::/32'], '2001:db9::1')).toBe(false)
    expect(allow(['2001:db8:0:0:0:0:0:1/128'], '2001:db8::1')).toBe(true)
    expect(allow(['2001:db8::1/127'], '2001:db8::0')).toBe(true)
    expect(allow(['2001:db8::1/127'], '2001:db8::2')).toBe(false)
    expect(allow(['fe80::/10'], 'fe80::1%eth0')).toBe(true)
  })

  it('treats IPv4-mapped IPv6 as the IPv4 address, both ways', () => {
    expect(allow(['10.0.0.0/8'], '::ffff:10.1.2.3')).toBe(true)
    expect(allow(['10.0.0.0/8'], '::ffff:a01:203')).toBe(true)
    expect(allow(['::ffff:10.0.0.0/104'], '10.9.9.9')).toBe(true)
    expect(allow(['10.0.0.0/8'], '::ffff:11.1.2.3')).toBe(false)
    // An IPv4 /0 covers IPv4 only, not all of IPv6.
    expect(allow(['0.0.0.0/0'], '2001:db8::1')).toBe(false)
  })

  it('never matches a client address that is not an address', () => {
    expect(allow(['0.0.0.0/0', '::/0'], 'not-an-ip')).toBe(false)
    expect(allow(['0.0.0.0/0'], '')).toBe(false)
    expect(ipBytes('1.2.3.256')).toBeUndefined()
  })

  it('refuses malformed allowlist entries', () => {
    for (const bad of ['10.0.0.0/33', '2001:db8::/129', '10.0.0.0/', '10.0.0/8', 'example.com', '10.0.0.0/8/9', '::/-1', '1.2.3.4/ 8']) {
      expect(() => parseCidr(bad), bad).toThrow()
    }
  })
})
