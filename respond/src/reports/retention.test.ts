import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRespondHarness, type RespondHarness } from '../test-support.js'
import { applyRetentionPolicy, RETENTION_POLICY, sameTtl, ttlClause, ttlOf } from './retention.js'

let h: RespondHarness
beforeAll(async () => {
  h = await startRespondHarness()
})
afterAll(async () => {
  await h?.close()
})

describe('retention policy', () => {
  it('defaults: order events 5 years, other events 12 months, the audit chain without TTL', () => {
    const events = RETENTION_POLICY.find((r) => r.table === 'events')
    expect(events).toMatchObject({ keep_days: 365, hot_days: 92, longer: { keep_days: 1826 } })
    expect(RETENTION_POLICY.find((r) => r.table === 'audit_log')?.keep_days).toBeNull()
    expect(ttlClause(events!)).toBe(
      "toDateTime(ts) + INTERVAL 1826 DAY DELETE WHERE startsWith(action, 'order.'), toDateTime(ts) + INTERVAL 365 DAY DELETE WHERE NOT startsWith(action, 'order.')",
    )
  })

  it('sets the TTLs once, as ClickHouse prints them back, and they delete what is past them', async () => {
    const first = await applyRetentionPolicy(h.store)
    const outcome = Object.fromEntries(first.map((r) => [r.table, r.outcome]))
    expect(outcome).toMatchObject({ events: 'set', incident_changes: 'set', killswitch_reset_requests: 'set', reports: 'set', audit_log: 'kept without TTL', control_log: 'kept without TTL' })
    // respond's harness has no detect tables
    expect(outcome.alert_changes).toBe('absent')
    const again = await applyRetentionPolicy(h.store)
    expect(again.filter((r) => r.outcome === 'set')).toEqual([])
    const [events] = await h.store.query<{ engine_full: string }>("SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'events'")
    expect(sameTtl(ttlOf(events!.engine_full), ttlClause(RETENTION_POLICY[0]!, 'cold'))).toBe(true)

    const day = (d: number) => new Date(Date.now() - d * 86_400_000).toISOString().replace('T', ' ').replace('Z', '')
    const rows = [
      { id: 'old_request', ts: day(400), action: 'api.request' },
      { id: 'recent_request', ts: day(300), action: 'api.request' },
      { id: 'old_order', ts: day(400), action: 'order.new' },
      { id: 'ancient_order', ts: day(1900), action: 'order.new' },
    ]
    await h.store.insertNdjson(
      'events',
      ['id', 'ts', 'action', 'outcome', 'source', 'received_at'],
      rows.map((r) => JSON.stringify({ ...r, outcome: 'success', source: 's', received_at: r.ts })).join('\n') + '\n',
    )
    await h.store.command('OPTIMIZE TABLE events FINAL')
    const kept = (await h.store.query<{ id: string }>('SELECT id FROM events ORDER BY id')).map((r) => r.id)
    expect(kept).toEqual(['old_order', 'recent_request'])
  })
})
