/**
 * Shared by detect's tests: embedded ClickHouse in a temp dir with core's and detect's
 * migrations, and a way to store events exactly as ingest would (through the batch-writer
 * row format, so materialized views see real rows). Not exported from the package.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { CORE_MIGRATIONS_DIR, EVENT_COLUMNS, loadConfig, migrate, openStore, type Store } from '@vigil/core'
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

const toCh = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, iso.length - 1)}`

/**
 * Stores CONTRACT §1 events as ingest would have (source, received_at, geo given or empty),
 * flattened by EVENT_COLUMNS. `receivedAt` defaults to now.
 */
export async function storeEvents(store: Store, events: ReadonlyArray<Record<string, unknown>>, opts: { source?: string; receivedAt?: Date } = {}): Promise<void> {
  const received = (opts.receivedAt ?? new Date()).toISOString()
  const lines = events.map((ev) => {
    const e: Record<string, unknown> = { source: opts.source ?? 'test', received_at: received, clock_skew_ms: 0, ...ev }
    const row: Record<string, unknown> = {}
    for (const c of EVENT_COLUMNS) {
      let v: unknown = e[c.path[0] as string]
      if (c.path[1] !== undefined) v = v == null ? undefined : (v as Record<string, unknown>)[c.path[1]]
      if (v === undefined || v === null) continue
      row[c.name] = c.type.startsWith('DateTime64') ? toCh(v as string) : v
    }
    return JSON.stringify(row)
  })
  await store.insertNdjson('events', EVENT_COLUMNS.map((c) => c.name), lines.join('\n') + '\n')
}
