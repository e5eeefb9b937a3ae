/**
 * The retention policy's hot tier on real embedded chDB: tables with `hot_days` get the tiered
 * storage policy and a `TO VOLUME 'cold'` TTL, old rows' parts move to the cold disk, recent
 * ones stay, a restart changes nothing, and the audit-integrity report shows it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { CORE_MIGRATIONS_DIR, loadConfig, migrate, openStore, type Store, type VigilConfig } from '@vigil/core'
import { RESPOND_MIGRATIONS_DIR } from '../migrations.js'
import { applyRetentionPolicy, RETENTION_POLICY, ttlOf } from './retention.js'
import { auditIntegrity } from './audit-integrity.js'

let dir: string
let config: VigilConfig
let store: Store

const open = async () => {
  store = await openStore(config)
}
const tables = async () =>
  new Map(
    (await store.query<{ name: string; engine_full: string; storage_policy: string }>(
      'SELECT name, engine_full, storage_policy FROM system.tables WHERE database = currentDatabase()',
    )).map((t) => [t.name, t]),
  )
/** Each event id with the disk of the active part holding it. */
const diskOfRows = async () =>
  Object.fromEntries(
    (await store.query<{ id: string; disk: string }>(
      `SELECT e.id AS id, p.disk_name AS disk FROM (SELECT id, _part AS part FROM events) AS e
       INNER JOIN (SELECT name, disk_name FROM system.parts WHERE database = currentDatabase() AND table = 'events' AND active) AS p ON p.name = e.part`,
    )).map((r) => [r.id, r.disk]),
  )
