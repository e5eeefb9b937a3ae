/**
 * A VIGIL_COLD_DIR that cannot be used stops `vigil up` before anything starts, with one
 * config_invalid line naming the setting, and leaves the data dir free for the next start.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { loadConfig, openStore } from '@vigil/core'
import { startVigil } from './runtime.js'

const dir = mkdtempSync(path.join(tmpdir(), 'vigil-tiers-start-'))
const quiet = new Writable({ write: (_c, _e, done) => done() })
const config = (env: Record<string, string>) =>
  loadConfig({ VIGIL_DATA_DIR: dir, VIGIL_PORT: '0', REDIS_URL: process.env.REDIS_URL as string, VIGIL_LOG_LEVEL: 'warn', ...env }, { cwd: dir })

afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

describe('start-up with storage tiers', () => {
  it('stops with one config_invalid line when VIGIL_COLD_DIR cannot be created, then the data dir opens with a good one', async () => {
    const file = path.join(dir, 'a-file')
    writeFileSync(file, 'x')
    const err = await startVigil(config({ VIGIL_COLD_DIR: path.join(file, 'cold') }), { logDestination: quiet }).then(
      () => undefined,
      (e: unknown) => e as { code?: string; message?: string },
    )
    expect(err).toMatchObject({ code: 'config_invalid', message: expect.stringContaining('VIGIL_COLD_DIR cannot be used: ENOTDIR') })
    expect(err?.message).not.toContain('\n')

    const store = await openStore(config({}))
    try {
      expect(store.tiering.policy).toBe('vigil_tiered')
    } finally {
      await store.close()
    }
  }, 60_000)
})
