/**
 * kill-switch-log with the guards' own reports of applying trips and resets (issue 8):
 * switches tripped and reset through the real kill-switch store, the guards' killswitch.trip /
 * killswitch.reset events inserted as fixtures, and every number checked against a direct
 * ClickHouse query.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRespondHarness, type RespondHarness } from '../test-support.js'
import { createControlLog, type ControlLog } from '../control-log.js'
import { createAuditLog } from '../audit-log.js'
import { createKillSwitchStore } from '../killswitches.js'
import { checkReportRequest, compileReport } from './compile.js'
import type { KillSwitchLogData } from './kill-switch-log.js'
import { renderReport } from './render.js'
import { chToUs } from './sql-time.js'

let h: RespondHarness
let control: ControlLog

beforeAll(async () => {
  h = await startRespondHarness()
  control = createControlLog({ store: h.store, redis: h.redis, keyPrefix: `${h.prefix}:` })
})
afterAll(async () => {
  await control?.close()
  await h?.close()
})

type Fixture = { id: string; source: string; ts: string; action: string; outcome?: string; attrs?: Record<string, string> }
async function insertEvents(list: Fixture[]): Promise<void> {
  const lines = list.map((e) => JSON.stringify({ outcome: 'success', received_at: e.ts, clock_skew_ms: 0, ...e }))
  await h.store.insertNdjson('events', ['id', 'source', 'ts', 'action', 'outcome', 'received_at', 'clock_skew_ms', 'attrs'], `${lines.join('\n')}\n`)
}

/** `2026-11-27 04:00:00.123456` plus ms, as RFC 3339 with µs (what the guard sends in applied_at). */
function plusMs(chText: string, ms: number): string {
  const us = chToUs(chText) + Math.round(ms * 1000)
  return `${new Date(Math.floor(us / 1000)).toISOString().slice(0, -1)}${String(us % 1000).padStart(3, '0')}Z`
}
const chNow = (offsetMs = 0) => new Date(Date.now() + offsetMs).toISOString().replace('T', ' ').replace('Z', '')

