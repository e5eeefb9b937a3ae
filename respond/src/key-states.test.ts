import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startRespondHarness, type RespondHarness } from './test-support.js'
import { createControlLog, type ControlLog } from './control-log.js'
import { createAuditLog, type AuditLogStore } from './audit-log.js'
import { createKeyStateStore } from './key-states.js'
import type { KeyStateStore } from './seams.js'

let h: RespondHarness
let n = 0
let control: ControlLog
let audit: AuditLogStore
let keys: KeyStateStore

beforeAll(async () => {
  h = await startRespondHarness()
})
afterAll(async () => {
  await control.close()
  await h.close()
})
beforeEach(async () => {
  if (control) await control.close()
  await h.store.command('TRUNCATE TABLE control_log')
  await h.store.command('TRUNCATE TABLE audit_log')
  const keyPrefix = `${h.prefix}:${++n}:`
  control = createControlLog({ store: h.store, redis: h.redis, keyPrefix })
  audit = createAuditLog({ store: h.store, redis: h.redis, keyPrefix })
  keys = createKeyStateStore({ store: h.store, control, audit })
})

const auditCount = async () => Number((await h.store.query<{ n: string }>('SELECT count() AS n FROM audit_log'))[0]?.n)

describe('key states', () => {
  it('a key Vigil never acted on is active', async () => {
    expect(await keys.get('k_new')).toEqual({ api_key_id: 'k_new', status: 'active', revoked_at: null, reason: null, incident_id: null })
  })

  it('revokes once: a second revoke changes nothing, takes no version and writes no audit entry', async () => {
    const first = await keys.revoke('k_1', { reason: 'brute force', actor: 'playbook:brute', incidentId: 'inc_9', alertId: 'al_9' })
    expect(first).toEqual({
      value: { api_key_id: 'k_1', status: 'revoked', revoked_at: expect.stringMatching(/Z$/), reason: 'brute force', incident_id: 'inc_9' },
      changed: true,
      version: 1,
    })
    expect(await keys.get('k_1')).toEqual(first.value)
    const again = await keys.revoke('k_1', { reason: 'again', actor: 'operator:tok_2' })
    // …and names the alert the revocation in force was made for.
    expect(again).toEqual({ value: first.value, changed: false, version: null, byAlert: 'al_9' })
    expect(await control.version()).toBe(1)
    expect(await auditCount()).toBe(1)
    const [entry] = await audit.list({ limit: 5 })
    expect(entry).toMatchObject({ actor: 'playbook:brute', action: 'key.revoke', subject: 'k_1', detail: { reason: 'brute force', version: 1, incident_id: 'inc_9' } })
  })

  it('restores a revoked key; restoring an active key changes nothing', async () => {
    expect(await keys.restore('k_2', { reason: 'not revoked yet', actor: 'operator:tok_1' })).toMatchObject({ changed: false, version: null, value: { status: 'active' } })
    await keys.revoke('k_2', { reason: 'leak', actor: 'operator:tok_1' })
    const r = await keys.restore('k_2', { reason: 'rotated', actor: 'operator:tok_1' })
    expect(r).toEqual({ value: { api_key_id: 'k_2', status: 'active', revoked_at: null, reason: null, incident_id: null }, changed: true, version: 2 })
    expect((await keys.get('k_2')).status).toBe('active')
    expect((await audit.list({ limit: 5 })).map((e) => e.action)).toEqual(['key.restore', 'key.revoke'])
    expect((await audit.verify()).ok).toBe(true)
  })

  it('refuses bad ids and reasons before touching anything', async () => {
    await expect(keys.revoke('', { reason: 'x', actor: 'a' })).rejects.toMatchObject({ errName: 'VIGIL_ERR_KEY_BAD_ID' })
    await expect(keys.revoke('k'.repeat(129), { reason: 'x', actor: 'a' })).rejects.toMatchObject({ errName: 'VIGIL_ERR_KEY_BAD_ID' })
    await expect(keys.revoke('k\n1', { reason: 'x', actor: 'a' })).rejects.toMatchObject({ errName: 'VIGIL_ERR_KEY_BAD_ID' })
    await expect(keys.get('k\u0000')).rejects.toMatchObject({ errName: 'VIGIL_ERR_KEY_BAD_ID' })
    await expect(keys.revoke('k_1', { reason: '', actor: 'a' })).rejects.toMatchObject({ errName: 'VIGIL_ERR_REASON_REQUIRED' })
    await expect(keys.revoke('k_1', { reason: '   ', actor: 'a' })).rejects.toMatchObject({ errName: 'VIGIL_ERR_REASON_REQUIRED' })
    await expect(keys.revoke('k_1', { reason: 'r'.repeat(1001), actor: 'a' })).rejects.toMatchObject({ errName: 'VIGIL_ERR_REASON_REQUIRED' })
    expect(await control.version()).toBe(0)
  })

  it('stays idempotent under a burst of the same revocation', async () => {
    const out = await Promise.all(Array.from({ length: 50 }, () => keys.revoke('k_burst', { reason: 'burst', actor: 'playbook:p' })))
    expect(out.filter((o) => o.changed)).toHaveLength(1)
    expect(await auditCount()).toBe(1)
  })
})
