/**
 * Shared set-up for server tests (not built into dist): a throwaway data dir with a
 * migrated embedded store. chDB is one engine per process and vitest gives each test file
 * its own process, so each file opens one store and shares it.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { loadConfig, migrate, openStore, type Store, type VigilConfig } from '@vigil/core'

export interface TestStore {
  dir: string
  config: VigilConfig
  store: Store
  cleanup(): Promise<void>
}

export async function openTestStore(env: Record<string, string> = {}): Promise<TestStore> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-server-'))
  const config = loadConfig({ VIGIL_DATA_DIR: dir, VIGIL_LOG_LEVEL: 'silent', ...env }, { cwd: dir })
  const store = await openStore(config)
  await migrate(store)
  return {
    dir,
    config,
    store,
    async cleanup() {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