describe('kill-switch-log: what each guard reported', () => {
  it('shows per trip the orders each guard cancelled and when it applied the change; names the sources that reported nothing', async () => {
    const switches = createKillSwitchStore({ store: h.store, control, audit: createAuditLog({ store: h.store, redis: h.redis, keyPrefix: `${h.prefix}:` }) })
    const a = (await switches.trip({ type: 'account', id: 'acc_9' }, { reason: 'runaway algo', actor: 'operator:alice' })).value
    const b = (await switches.trip({ type: 'source', id: 'desk-b' }, { reason: 'desk-b gateway loop', actor: 'operator:alice' })).value
    await switches.requestReset(a.id, { reason: 'algo fixed', actor: 'operator:alice' })
    await switches.requestReset(a.id, { reason: 'confirmed', actor: 'operator:bob' })
    const log = await h.store.query<{ kind: string; subject: string; version: string; at: string }>('SELECT kind, subject, toString(version) AS version, toString(at) AS at FROM control_log ORDER BY version')
    const at = (kind: string, id: string) => log.find((l) => l.kind === kind && l.subject === id)!
    const tripA = at('killswitch_tripped', a.id)
    const tripB = at('killswitch_tripped', b.id)
    const resetA = at('killswitch_reset', a.id)

    const ack = (id: string, source: string, instance: string, action: 'killswitch.trip' | 'killswitch.reset', change: { at: string; version: string }, ks: string, scope: string, ms: number, cancel: Record<string, string> = {}) => ({
      id,
      source,
      ts: chNow(),
      action,
      attrs: { kill_switch_id: ks, kill_switch_scope: scope, applied_at: plusMs(change.at, ms), control_version: change.version, applied_via: 'stream', guard_instance: instance, ...cancel },
    })
    await insertEvents([
      ack('g1', 'desk-a', 'host1:11', 'killswitch.trip', tripA, a.id, 'account:acc_9', 12.345, { cancel_report: 'reported', orders_cancelled: '3' }),
      // A second process of desk-a whose hook gave no count: "not reported", never 0.
      ack('g2', 'desk-a', 'host2:22', 'killswitch.trip', tripA, a.id, 'account:acc_9', 40.5, { cancel_report: 'not_reported' }),
      ack('g3', 'desk-b', 'hostb:1', 'killswitch.trip', tripA, a.id, 'account:acc_9', 7, { cancel_report: 'reported', orders_cancelled: '2' }),
      ack('g4', 'desk-b', 'hostb:1', 'killswitch.trip', tripB, b.id, 'source:desk-b', 3.001, { cancel_report: 'reported', orders_cancelled: '5' }),
      ack('g5', 'desk-a', 'host1:11', 'killswitch.reset', resetA, a.id, 'account:acc_9', 9.5),
      // Hostile or broken: a count that is not one and a time that is not a time are not passed on.
      { ...ack('g6', 'desk-d', '', 'killswitch.trip', tripA, a.id, 'account:acc_9', 1), attrs: { kill_switch_id: a.id, applied_at: 'yesterday', cancel_report: 'reported', orders_cancelled: '-5' } },
      // desk-c trades in the period and reports nothing.
      { id: 'c1', source: 'desk-c', ts: chNow(), action: 'order.new' },
    ])

    const period = { from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date(Date.now() + 3_600_000).toISOString() }
    const r = await compileReport(checkReportRequest({ type: 'kill-switch-log', ...period }), { store: h.store }, { id: 'rpt_ks_guards', generatedAt: new Date() })
    const d = r.data as KillSwitchLogData

    const direct = await h.store.query<{ id: string; n: string }>(
      `SELECT attrs['kill_switch_id'] AS id, toString(sum(toUInt64OrZero(attrs['orders_cancelled']))) AS n FROM events
       WHERE action = 'killswitch.trip' AND attrs['cancel_report'] = 'reported' AND match(attrs['orders_cancelled'], '^[0-9]+$') GROUP BY id`,
    )
    const cancelled = new Map(direct.map((x) => [x.id, Number(x.n)]))
    const entryA = d.entries.find((e) => e.change === 'trip' && e.killswitch_id === a.id)!
    const entryB = d.entries.find((e) => e.change === 'trip' && e.killswitch_id === b.id)!
    expect(entryA.orders_cancelled).toBe(cancelled.get(a.id))
    expect(entryA.orders_cancelled).toBe(5)
    expect(entryB.orders_cancelled).toBe(5)
    expect(d.orders_cancelled).toBe([...cancelled.values()].reduce((x, y) => x + y, 0))
    expect(d.guard_applications).toBe(6)
    expect(entryA.guards.map((g) => [g.source, g.guard_instance, g.orders_cancelled, g.cancel_report])).toEqual([
      ['desk-a', 'host1:11', 3, 'reported'],
      ['desk-a', 'host2:22', null, 'not_reported'],
      ['desk-b', 'hostb:1', 2, 'reported'],
      ['desk-d', '', null, 'invalid'],
    ])
    expect(entryA.guards[3]).toMatchObject({ applied_at: null, change_to_applied_ms: null })

    // The time from the change to each guard's application, as ClickHouse computes it.
    const lag = await h.store.query<{ id: string; us: string }>(
      `SELECT e.id AS id, toString(dateDiff('microsecond', c.at, parseDateTime64BestEffort(e.attrs['applied_at'], 6, 'UTC'))) AS us
       FROM events AS e INNER JOIN control_log AS c ON c.subject = e.attrs['kill_switch_id']
         AND c.kind = if(e.action = 'killswitch.trip', 'killswitch_tripped', 'killswitch_reset')
       WHERE e.action IN ('killswitch.trip', 'killswitch.reset') AND e.source != 'desk-d'`,
    )
    const applied = d.entries.flatMap((e) => e.guards).filter((g) => g.source !== 'desk-d')
    expect(applied).toHaveLength(lag.length)
    for (const l of lag) expect(applied.find((g) => g.event_id === l.id)?.change_to_applied_ms).toBe(Number(l.us) / 1000)
    expect(entryA.guards[0]).toMatchObject({ change_to_applied_ms: 12.345, applied_at: plusMs(tripA.at, 12.345), applied_via: 'stream', control_version: Number(tripA.version) })
    const reset = d.entries.find((e) => e.change === 'reset')!
    expect(reset.guards.map((g) => [g.source, g.change_to_applied_ms, g.orders_cancelled, g.cancel_report])).toEqual([['desk-a', 9.5, null, null]])

    // Who reported nothing: desk-c for everything that covers it; desk-b only for its own
    // source switch's trip and for the reset; a source switch for desk-b does not bind desk-a.
    expect(entryA.sources_not_reporting).toEqual(['desk-c'])
    expect(entryB.sources_not_reporting).toEqual([])
    expect(reset.sources_not_reporting).toEqual(['desk-b', 'desk-c', 'desk-d'])
    const fields = r.not_recorded.map((n) => n.field)
    expect(fields).not.toContain('orders cancelled when a switch tripped')
    expect(fields).not.toContain('time each guard applied a trip')
    expect(fields).toContain(`time source desk-c applied: trip ${a.id}, reset ${a.id}`)
    expect(fields).toContain(`orders cancelled at source desk-a: ${a.id} (not_reported)`)
    expect(fields).toContain(`orders cancelled at source desk-d: ${a.id} (invalid)`)
    expect(fields.some((f) => f.includes('desk-b') && f.startsWith('orders cancelled'))).toBe(false)
    const table = r.sections.find((s) => s.title === 'Application by each guard')?.table
    expect(table?.rows).toHaveLength(6)
    expect(r.sections.find((s) => s.title === 'Trips and resets')?.table?.rows.find((row) => row[2] === a.id && row[1] === 'trip')?.slice(9, 11)).toEqual([5, 4])
    // The new table prints in every format.
    const csv = (await renderReport(r, 'csv')).toString('utf8')
    expect(csv).toContain('host2:22')
    expect(csv).toContain('not reported')
    expect((await renderReport(r, 'pdf')).subarray(0, 5).toString('latin1')).toBe('%PDF-')
  })

  it('with no guard report and no active source, names nothing as missing', async () => {
    const period = { from: '2020-01-01T00:00:00Z', to: '2020-01-02T00:00:00Z' }
    const r = await compileReport(checkReportRequest({ type: 'kill-switch-log', ...period }), { store: h.store }, { id: 'rpt_ks_empty', generatedAt: new Date('2020-01-03T00:00:00Z') })
    expect((r.data as KillSwitchLogData).entries).toEqual([])
    expect(r.not_recorded).toEqual([])
  })
})
