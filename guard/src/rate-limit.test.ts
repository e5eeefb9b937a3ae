import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { MemoryRateLimiter, RedisRateLimiter, type RateLimiter } from './rate-limit.js'

const redis = new Redis(process.env.REDIS_URL as string)
afterAll(() => redis.quit())
const prefix = () => `guard-test:${randomBytes(6).toString('hex')}:`
const T0 = Date.parse('2026-11-24T09:30:00.000Z')

describe.each([
  ['memory', (): RateLimiter => new MemoryRateLimiter()],
  ['redis', (): RateLimiter => new RedisRateLimiter({ redis, prefix: prefix() })],
])('%s rate limiter', (_name, make) => {
  it('allows perSecond requests in any 1000 ms, then refuses with Retry-After', async () => {
    const rl = make()
    const limits = { perSecond: 3, perDay: 1000 }
    for (let i = 0; i < 3; i++) expect(await rl.consume('k1', limits, T0 + i * 100)).toEqual({ allowed: true })
    expect(await rl.consume('k1', limits, T0 + 300)).toEqual({ allowed: false, window: 'second', retryAfterS: 1 })
    // Sliding, not fixed: at T0+999 the first request still counts.
    expect((await rl.consume('k1', limits, T0 + 999)).allowed).toBe(false)
    expect(await rl.consume('k1', limits, T0 + 1000)).toEqual({ allowed: true })
    expect((await rl.consume('k1', limits, T0 + 1050)).allowed).toBe(false)
    expect(await rl.consume('k1', limits, T0 + 1100)).toEqual({ allowed: true })
  })

  it('keeps keys apart', async () => {
    const rl = make()
    const limits = { perSecond: 1, perDay: 1000 }
    expect((await rl.consume('k1', limits, T0)).allowed).toBe(true)
    expect((await rl.consume('k2', limits, T0)).allowed).toBe(true)
    expect((await rl.consume('k1', limits, T0)).allowed).toBe(false)
  })

  it('refuses past perDay until the next UTC day, with Retry-After to midnight', async () => {
    const rl = make()
    const limits = { perSecond: 100, perDay: 2 }
    expect((await rl.consume('k1', limits, T0)).allowed).toBe(true)
    expect((await rl.consume('k1', limits, T0 + 5_000)).allowed).toBe(true)
    const refused = await rl.consume('k1', limits, T0 + 10_000)
    expect(refused).toEqual({ allowed: false, window: 'day', retryAfterS: (Date.parse('2026-11-25T00:00:00Z') - T0 - 10_000) / 1000 })
    expect((await rl.consume('k1', limits, Date.parse('2026-11-25T00:00:00.001Z'))).allowed).toBe(true)
  })

  it('does not count refused requests: a client that backs off gets through', async () => {
    const rl = make()
    const limits = { perSecond: 2, perDay: 3 }
    expect((await rl.consume('k1', limits, T0)).allowed).toBe(true)
    expect((await rl.consume('k1', limits, T0)).allowed).toBe(true)
    for (let i = 0; i < 20; i++) expect((await rl.consume('k1', limits, T0 + 10)).allowed).toBe(false)
    expect((await rl.consume('k1', limits, T0 + 1500)).allowed).toBe(true)
  })

  it('answers a different tier with its own limits for the same key', async () => {
    const rl = make()
    expect((await rl.consume('k1', { perSecond: 1, perDay: 100 }, T0)).allowed).toBe(true)
    expect((await rl.consume('k1', { perSecond: 1, perDay: 100 }, T0)).allowed).toBe(false)
    expect((await rl.consume('k1', { perSecond: 5, perDay: 100 }, T0)).allowed).toBe(true)
  })
})

describe('redis rate limiter', () => {
  it('is one limit for two instances sharing Redis', async () => {
    const p = prefix()
    const a = new RedisRateLimiter({ redis, prefix: p })
    const b = new RedisRateLimiter({ redis, prefix: p })
    const limits = { perSecond: 4, perDay: 1000 }
    const results = await Promise.all([a, b, a, b, a, b].map((rl) => rl.consume('k1', limits, T0)))
    expect(results.filter((r) => r.allowed)).toHaveLength(4)
  })
})
