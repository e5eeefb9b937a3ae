import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { AlertStore, alertId } from './alerts.js'
import type { EngineRule, Finding } from './detector.js'
import { startDetectHarness, type DetectHarness } from './test-support.js'

let h: DetectHarness
beforeEach(async () => {
  h = await startDetectHarness()
})
afterEach(async () => {
  await h.close()
})

const T0 = Date.UTC(2026, 10, 27, 9, 30, 0)
const finding = (over: Partial<Finding> = {}): Finding => ({
  rule: 'auth.brute_force',
  severity: 'high',
  score: 61.237,
  entity: { type: 'api_key', id: 'ak_1' },
  api_key_id: 'ak_1',
  client_ip: '203.0.113.9',
  // A fraction of a millisecond that rounds up to the next one: written with six digits all the same.
  firstSeenMs: T0 + 0.9999,
  lastSeenMs: T0 + 1000.25,
  windowStartMs: T0,
  count: 12,
  summary: '12 forged signatures',
  evidence: { value: 12, threshold: 10, sample_event_ids: ['e1'] },
  eventReceivedAt: '2026-11-27T09:30:01.500000000Z',
  ...over,
})
const rule: Pick<EngineRule, 'severity' | 'escalate'> = { severity: 'high', escalate: [{ severity: 'critical', min_count: 30 }] }
const HOUR = 3_600_000

describe('alert store upsert', () => {
  it('answers each new, repeated and escalated alert exactly as it then reads back', async () => {
    const alerts = new AlertStore(h.store)
    const created = await alerts.upsert(finding(), HOUR, rule)
    expect(created.outcome).toBe('created')
    expect(created.alert).toEqual(await alerts.get(created.alert.id))
    expect(created.alert).toMatchObject({ id: alertId('auth.brute_force', { type: 'api_key', id: 'ak_1' }, T0), count: 12, status: 'open', event_received_at: '2026-11-27T09:30:01.500000000Z' })

    const repeated = await alerts.upsert(finding({ firstSeenMs: T0 + 60_000, lastSeenMs: T0 + 61_000, windowStartMs: T0 + 60_000, count: 5 }), HOUR, rule)
    expect(repeated).toMatchObject({ outcome: 'repeated', alert: { id: created.alert.id, count: 17 } })
    expect(repeated.escalated).toBeUndefined()
    expect(repeated.alert).toEqual(await alerts.get(created.alert.id))

    const escalated = await alerts.upsert(finding({ firstSeenMs: T0 + 120_000, lastSeenMs: T0 + 121_000, windowStartMs: T0 + 120_000, count: 20, score: 90 }), HOUR, rule)
    expect(escalated).toMatchObject({ outcome: 'repeated', alert: { id: created.alert.id, count: 37, severity: 'critical', score: 90 } })
    expect(escalated.escalated).toMatchObject({ to: 'critical' })
    expect(escalated.alert).toEqual(await alerts.get(created.alert.id))

    // Seen already: nothing new.
    expect((await alerts.upsert(finding({ lastSeenMs: T0 + 1000 }), HOUR, rule)).outcome).toBe('unchanged')
    expect((await alerts.history(created.alert.id)).map((c) => c.change)).toEqual(['open', 'repeat', 'repeat'])
  })

  it('opens a new alert once the open one is outside the suppression period, and keeps its own window\'s alert whatever its status', async () => {
    const alerts = new AlertStore(h.store)
    const first = await alerts.upsert(finding({ eventReceivedAt: undefined }), HOUR)
    expect(first.alert.event_received_at).toBeNull()
    expect(first.alert).toEqual(await alerts.get(first.alert.id))
    // Two hours later, another window: a new alert, not a repeat.
    const later = finding({ firstSeenMs: T0 + 2 * HOUR, lastSeenMs: T0 + 2 * HOUR + 10, windowStartMs: T0 + 2 * HOUR })
    const second = await alerts.upsert(later, HOUR)
    expect(second.outcome).toBe('created')
    expect(second.alert.id).not.toBe(first.alert.id)
    // An open alert within suppression takes a late finding (it is already newer: nothing new) …
    expect((await alerts.upsert(finding({ lastSeenMs: T0 + 5000, count: 1 }), 3 * HOUR)).alert.id).toBe(second.alert.id)
    // … and with none open, the late finding repeats its own window's alert, resolved or not.
    await alerts.setStatus(first.alert.id, 'resolved', 'handled', 'analyst')
    await alerts.setStatus(second.alert.id, 'false_positive', 'desk test', 'analyst')
    const late = await alerts.upsert(finding({ lastSeenMs: T0 + 5000, count: 1 }), 60_000)
    expect(late).toMatchObject({ outcome: 'repeated', alert: { id: first.alert.id, status: 'resolved', count: 13 } })
    expect(late.alert).toEqual(await alerts.get(first.alert.id))
  })
})
