import { describe, it, expect, afterAll } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { loadConfig } from './config.js'
import { instanceId } from './instance.js'
import { migrate } from './migrate.js'
import { openStore } from './store.js'

const dir = mkdtempSync(path.join(tmpdir(), 'vigil-instance-'))
const store = await openStore(loadConfig({ VIGIL_DATA_DIR: dir }, { cwd: dir }))
await migrate(store)
afterAll(async () => {
  await store.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('instanceId', () => {
  it('is made once and then stays, even when asked for concurrently', async () => {
    const ids = await Promise.all(Array.from({ length: 5 }, () => instanceId(store)))
    const settled = await instanceId(store)
    expect(settled).toMatch(/^[0-9a-f]{16}$/)
    expect(await instanceId(store)).toBe(settled)
    // Racing first calls may each have written one; all later calls agree on the smallest.
    expect([...ids].sort()[0]).toBe(settled)
  })
})
