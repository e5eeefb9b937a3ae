import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { MemoryNonceCache, RedisNonceCache, type NonceCache } from './nonce-cache.js'

const redis = new Redis(process.env.REDIS_URL as string, { lazyConnect: true })
afterAll(() => redis.quit())
const prefix = () => `guard-test:${randomBytes(6).toString('hex')}:`

describe.each([
  ['memory', (): NonceCache => new MemoryNonceCache()],
  ['redis', (): NonceCache => new RedisNonceCache({ redis, prefix: prefix() })],
])('%s nonce cache', (_name, make) => {
  it('accepts a nonce once per key', async () => {
    const c = make()
    expect(await c.claim('k1', 'nonce-aaaaaaaaaaaa', 60_000)).toBe(true)
    expect(await c.claim('k1', 'nonce-aaaaaaaaaaaa', 60_000)).toBe(false)
    expect(await c.claim('k2', 'nonce-aaaaaaaaaaaa', 60_000)).toBe(true)
    expect(await c.claim('k1', 'nonce-bbbbbbbbbbbb', 60_000)).toBe(true)
  })

  it('forgets a nonce once its TTL has passed', async () => {
    const c = make()
    expect(await c.claim('k1', 'nonce-cccccccccccc', 50)).toBe(true)
    await new Promise((r) => setTimeout(r, 120))
    expect(await c.claim('k1', 'nonce-cccccccccccc', 50)).toBe(true)
  })

  it('keeps a key id and a nonce from colliding with another pair', async () => {
    const c = make()
    expect(await c.claim('a:b', 'c', 60_000)).toBe(true)
    expect(await c.claim('a', 'b:c', 60_000)).toBe(true)
  })
})

describe('memory nonce cache', () => {
  it('sweeps expired entries so memory follows the request rate', async () => {
    let now = 0
    const c = new MemoryNonceCache({ now: () => now })
    for (let i = 0; i < 100; i++) await c.claim('k1', `n${i}`, 1000)
    expect(c.size).toBe(100)
    now = 1001
    await c.claim('k1', 'fresh', 1000)
    expect(c.size).toBe(1)
  })
})
