import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { MemoryNonceCache, RedisNonceCache, type NonceCache } from './nonce-cache.js'
import { withMemoryFallback } from './redis-fallback.js'

// A Redis nobody listens on: every command fails or waits for a connection.
const dead = new Redis({ port: 1, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
dead.on('error', () => undefined)
afterAll(() => dead.disconnect())

describe('withMemoryFallback', () => {
  it('answers from memory when Redis is down, and reports the error', async () => {
    const errors: unknown[] = []
    const cache = withMemoryFallback<NonceCache>(new RedisNonceCache({ redis: dead, prefix: 'x:' }), new MemoryNonceCache(), {
      timeoutMs: 200,
      onError: (e) => errors.push(e),
    })
    expect(await cache.claim('k1', 'nonce-0123456789ab', 60_000)).toBe(true)
    expect(await cache.claim('k1', 'nonce-0123456789ab', 60_000)).toBe(false)
    expect(errors.length).toBeGreaterThanOrEqual(2)
  })

  it('does not wait for a Redis that never answers', async () => {
    const hanging: NonceCache = { claim: () => new Promise<boolean>(() => undefined) }
    const cache = withMemoryFallback<NonceCache>(hanging, new MemoryNonceCache(), { timeoutMs: 30 })
    expect(await cache.claim('k1', 'nonce-0123456789ab', 60_000)).toBe(true)
  })
})
