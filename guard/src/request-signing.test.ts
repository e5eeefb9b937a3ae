import { createHash, createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { canonicalString, EMPTY_BODY_SHA256, parseSignedHeaders, signRequest, verifySignature } from './request-signing.js'

const secret = 'test-secret-0123456789abcdef'

describe('request signing v1', () => {
  it('signs exactly the documented canonical string', () => {
    const body = '{"symbol":"AAPL"}'
    const h = signRequest({ keyId: 'k1', secret, method: 'post', path: '/v1/orders?x=1', body, timestamp: 1_800_000_000, nonce: 'abcdefghijklmnop' })
    const expected = createHmac('sha256', secret)
      .update(`POST\n/v1/orders?x=1\n1800000000\nabcdefghijklmnop\n${createHash('sha256').update(body).digest('hex')}`)
      .digest('hex')
    expect(h).toEqual({ 'x-key-id': 'k1', 'x-timestamp': '1800000000', 'x-nonce': 'abcdefghijklmnop', 'x-signature': `v1=${expected}` })
    expect(EMPTY_BODY_SHA256).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  })

  it('parses good headers and tells missing from malformed', () => {
    const h = signRequest({ keyId: 'k1', secret, method: 'GET', path: '/' })
    const ok = parseSignedHeaders(h)
    expect(ok.ok && ok.value.keyId).toBe('k1')
    expect(parseSignedHeaders({})).toEqual({ ok: false, problem: 'missing' })
    expect(parseSignedHeaders({ ...h, 'x-nonce': undefined })).toEqual({ ok: false, problem: 'missing' })
    const bad: Record<string, string | string[]>[] = [
      { ...h, 'x-timestamp': '12.5' },
      { ...h, 'x-timestamp': '-1' },
      { ...h, 'x-timestamp': '9'.repeat(13) },
      { ...h, 'x-nonce': 'short' },
      { ...h, 'x-nonce': 'has spaces in it!!!!' },
      { ...h, 'x-nonce': 'x'.repeat(65) },
      { ...h, 'x-signature': 'v2=' + 'a'.repeat(64) },
      { ...h, 'x-signature': 'v1=' + 'A'.repeat(64) },
      { ...h, 'x-signature': 'v1=' + 'a'.repeat(63) },
      { ...h, 'x-key-id': 'k1\r\nX-Injected: 1' },
      { ...h, 'x-key-id': 'k'.repeat(129) },
      { ...h, 'x-key-id': ['k1', 'k2'] },
    ]
    for (const b of bad) expect(parseSignedHeaders(b), JSON.stringify(b)).toEqual({ ok: false, problem: 'malformed' })
  })

  it('verifies against any of the secrets, and nothing else', () => {
    const canonical = canonicalString({ method: 'GET', path: '/a', timestamp: 1, nonce: 'n'.repeat(16), bodySha256: EMPTY_BODY_SHA256 })
    const sig = createHmac('sha256', secret).update(canonical).digest('hex')
    expect(verifySignature([secret], canonical, sig)).toBe(true)
    expect(verifySignature(['other-secret-0123456789', secret], canonical, sig)).toBe(true)
    expect(verifySignature(['other-secret-0123456789'], canonical, sig)).toBe(false)
    expect(verifySignature([], canonical, sig)).toBe(false)
    expect(verifySignature([secret], canonical.replace('/a', '/b'), sig)).toBe(false)
    expect(verifySignature([secret], canonical, sig.slice(0, 62))).toBe(false)
  })
})
