import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startRespondHarness, type RespondHarness } from './test-support.js'
import { createControlLog, type ControlLog } from './control-log.js'
import type { ControlDelta } from './seams.js'

let h: RespondHarness
let n = 0
let keyPrefix: string
let logs: ControlLog[] = []
const by = (reason = 'suspicious') => ({ reason, actor: 'playbook:brute', incidentId: 'inc_1', alertId: 'al_1' })

function open(): ControlLog {
  const log = createControlLog({ store: h.store, redis: h.redis, keyPrefix })
  logs.push(log)
  return log
}

beforeAll(async () => {
  h = await startRespondHarness()
})
afterAll(async () => {
  await h.close()
})
beforeEach(async () => {
  for (const l of logs) await l.close()
  logs = []
  await h.store.command('TRUNCATE TABLE control_log')
  keyPrefix = `${h.prefix}:${++n}:`
})

describe('control log', () => {
  it('numbers concurrent changes from two processes 1..n, no gaps, no repeats, in few inserts', async () => {
    const [a, b] = [open(), open()]
    const outcomes = await Promise.all(
      Array.from({ length: 300 }, (_, i) => (i % 2 ? a : b).append({ kind: 'key_revoked', apiKeyId: `k_${i}`, by: by() })),
    )
    const versions = outcomes.map((o) => (o.applied ? o.delta.version : -1)).sort((x, y) => x - y)
    expect(versions).toEqual(Array.from({ length: 300 }, (_, i) => i + 1))
    const [stored] = await h.store.query<{ n: string; v: string; d: string }>('SELECT count() AS n, max(version) AS v, uniqExact(version) AS d FROM control_log')
    expect(stored).toEqual({ n: '300', v: '300', d: '300' })
    expect(await a.version()).toBe(300)
  })

  it('applies a change once when two processes race to make it', async () => {
    const [a, b] = [open(), open()]
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).append({ kind: 'key_revoked', apiKeyId: 'k_race', by: by() })))
    expect(outcomes.filter((o) => o.applied)).toHaveLength(1)
    expect(outcomes.filter((o) => !o.applied && o.why === 'already_revoked')).toHaveLength(19)
    expect(await a.version()).toBe(1)
  })

  it('refuses a restore of an active key, a second trip of a scope, a reset of an untripped switch', async () => {
    const log = open()
    expect(await log.append({ kind: 'key_restored', apiKeyId: 'k_1', by: by() })).toEqual({ applied: false, why: 'not_revoked' })
    const t = await log.append({ kind: 'killswitch_tripped', id: 'ks_a', scope: { type: 'account', id: 'acc_1' }, by: by() })
    expect(t.applied).toBe(true)
    expect(await log.append({ kind: 'killswitch_tripped', id: 'ks_b', scope: { type: 'account', id: 'acc_1' }, by: by() })).toEqual({
      applied: false,
      why: 'scope_tripped',
      existingId: 'ks_a',
    })
    expect(await log.append({ kind: 'killswitch_reset', id: 'ks_nope', by: by() })).toEqual({ applied: false, why: 'not_tripped' })
    expect((await log.append({ kind: 'killswitch_reset', id: 'ks_a', by: by() })).applied).toBe(true)
    expect(await log.append({ kind: 'killswitch_reset', id: 'ks_a', by: by() })).toEqual({ applied: false, why: 'not_tripped' })
    // after the reset the scope can be tripped again, by a new switch
    expect((await log.append({ kind: 'killswitch_tripped', id: 'ks_c', scope: { type: 'account', id: 'acc_1' }, by: by() })).applied).toBe(true)
    expect(await log.version()).toBe(3)
  })

  it('decides within one batch too: revoke, revoke, restore of one key sent together', async () => {
    const log = open()
    const out = await Promise.all([
      log.append({ kind: 'key_revoked', apiKeyId: 'k_b', by: by() }),
      log.append({ kind: 'key_revoked', apiKeyId: 'k_b', by: by() }),
      log.append({ kind: 'key_restored', apiKeyId: 'k_b', by: by() }),
    ])
    expect(out.map((o) => o.applied)).toEqual([true, false, true])
  })

  it('derives the state guards enforce', async () => {
    const log = open()
    await log.append({ kind: 'key_revoked', apiKeyId: 'k_1', by: by('stolen') })
    await log.append({ kind: 'key_revoked', apiKeyId: 'k_2', by: by('leaked') })
    await log.append({ kind: 'key_restored', apiKeyId: 'k_1', by: by('false alarm') })
    await log.append({ kind: 'killswitch_tripped', id: 'ks_1', scope: { type: 'global', id: '*' }, by: by('market halt') })
    await log.append({ kind: 'killswitch_tripped', id: 'ks_2', scope: { type: 'symbol', id: 'AAPL' }, by: by('fat finger') })
    await log.append({ kind: 'killswitch_reset', id: 'ks_1', by: by('resumed') })
    const s = await log.state()
    expect(s.version).toBe(6)
    expect(s.revoked_keys).toEqual([{ api_key_id: 'k_2', revoked_at: expect.stringMatching(/Z$/), reason: 'leaked' }])
    expect(s.killswitches).toEqual([{ id: 'ks_2', scope: { type: 'symbol', id: 'AAPL' }, tripped_at: expect.stringMatching(/Z$/), reason: 'fat finger' }])
    expect(await open().state()).toEqual(s)
  })

  it('answers what a guard missed since a version, in order, paged', async () => {
    const log = open()
    for (let i = 1; i <= 5; i++) await log.append({ kind: 'key_revoked', apiKeyId: `k_${i}`, by: by() })
    await log.append({ kind: 'killswitch_tripped', id: 'ks_1', scope: { type: 'venue', id: 'XNAS' }, by: by() })
    const d = await log.since(3, 10)
    expect(d.map((x) => x.version)).toEqual([4, 5, 6])
    expect(d[0]).toEqual({ version: 4, type: 'key_revoked', api_key_id: 'k_4', revoked_at: expect.any(String), reason: 'suspicious' })
    expect(d[2]).toEqual({ version: 6, type: 'killswitch_tripped', killswitch: { id: 'ks_1', scope: { type: 'venue', id: 'XNAS' }, tripped_at: expect.any(String), reason: 'suspicious' } })
    expect((await log.since(0, 2)).map((x) => x.version)).toEqual([1, 2])
    expect(await log.since(6, 10)).toEqual([])
  })

  it('publishes every committed delta to subscribers of another process, in version order', async () => {
    const [writer, reader] = [open(), open()]
    const seen: ControlDelta[] = []
    const unsubscribe = await reader.subscribe((d) => seen.push(d))
    await Promise.all(Array.from({ length: 50 }, (_, i) => writer.append({ kind: 'key_revoked', apiKeyId: `k_${i}`, by: by() })))
    await expect.poll(() => seen.length).toBe(50)
    expect(seen.map((d) => d.version)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
    unsubscribe()
    await writer.append({ kind: 'key_revoked', apiKeyId: 'k_after', by: by() })
    await new Promise((r) => setTimeout(r, 50))
    expect(seen).toHaveLength(50)
  })

  it('masks a secret pasted into a reason', async () => {
    const log = open()
    await log.append({ kind: 'key_revoked', apiKeyId: 'k_1', by: by('leaked in ticket: Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123456789') })
    const [row] = await h.store.query<{ reason: string }>('SELECT reason FROM control_log')
    expect(row?.reason).not.toContain('abcdefghijklmnopqrstuvwxyz0123456789')
  })
})
