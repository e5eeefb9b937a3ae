import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Redis } from 'ioredis'
import { loadConfig, loadMasterKey, openStore, type VigilError } from '@vigil/core'
import { createSourceRegistry, type SourceRegistry } from '@vigil/ingest'
import { startAdminSocket, type AdminSocket } from './admin-socket.js'
import { adminSocketPath } from './admin-shapes.js'
import { callAdminSocket } from './admin-socket-client.js'
import { runVigil } from './cli-test-support.js'
import { RULE_SUMMARY_KEYS } from './admin-shapes.js'
import { captureLogger, openTestStore, type TestStore } from './test-support.js'

describe('vigil rules disable|enable without vigil up', () => {
  let dataDir: string
  const vigil = (args: string[]) => runVigil(dataDir, args)
  beforeAll(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'vigil-rules-'))
  })
  afterAll(() => {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true })
  })

  it('switches a rule on its own store, refuses what it cannot do, and audits each switch', async () => {
    const off = await vigil(['rules', 'disable', 'rate.abuse', '--reason', 'desk load test', '--json'])
    expect(off.code, off.stderr).toBe(0)
    expect(JSON.parse(off.stdout)).toMatchObject({ id: 'rate.abuse', enabled: false, last_change: { enabled: false, reason: 'desk load test', actor: expect.stringMatching(/^cli/) } })

    const twice = await vigil(['rules', 'disable', 'rate.abuse', '--reason', 'again', '--json'])
    expect(twice.code).not.toBe(0)
    expect(twice.stderr).toContain('rule_unchanged')
    const unknown = await vigil(['rules', 'disable', 'no.such_rule', '--reason', 'x', '--json'])
    expect(unknown.code).not.toBe(0)
    expect(unknown.stderr).toContain('rule_not_found')
    const noReason = await vigil(['rules', 'enable', 'rate.abuse', '--reason', '', '--json'])
    expect(noReason.code).not.toBe(0)
    expect(noReason.stderr).toContain('bad_rule_change')

    const on = await vigil(['rules', 'enable', 'rate.abuse', '--reason', 'over'])
    expect(on.code, on.stderr).toBe(0)
    expect(on.stdout).toBe('Rule rate.abuse enabled: over\n')

    const verify = await vigil(['audit', 'verify', '--json'])
    expect(verify.code, verify.stderr).toBe(0)
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, rows: 2 })
    const store = await openStore(loadConfig({ VIGIL_DATA_DIR: dataDir }, { cwd: dataDir }))
    try {
      const audited = await store.query<{ action: string; subject: string }>('SELECT action, subject FROM audit_log ORDER BY seq')
      expect(audited).toEqual([
        { action: 'rule.disable', subject: 'rate.abuse' },
        { action: 'rule.enable', subject: 'rate.abuse' },
      ])
    } finally {
      await store.close()
    }
  }, 300_000)
})

describe('rules/switch over the admin socket of a running vigil up', () => {
  let t: TestStore
  let sources: SourceRegistry
  let redis: Redis
  let served: AdminSocket | undefined
  beforeAll(async () => {
    t = await openTestStore()
    sources = createSourceRegistry({ store: t.store, masterKey: loadMasterKey(t.config), config: t.config, refreshMs: 3_600_000 })
    redis = new Redis(process.env.REDIS_URL as string, { maxRetriesPerRequest: 1 })
    served = await startAdminSocket({ config: t.config, logger: captureLogger().logger, store: t.store, sources, redis })
  }, 60_000)
  afterAll(async () => {
    await served?.close()
    sources?.close()
    redis?.disconnect()
    await t?.cleanup()
  })

  it('answers the switched rule in its listed shape, and the same registry errors', async () => {
    expect(served).toBeDefined()
    const sock = adminSocketPath(t.config)
    const rule = await callAdminSocket(sock, 'rules/switch', { id: 'geo.new_country', enabled: 'false', reason: 'VPN rollout', by: 'cli:test' })
    expect(Object.keys(rule)).toEqual([...RULE_SUMMARY_KEYS])
    expect(rule).toMatchObject({ id: 'geo.new_country', enabled: false, last_change: { reason: 'VPN rollout', actor: 'cli:test' } })
    const rows = await t.store.query<{ rule: string; enabled: number }>('SELECT rule, enabled FROM rule_changes')
    expect(rows.map((r) => [r.rule, Number(r.enabled)])).toEqual([['geo.new_country', 0]])
    const bad = (await callAdminSocket(sock, 'rules/switch', { id: 'geo.new_country', enabled: 'maybe', reason: 'x', by: 'cli:test' }).catch((e: unknown) => e)) as VigilError
    expect(bad.code).toBe('bad_rule_change')
  })
})
