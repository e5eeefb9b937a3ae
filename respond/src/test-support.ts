/**
 * Shared by respond's tests: embedded ClickHouse in a temp dir with every migration up to
 * respond's, a Redis connection to the test redis-server (REDIS_URL from the global setup),
 * and a random key prefix so tests never see each other's keys or queues. Not exported.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { CORE_MIGRATIONS_DIR, loadConfig, migrate, openStore, type Store, type VigilConfig } from '@vigil/core'
import { RESPOND_MIGRATIONS_DIR } from './migrations.js'

export interface RespondHarness {
  dir: string
  store: Store
  redis: Redis
  /** Unique per harness: use it as the BullMQ prefix and the start of Redis keys. */
  prefix: string
  config: VigilConfig
  close(): Promise<void>
}

export async function startRespondHarness(env: Record<string, string> = {}): Promise<RespondHarness> {
  const redisUrl = process.env.REDIS_URL
  if (!redisUrl) throw new Error('REDIS_URL is not set: run tests through vitest (test/global-setup.ts starts redis-server)')
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-respond-'))
  const config = loadConfig({ VIGIL_DATA_DIR: dir, REDIS_URL: redisUrl, VIGIL_LOG_LEVEL: 'silent', ...env }, { cwd: dir })
  const store = await openStore(config)
  // respond reads alerts from the queue, never detect's tables, so core's migrations suffice.
  await migrate(store, [
    { dir: CORE_MIGRATIONS_DIR, scope: 'core' },
    { dir: RESPOND_MIGRATIONS_DIR, scope: 'respond' },
  ])
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null, lazyConnect: false })
  const prefix = `t${randomBytes(6).toString('hex')}`
  return {
    dir,
    store,
    redis,
    prefix,
    config,
    async close() {
      const keys = await redis.keys(`${prefix}*`)
      if (keys.length) await redis.del(...keys)
      redis.disconnect()
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
