import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { runVigil } from './cli-test-support.js'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { loadConfig, openStore } from '@vigil/core'

// The first admin is usually added before anything runs: `vigil users add` with no
// `vigil up` opens the data dir itself. This runs the real `vigil` shim over server/dist (as
// cli.test.ts does) against a fresh data dir and the test Redis, then checks the audit chain
// and the own event stream with the CLI's own commands and a second process.
let dataDir: string

const vigil = (args: string[]) => runVigil(dataDir, args)

beforeAll(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'vigil-users-'))
})
afterAll(() => {
  if (dataDir) rmSync(dataDir, { recursive: true, force: true })
})

describe('vigil users without vigil up', () => {
  it('adds, changes and lists people on its own store, audited and emitted', async () => {
    const added = await vigil(['users', 'add', 'first.admin@example.com', '--role', 'admin', '--json'])
    expect(added.code, added.stderr).toBe(0)
    expect(JSON.parse(added.stdout)).toMatchObject({ email: 'first.admin@example.com', role: 'admin', initial_password: expect.any(String) })

    const set = await vigil(['users', 'set-role', 'first.admin@example.com', 'responder', '--json'])
    expect(set.code, set.stderr).toBe(0)
    const listed = await vigil(['users', 'list', '--json'])
    expect(JSON.parse(listed.stdout)).toMatchObject({ items: [{ email: 'first.admin@example.com', role: 'responder', status: 'active' }] })

    const verify = await vigil(['audit', 'verify', '--json'])
    expect(verify.code, verify.stderr).toBe(0)
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, rows: 2 })
    // Nothing secret went to stderr on the way.
    expect(added.stderr + set.stderr + listed.stderr).not.toContain(JSON.parse(added.stdout).initial_password)

    // Every CLI process has exited: this one may open the data dir and read the own events.
    const store = await openStore(loadConfig({ VIGIL_DATA_DIR: dataDir }, { cwd: dataDir }))
    try {
      const rows = await store.query<{ action: string; user_id: string; change: string }>(
        "SELECT action, user_id, attrs['change'] AS change FROM events WHERE source = 'vigil' ORDER BY ts",
      )
      expect(rows).toEqual([
        { action: 'admin.config_change', user_id: 'first.admin@example.com', change: 'user.add' },
        { action: 'admin.config_change', user_id: 'first.admin@example.com', change: 'user.set_role' },
      ])
    } finally {
      await store.close()
    }
  }, 120_000)
})
