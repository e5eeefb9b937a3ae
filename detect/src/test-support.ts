/**
 * Shared by detect's tests: embedded ClickHouse in a temp dir with core's and detect's
 * migrations, and a way to store events exactly as ingest would (through the batch-writer
 * row format, so materialized views see real rows). Not exported from the package.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { CORE_MIGRATIONS_DIR, loadConfig, migrate, openStore, type Store } from '@vigil/core'
import { storeFixtureEvents } from './fixture-runner.js'
import { DETECT_MIGRATIONS_DIR } from './migrations.js'

export interface DetectHarness {
  dir: string
  store: Store
  close(): Promise<void>
}

export async function startDetectHarness(): Promise<DetectHarness> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-detect-'))
  const store = await openStore(loadConfig({ VIGIL_DATA_DIR: dir }, { cwd: dir }))
  await migrate(store, [
    { dir: CORE_MIGRATIONS_DIR, scope: 'core' },
    { dir: DETECT_MIGRATIONS_DIR, scope: 'detect' },
  ])
  return {
    dir,
    store,
    async close() {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/**
 * Stores CONTRACT §1 events as ingest would have (source, received_at, geo given or empty),
 * through the fixture runner's writer. `receivedAt` defaults to now.
 */
export async function storeEvents(store: Store, events: ReadonlyArray<Record<string, unknown>>, opts: { source?: string; receivedAt?: Date } = {}): Promise<void> {
  const received = (opts.receivedAt ?? new Date()).toISOString()
  await storeFixtureEvents(
    store,
    events.map((ev) => ({ source: opts.source ?? 'test', received_at: received, ...ev })),
  )
}
