/**
 * VIGIL_COLD_DIR and VIGIL_STORAGE_POLICY: a bad value stops start-up with one line naming the
 * setting; the store opens with the tiered policy on embedded chDB; a server's policy is checked
 * against system.storage_policies (run here against the embedded engine, which answers the same
 * system tables).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { loadConfig } from './config.js'
import { openStore, type Store } from './store.js'
import { resolveTiering } from './storage-tiers.js'
import { isVigilError } from './errors.js'

let dir: string
let store: Store

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'vigil-tiers-core-'))
  store = await openStore(loadConfig({ VIGIL_DATA_DIR: dir }, { cwd: dir }))
})
afterAll(async () => {
  await store?.close()
  rmSync(dir, { recursive: true, force: true })
})

/** The one line start-up prints for a config error, or a failure naming what was thrown. */
async function failure(fn: () => unknown): Promise<string> {
  try {
    await fn()
  } catch (err) {
    expect(isVigilError(err) && err.errName === 'VIGIL_ERR_CONFIG_INVALID', String(err)).toBe(true)
    const msg = (err as Error).message
    expect(msg).not.toContain('\n')
    // What `vigil` prints after `config_invalid: ` (server/src/cli.ts drops the registry's text).
    return msg.replace(/^Invalid configuration: /, '')
  }
  throw new Error('expected a config_invalid error')
}

describe('storage tier settings', () => {
  it('VIGIL_COLD_DIR defaults to <data dir>/cold and resolves a relative path against the working directory', () => {
    expect(loadConfig({ VIGIL_DATA_DIR: dir }, { cwd: dir }).storage).toEqual({ coldDir: path.join(dir, 'cold'), policy: undefined })
    expect(loadConfig({ VIGIL_DATA_DIR: dir, VIGIL_COLD_DIR: 'slow' }, { cwd: dir }).storage.coldDir).toBe(path.join(dir, 'slow'))
  })

  it('refuses a VIGIL_COLD_DIR that is a file, inside the engine directory, or has control characters', async () => {
    const file = path.join(dir, 'a-file')
    writeFileSync(file, 'x')
    expect(await failure(() => loadConfig({ VIGIL_DATA_DIR: dir, VIGIL_COLD_DIR: file }, { cwd: dir }))).toMatch(/^VIGIL_COLD_DIR names something that is not a directory/)
    expect(await failure(() => loadConfig({ VIGIL_DATA_DIR: dir, VIGIL_COLD_DIR: path.join(dir, 'clickhouse', 'cold') }, { cwd: dir }))).toMatch(
      /^VIGIL_COLD_DIR must not contain or lie inside the embedded engine's directory/,
    )
    expect(await failure(() => loadConfig({ VIGIL_DATA_DIR: dir, VIGIL_COLD_DIR: 'a\nb' }, { cwd: dir }))).toMatch(/^VIGIL_COLD_DIR must be a path/)
  })

  it('stops opening the store when VIGIL_COLD_DIR cannot be created', async () => {
    const file = path.join(dir, 'not-a-dir')
    writeFileSync(file, 'x')
    const config = loadConfig({ VIGIL_DATA_DIR: dir, VIGIL_COLD_DIR: path.join(file, 'cold') }, { cwd: dir })
    expect(await failure(() => openStore(config))).toMatch(/^VIGIL_COLD_DIR cannot be used: ENOTDIR on /)
  })

  it('VIGIL_STORAGE_POLICY is a policy name and only applies with CLICKHOUSE_URL', async () => {
    expect(await failure(() => loadConfig({ VIGIL_DATA_DIR: dir, CLICKHOUSE_URL: 'http://127.0.0.1:8123', VIGIL_STORAGE_POLICY: "x'; DROP" }, { cwd: dir }))).toMatch(
      /^VIGIL_STORAGE_POLICY must be a ClickHouse storage policy name/,
    )
    expect(await failure(() => loadConfig({ VIGIL_DATA_DIR: dir, VIGIL_STORAGE_POLICY: 'tiered' }, { cwd: dir }))).toMatch(/^VIGIL_STORAGE_POLICY only applies with CLICKHOUSE_URL/)
  })
})

describe('tiering the store checks', () => {
  it('embedded chDB has vigil_tiered with its cold disk at VIGIL_COLD_DIR', () => {
    expect(store.tiering).toEqual({ policy: 'vigil_tiered', coldVolume: 'cold', source: 'embedded' })
  })

  it('a server: no VIGIL_STORAGE_POLICY is no tiering with the reason; an unknown policy or one without volume cold stops start-up', async () => {
    const server = (policy?: string) =>
      loadConfig({ VIGIL_DATA_DIR: dir, CLICKHOUSE_URL: 'http://127.0.0.1:8123', ...(policy ? { VIGIL_STORAGE_POLICY: policy } : {}) }, { cwd: dir })
    const query = store.query.bind(store)
    expect(await resolveTiering(query, server(), 'server')).toEqual({
      policy: null,
      why: 'ClickHouse is a server (CLICKHOUSE_URL), where Vigil cannot create disks, and VIGIL_STORAGE_POLICY is not set',
    })
    expect(await failure(() => resolveTiering(query, server('no_such_policy'), 'server'))).toBe('VIGIL_STORAGE_POLICY: ClickHouse has no storage policy "no_such_policy"')
    expect(await failure(() => resolveTiering(query, server('default'), 'server'))).toBe('VIGIL_STORAGE_POLICY: storage policy "default" has no volume named "cold"')
    expect(await resolveTiering(query, server('vigil_tiered'), 'server')).toEqual({ policy: 'vigil_tiered', coldVolume: 'cold', source: 'VIGIL_STORAGE_POLICY' })
  })

  it('refuses to run when the engine already running in this process has its cold disk elsewhere', async () => {
    const other = loadConfig({ VIGIL_DATA_DIR: dir, VIGIL_COLD_DIR: path.join(dir, 'elsewhere') }, { cwd: dir })
    expect(await failure(() => openStore(other))).toMatch(/^VIGIL_COLD_DIR is .*elsewhere but the engine, already running in this process, has its cold disk at .*\/cold\/$/)
    // The refused store closed only its own connections: the first one still answers.
    expect(await store.query('SELECT 1 AS one')).toEqual([{ one: 1 }])
  })
})