const day = (d: number) => new Date(Date.now() - d * 86_400_000).toISOString().replace('T', ' ').replace('Z', '')

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'vigil-tiers-'))
  config = loadConfig({ VIGIL_DATA_DIR: dir, VIGIL_LOG_LEVEL: 'silent' }, { cwd: dir })
  await open()
  await migrate(store, [
    { dir: CORE_MIGRATIONS_DIR, scope: 'core' },
    { dir: RESPOND_MIGRATIONS_DIR, scope: 'respond' },
  ])
})
afterAll(async () => {
  await store?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('hot and cold storage tiers (embedded chDB)', () => {
  it('opens the store with the tiered policy: volume default on the data dir, then volume cold on VIGIL_COLD_DIR', async () => {
    expect(store.tiering).toEqual({ policy: 'vigil_tiered', coldVolume: 'cold', source: 'embedded' })
    const vols = await store.query<{ volume_name: string; disks: string[] }>(
      "SELECT volume_name, disks FROM system.storage_policies WHERE policy_name = 'vigil_tiered' ORDER BY volume_priority",
    )
    expect(vols).toEqual([
      { volume_name: 'default', disks: ['default'] },
      { volume_name: 'cold', disks: ['cold'] },
    ])
    const [cold] = await store.query<{ path: string }>("SELECT path FROM system.disks WHERE name = 'cold'")
    expect(cold?.path).toBe(path.join(dir, 'cold') + '/')
    expect(existsSync(path.join(dir, 'clickhouse-config.xml'))).toBe(true)
  })

  it('moves an existing table to the tiered policy, old rows to the cold disk, recent rows stay hot', async () => {
    // Rows written before the policy is applied, as in a data dir from before tiering.
    const rows = [
      { id: 'cold_row', ts: day(200), action: 'api.request' },
      { id: 'hot_row', ts: day(1), action: 'api.request' },
    ]
    await store.insertNdjson(
      'events',
      ['id', 'ts', 'action', 'outcome', 'source', 'received_at'],
      rows.map((r) => JSON.stringify({ ...r, outcome: 'success', source: 's', received_at: r.ts })).join('\n') + '\n',
    )
    expect((await tables()).get('events')?.storage_policy).toBe('default')
    expect(await diskOfRows()).toEqual({ cold_row: 'default', hot_row: 'default' })

    const changes = await applyRetentionPolicy(store)
    const by = new Map(changes.map((c) => [c.table, c]))
    for (const rule of RETENTION_POLICY.filter((r) => r.hot_days !== null)) {
      const c = by.get(rule.table)
      if (c?.outcome === 'absent') continue
      expect(c, rule.table).toMatchObject({ outcome: 'set', storage_policy: 'vigil_tiered', policy_set: true })
    }
    const t = await tables()
    expect(t.get('events')?.storage_policy).toBe('vigil_tiered')
    expect(ttlOf(t.get('events')!.engine_full)).toMatch(/^toDateTime\(ts\) \+ toIntervalDay\(92\) TO VOLUME 'cold', /)
    expect(ttlOf(t.get('incident_timeline')!.engine_full)).toContain("TO VOLUME 'cold'")
    // The audit chain and the control log are left exactly as they were; reports have no hot period.
    for (const name of ['audit_log', 'control_log', 'reports']) {
      expect(t.get(name)?.storage_policy, name).toBe('default')
      expect(ttlOf(t.get(name)!.engine_full) ?? '', name).not.toContain('TO VOLUME')
    }
    expect(by.get('audit_log')).toMatchObject({ outcome: 'kept without TTL', policy_set: false })
    expect(by.get('control_log')).toMatchObject({ outcome: 'kept without TTL', policy_set: false })

    await store.command('ALTER TABLE events MATERIALIZE TTL', undefined, { mutations_sync: '2' })
    // ClickHouse moves parts in its background move pool, after the mutation returns: wait
    // for it (a hang guard, not a timing assertion).
    let disks = await diskOfRows()
    for (let i = 0; i < 300 && disks.cold_row !== 'cold'; i++) {
      await new Promise((r) => setTimeout(r, 100))
      disks = await diskOfRows()
    }
    expect(disks).toEqual({ cold_row: 'cold', hot_row: 'default' })
    // The part is really under VIGIL_COLD_DIR.
    expect(readdirSync(path.join(dir, 'cold'), { recursive: true }).length).toBeGreaterThan(0)
  })

  it('a restart re-applies nothing and finds the cold parts where they were', async () => {
    await store.close()
    await open()
    expect(store.tiering.policy).toBe('vigil_tiered')
    const again = await applyRetentionPolicy(store)
    expect(again.filter((c) => c.outcome === 'set' || c.policy_set)).toEqual([])
    expect(await diskOfRows()).toEqual({ cold_row: 'cold', hot_row: 'default' })
    expect((await store.query<{ n: string }>('SELECT count() AS n FROM events'))[0]?.n).toBe('2')
  })

  it('the audit-integrity report states the hot period, the policy and the parts on each disk', async () => {
    const body = await auditIntegrity({ period: { from: day(30).replace(' ', 'T') + 'Z', to: new Date().toISOString() }, parameters: {}, deps: { store } })
    const events = body.data.retention.find((r) => r.table === 'events')!
    expect(events).toMatchObject({ hot_days: 92, storage_policy: 'vigil_tiered', status: 'as policy', tiering: expect.stringMatching(/^tiered: 92 days on volume default, then volume cold/) })
    expect(events.disks.map((d) => d.disk).sort()).toEqual(['cold', 'default'])
    expect(events.disks.every((d) => d.parts > 0 && d.bytes > 0)).toBe(true)
    expect(body.data.retention.find((r) => r.table === 'audit_log')).toMatchObject({ hot_days: null, storage_policy: 'default', tiering: 'not tiered: no hot period in the policy' })
    const section = body.sections.find((s) => s.title === 'Hot and cold storage per table')!
    const row = section.table!.rows.find((r) => r[0] === 'events')!
    expect(row[4]).toMatch(/^cold: 1 parts, \d+ bytes; default: \d+ parts, \d+ bytes$/)
    expect(body.sections.find((s) => s.title.startsWith('Retention per table'))?.text?.join(' ')).toContain('in force with storage policy vigil_tiered')
  })
})
