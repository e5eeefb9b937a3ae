/**
 * ActionDeps for the tests of actions whose effect is outside Vigil (notify_slack,
 * notify_email, webhook): a real config from `loadConfig`, real Redis with a random key
 * prefix, a logger whose lines the test can read. These actions use no state store, so the
 * stores are placeholders that fail loudly if an action ever reaches for one.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { loadConfig } from '@vigil/core'
import type { ActionDeps } from '../action.js'
import { captureLogger } from '../actions/conformance.js'

function unused(name: string): never {
  return new Proxy(
    {},
    {
      get(_t, prop) {
        if (prop === 'then') return undefined
        throw new Error(`${name}.${String(prop)} used by an action that should not need it`)
      },
    },
  ) as never
}

export interface OutsideActionDeps {
  deps: ActionDeps
  /** The Redis key prefix of this run. */
  prefix: string
  logs(): string
  close(): Promise<void>
}

export function outsideActionDeps(env: Record<string, string>, extra: Partial<ActionDeps> = {}): OutsideActionDeps {
  const redisUrl = process.env.REDIS_URL
  if (!redisUrl) throw new Error('REDIS_URL is not set: run tests through vitest (test/global-setup.ts starts redis-server)')
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-notify-'))
  const config = loadConfig({ VIGIL_DATA_DIR: dir, REDIS_URL: redisUrl, VIGIL_LOG_LEVEL: 'silent', VIGIL_PUBLIC_URL: 'https://vigil.example.test', ...env }, { cwd: dir })
  const prefix = `t${randomBytes(6).toString('hex')}:`
  const redis = new Redis(redisUrl, { keyPrefix: prefix, maxRetriesPerRequest: 2 })
  const { logger, text } = captureLogger()
  const deps: ActionDeps = {
    config,
    logger,
    redis,
    keys: unused('keys'),
    killswitches: unused('killswitches'),
    incidents: unused('incidents'),
    audit: unused('audit'),
    ...extra,
  }
  return {
    deps,
    prefix,
    logs: text,
    async close() {
      // KEYS does not apply keyPrefix to its pattern; DEL does, so strip it back off.
      const keys = await redis.keys(`${prefix}*`)
      if (keys.length) await redis.del(...keys.map((k) => k.slice(prefix.length)))
      redis.disconnect()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
