import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startRespondHarness, type RespondHarness } from './test-support.js'
import { createControlLog, type ControlLog } from './control-log.js'
import { createAuditLog, type AuditLogStore } from './audit-log.js'
import { createKillSwitchStore } from './killswitches.js'
import type { KillSwitchScope, KillSwitchStore } from './seams.js'

let h: RespondHarness
let n = 0
let control: ControlLog
let audit: AuditLogStore
let switches: KillSwitchStore

beforeAll(async () => {
  h = await startRespondHarness()
})
afterAll(async () => {
  await control.close()
  await h.close()
})
beforeEach(async () => {
  if (control) await control.close()
  for (const t of ['control_log', 'audit_log', 'killswitch_reset_requests']) await h.store.command(`TRUNCATE TABLE ${t}`)
  const keyPrefix = `${h.prefix}:${++n}:`
  control = createControlLog({ store: h.store, redis: h.redis, keyPrefix })
  audit = createAuditLog({ store: h.store, redis: h.redis, keyPrefix })
  switches = createKillSwitchStore({ store: h.store, control, audit })
})

const alice = { reason: 'runaway algo', actor: 'operator:alice' }

describe('kill-switches', () => {
  it('trips a scope once; tripping it again answers the same switch unchanged', async () => {
    const t = await switches.trip({ type: 'account', id: 'acc_1' }, { ...alice, incidentId: 'inc_1' })
    expect(t.changed).toBe(true)
    expect(t.version).toBe(1)
    expect(t.value).toMatchObject({ id: expect.stringMatching(/^ks_[0-9a-f]{24}$/), scope: { type: 'account', id: 'acc_1' }, status: 'tripped', tripped_by: 'operator:alice', incident_id: 'inc_1' })
    expect(await switches.get(t.value.id)).toEqual(t.value)
    const again = await switches.trip({ type: 'account', id: 'acc_1' }, { reason: 'me too', actor: 'playbook:p' })
    expect(again).toEqual({ value: t.value, changed: false, version: null })
    expect(await control.version()).toBe(1)
  })

  it('refuses bad scopes and reasons', async () => {
    const bad: unknown[] = [
      null,
      'global',
      [],
      { type: 'planet', id: 'earth' },
      { type: 'global', id: 'x' },
      { type: 'global' },
      { type: 'account', id: '' },
      { type: 'account', id: 'a'.repeat(129) },
      { type: 'account', id: 'a\nb' },
      { type: 'account', id: 42 },
    ]
    for (const scope of bad) {
      await expect(switches.trip(scope as KillSwitchScope, alice), JSON.stringify(scope)).rejects.toMatchObject({ errName: 'VIGIL_ERR_KILLSWITCH_BAD_SCOPE' })
    }
    await expect(switches.trip({ type: 'global', id: '*' }, { reason: '', actor: 'a' })).rejects.toMatchObject({ errName: 'VIGIL_ERR_REASON_REQUIRED' })
    expect(await control.version()).toBe(0)
  })

  it('resets only with a second person (four-eyes)', async () => {
    const { value: sw } = await switches.trip({ type: 'global', id: '*' }, alice)
    const first = await switches.requestReset(sw.id, { reason: 'fixed', actor: 'operator:alice' })
    expect(first.outcome).toBe('requested')
    expect(first.killswitch).toMatchObject({ status: 'tripped', reset_request: { by: 'operator:alice', reason: 'fixed', at: expect.stringMatching(/Z$/) } })
    expect(await control.version()).toBe(1) // a request changes nothing a guard enforces
    expect((await switches.get(sw.id))?.reset_request?.by).toBe('operator:alice')
    await expect(switches.requestReset(sw.id, { reason: 'really fixed', actor: 'operator:alice' })).rejects.toMatchObject({ errName: 'VIGIL_ERR_KILLSWITCH_FOUR_EYES' })
    const second = await switches.requestReset(sw.id, { reason: 'confirmed', actor: 'operator:bob' })
    expect(second.outcome).toBe('reset')
    expect(second.killswitch).toMatchObject({ status: 'reset', reset_by: 'operator:bob', reset_reason: 'confirmed', reset_request: null })
    expect(await switches.get(sw.id)).toEqual(second.killswitch)
    expect(await control.version()).toBe(2)
    await expect(switches.requestReset(sw.id, { reason: 'again', actor: 'operator:carol' })).rejects.toMatchObject({ errName: 'VIGIL_ERR_KILLSWITCH_NOT_TRIPPED' })
    const actions = (await audit.list({ limit: 10 })).map((e) => [e.action, e.actor])
    expect(actions).toEqual([
      ['killswitch.reset', 'operator:bob'],
      ['killswitch.reset_request', 'operator:alice'],
      ['killswitch.trip', 'operator:alice'],
    ])
    expect((await audit.verify()).ok).toBe(true)
  })

  it('answers not found for an unknown or malformed id', async () => {
    await expect(switches.requestReset('ks_nope', { reason: 'r', actor: 'a' })).rejects.toMatchObject({ errName: 'VIGIL_ERR_KILLSWITCH_NOT_FOUND' })
    expect(await switches.get('ks_nope')).toBeUndefined()
    expect(await switches.get('x'.repeat(500))).toBeUndefined()
  })

  it('lists newest first, by status, paged with a position', async () => {
    const ids: string[] = []
    for (const sym of ['AAA', 'BBB', 'CCC', 'DDD']) {
      ids.push((await switches.trip({ type: 'symbol', id: sym }, alice)).value.id)
      await new Promise((r) => setTimeout(r, 3))
    }
    await switches.requestReset(ids[1] as string, { reason: 'r', actor: 'operator:alice' })
    await switches.requestReset(ids[1] as string, { reason: 'r', actor: 'operator:bob' })
    const all = await switches.list({ limit: 10 })
    expect(all.map((s) => s.id)).toEqual([...ids].reverse())
    expect((await switches.list({ status: 'reset', limit: 10 })).map((s) => s.id)).toEqual([ids[1]])
    expect((await switches.list({ status: 'tripped', limit: 10 })).map((s) => s.scope.id)).toEqual(['DDD', 'CCC', 'AAA'])
    const page1 = await switches.list({ limit: 2 })
    const last = page1[1]
    if (!last) throw new Error('no page')
    const at = `${last.tripped_at.slice(0, 10)} ${last.tripped_at.slice(11, 19)}.${(/\.(\d+)/.exec(last.tripped_at)?.[1] ?? '').padEnd(6, '0')}`
    const page2 = await switches.list({ limit: 2, before: { at, id: last.id } })
    expect(page2.map((s) => s.id)).toEqual([ids[1], ids[0]])
    const future = Date.now() + 60_000
    expect(await switches.list({ limit: 10, fromMs: future })).toEqual([])
    expect(await switches.list({ limit: 10, toMs: future })).toHaveLength(4)
  })
})
