/**
 * `vigil rules test` records its run in the data dir's store (issue 8): on the store it opens
 * when no `vigil up` serves the data dir, through the admin socket when one does, and, when
 * there is no store to record in, prints its table all the same and says so on stderr with
 * the exit status unchanged. One rule's fixtures a spawn, to keep each run short.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { contentSha256, loadConfig, loadMasterKey, migrate, openStore, type VigilError } from '@vigil/core'
import { createSourceRegistry, type SourceRegistry } from '@vigil/ingest'
import { DEFAULT_RULES_DIR } from '@vigil/detect'
import { startAdminSocket, type AdminSocket } from './admin-socket.js'
import { adminSocketPath } from './admin-shapes.js'
import { callAdminSocket } from './admin-socket-client.js'
import { runVigil } from './cli-test-support.js'
import { VIGIL_MIGRATIONS } from './runtime.js'
import { captureLogger, openTestStore, type TestStore } from './test-support.js'

const CLOCK_SHA = contentSha256(readFileSync(path.join(DEFAULT_RULES_DIR, 'clock_skew.yaml')))

interface RunRow {
  id: string
  by: string
  operator: string
  only_rule: string
  tests: number
  passed: number
  failed: number
  rules: string[]
  rule_sha256: string[]
}
const RUNS_SQL = 'SELECT id, by, operator, only_rule, tests, passed, failed, rules, rule_sha256 FROM rule_test_runs ORDER BY finished_at'

describe('vigil rules test without vigil up', () => {
  const dirs: string[] = []
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  it('prints its table and says on stderr that nothing was recorded when the data dir has no store', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'vigil-rtest-'))
    dirs.push(dataDir)
    const run = await runVigil(dataDir, ['rules', 'test', '--rule', 'clock.skew'])
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toMatch(/^pass {2}clock\.skew/m)
    expect(run.stdout).toMatch(/\d+ passed, 0 failed\n$/)
    expect(run.stderr).toMatch(/^vigil: this test run was not recorded: no Vigil store in .*vigil-rtest-/m)
  }, 120_000)

  it('records the run on the store it opens, with the tested file hash, who and VIGIL_OPERATOR', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'vigil-rtest-'))
    dirs.push(dataDir)
    const config = loadConfig({ VIGIL_DATA_DIR: dataDir }, { cwd: dataDir })
    const before = await openStore(config)
    await migrate(before, VIGIL_MIGRATIONS)
    await before.close()

    const run = await runVigil(dataDir, ['rules', 'test', '--rule', 'clock.skew', '--json'], { VIGIL_OPERATOR: 'Risk Desk' })
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).toBe('')
    const out = JSON.parse(run.stdout) as { passed: number; failed: number; recorded_as: string }
    expect(out.recorded_as).toMatch(/^rtr_[0-9a-f]{32}$/)

    const store = await openStore(config)
    try {
      const rows = await store.query<RunRow>(RUNS_SQL)
      expect(rows).toHaveLength(1)
      expect(rows[0]).toMatchObject({ id: out.recorded_as, by: expect.stringMatching(/^cli:/), operator: 'Risk Desk', only_rule: 'clock.skew', rules: ['clock.skew'], rule_sha256: [CLOCK_SHA] })
      expect([Number(rows[0]!.tests), Number(rows[0]!.passed), Number(rows[0]!.failed)]).toEqual([out.passed + out.failed, out.passed, out.failed])
    } finally {
      await store.close()
    }
  }, 120_000)
})

describe('vigil rules test with vigil up serving the data dir', () => {
  let t: TestStore
  let sources: SourceRegistry
  let served: AdminSocket | undefined
  beforeAll(async () => {
    t = await openTestStore()
    sources = createSourceRegistry({ store: t.store, masterKey: loadMasterKey(t.config), config: t.config, refreshMs: 3_600_000 })
    served = await startAdminSocket({ config: t.config, logger: captureLogger().logger, store: t.store, sources })
  }, 60_000)
  afterAll(async () => {
    await served?.close()
    sources?.close()
    await t?.cleanup()
  })

  it('records the run through the admin socket, and the socket refuses a summary that does not add up', async () => {
    expect(served).toBeDefined()
    const run = await runVigil(t.dir, ['rules', 'test', '--rule', 'clock.skew', '--json'])
    expect(run.code, run.stderr).toBe(0)
    const out = JSON.parse(run.stdout) as { recorded_as: string }
    const rows = await t.store.query<RunRow>(RUNS_SQL)
    expect(rows.map((r) => [r.id, r.rules, r.rule_sha256])).toEqual([[out.recorded_as, ['clock.skew'], [CLOCK_SHA]]])

    const summary = { id: `rtr_${'a'.repeat(32)}`, started_at: '2026-11-27T00:00:00Z', finished_at: '2026-11-27T00:00:01Z', by: 'cli:test', operator: '', only_rule: '', tests: 2, passed: 2, failed: 1, rules: [{ rule: 'clock.skew', sha256: CLOCK_SHA, tests: 2, failed: 1 }] }
    const sock = adminSocketPath(t.config)
    const bad = (await callAdminSocket(sock, 'rules/record-test', { run: JSON.stringify(summary), by: 'cli:test' }).catch((e: unknown) => e)) as VigilError
    expect(bad.code).toBe('bad_rule_test_run')
    const someoneElse = (await callAdminSocket(sock, 'rules/record-test', { run: JSON.stringify({ ...summary, passed: 1 }), by: 'cli:other' }).catch((e: unknown) => e)) as VigilError
    expect(someoneElse.code).toBe('bad_rule_test_run')
    expect(await t.store.query('SELECT id FROM rule_test_runs')).toHaveLength(1)
  }, 120_000)
})
