import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { MemoryLockout, RedisLockout, type Lockout, type LockoutPolicy } from './lockout.js'

const redis = new Redis(process.env.REDIS_URL as string)
afterAll(() => redis.quit())
const prefix = () => `guard-test:${randomBytes(6).toString('hex')}:`
const policy: LockoutPolicy = { maxFailures: 3, windowMs: 60_000, lockMs: 150 }

describe.each([
  ['memory', (): Lockout => new MemoryLockout(policy)],
  ['redis', (): Lockout => new RedisLockout({ redis, prefix: prefix(), policy })],
])('%s lockout', (_name, make) => {
  it('locks after maxFailures, reports the lock once, and unlocks after lockMs', async () => {
    const lo = make()
    const now = () => Date.now()
    expect(await lo.recordFailure('key:k1', now())).toEqual({ lockedNow: false })
    expect(await lo.recordFailure('key:k1', now())).toEqual({ lockedNow: false })
    expect(await lo.lockedFor('key:k1', now())).toBe(0)
    expect(await lo.recordFailure('key:k1', now())).toEqual({ lockedNow: true })
    expect(await lo.lockedFor('key:k1', now())).toBeGreaterThan(0)
    // More failures while locked never report a second lock.
    for (let i = 0; i < 5; i++) expect((await lo.recordFailure('key:k1', now())).lockedNow).toBe(false)
    expect(await lo.lockedFor('ip:10.0.0.1', now())).toBe(0)
    await new Promise((r) => setTimeout(r, 200))
    expect(await lo.lockedFor('key:k1', now())).toBe(0)
  })

  it('a cleared subject starts counting again', async () => {
    const lo = make()
    await lo.recordFailure('key:k2', Date.now())
    await lo.recordFailure('key:k2', Date.now())
    await lo.clear('key:k2')
    expect((await lo.recordFailure('key:k2', Date.now())).lockedNow).toBe(false)
    expect((await lo.recordFailure('key:k2', Date.now())).lockedNow).toBe(false)
    expect(await lo.lockedFor('key:k2', Date.now())).toBe(0)
  })
})

describe('memory lockout', () => {
  it('counts failures only within the window', async () => {
    const lo = new MemoryLockout({ maxFailures: 2, windowMs: 1000, lockMs: 5000 })
    await lo.recordFailure('key:k1', 0)
    expect((await lo.recordFailure('key:k1', 1001)).lockedNow).toBe(false)
    expect((await lo.recordFailure('key:k1', 1500)).lockedNow).toBe(true)
    expect(await lo.lockedFor('key:k1', 1500)).toBe(5000)
    expect(await lo.lockedFor('key:k1', 6500)).toBe(0)
  })
})

describe('redis lockout', () => {
  it('reports one lock when two instances race on the last failure', async () => {
    const p = prefix()
    const a = new RedisLockout({ redis, prefix: p, policy: { maxFailures: 4, windowMs: 60_000, lockMs: 60_000 } })
    const b = new RedisLockout({ redis, prefix: p, policy: { maxFailures: 4, windowMs: 60_000, lockMs: 60_000 } })
    const results = await Promise.all([a, b, a, b, a, b, a, b].map((lo) => lo.recordFailure('ip:10.0.0.9', Date.now())))
    expect(results.filter((r) => r.lockedNow)).toHaveLength(1)
  })
})
