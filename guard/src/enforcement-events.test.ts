import { randomBytes } from 'node:crypto'
import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { checkLimitOverride, killSwitchResetEvent, killSwitchTripEvent, reportLimitOverride } from './enforcement-events.js'
import { MemoryKeyStore } from './key-store.js'
import { vigilGuard } from './plugin.js'
import type { EventSink, GuardEvent } from './seams.js'

const NOW = Date.parse('2026-11-27T09:00:00Z')

function capture(): EventSink & { events: GuardEvent[] } {
  const events: GuardEvent[] = []
  return { events, emit: (e) => void events.push(e) }
}

const good = {
  accountId: 'acc_7',
  limitType: 'order_value',
  from: 1_000_000,
  to: '2500000',
  until: '2026-11-27T17:00:00+01:00',
  approvedBy: 'cro@example.com',
  requestedBy: 'desk.head@example.com',
  reason: 'index rebalance',
}

describe('reportLimitOverride', () => {
  it('ships one admin.config_change marked as a limit override, approver as user_id', () => {
    const sink = capture()
    const r = reportLimitOverride(sink, good, NOW)
    expect(r).toEqual({ ok: true, eventId: sink.events[0]?.id })
    expect(sink.events).toHaveLength(1)
    expect(sink.events[0]).toMatchObject({
      action: 'admin.config_change',
      outcome: 'success',
      ts: '2026-11-27T09:00:00.000000Z',
      user_id: 'cro@example.com',
      account_id: 'acc_7',
      attrs: {
        change: 'limit_override',
        limit_type: 'order_value',
        from: '1000000',
        to: '2500000',
        until: '2026-11-27T16:00:00.000Z',
        approved_by: 'cro@example.com',
        requested_by: 'desk.head@example.com',
        override_reason: 'index rebalance',
      },
    })
    expect(sink.events[0]?.api_key_id).toBeUndefined()
    // Every attrs value is a string (CONTRACT §1: attrs is string → string).
    for (const v of Object.values(sink.events[0]!.attrs!)) expect(typeof v).toBe('string')
  })

  it('refuses bad input with a message naming the field, ships nothing and never throws', () => {
    const secretish = `sk_live_${randomBytes(16).toString('hex')}`
    const cases: Array<[unknown, RegExp]> = [
      [null, /must be an object/],
      [[good], /must be an object/],
      ['order_value', /must be an object/],
      [{ ...good, approved_by: 'x' }, /unknown field\(s\): "approved_by"/],
      [JSON.parse('{"__proto__": {"polluted": true}, "limitType": "volume"}'), /unknown field\(s\): "__proto__"/],
      [{ ...good, limitType: 'Order Value' }, /limitType must be snake_case/],
      [{ ...good, limitType: undefined }, /limitType must be snake_case/],
      [{ ...good, limitType: 'a'.repeat(65) }, /limitType must be snake_case/],
      [{ ...good, approvedBy: undefined }, /approvedBy must be a non-empty string/],
      [{ ...good, approvedBy: '   ' }, /approvedBy must be a non-empty string/],
      [{ ...good, approvedBy: 'a'.repeat(129) }, /approvedBy is longer than 128/],
      [{ ...good, approvedBy: 'eve\nforged line' }, /approvedBy must not contain control characters/],
      [{ ...good, reason: undefined }, /reason must be a non-empty string/],
      [{ ...good, reason: 'r'.repeat(1025) }, /reason is longer than 1024/],
      [{ ...good, accountId: 42 }, /accountId must be a non-empty string/],
      [{ ...good, apiKeyId: '' }, /apiKeyId must be a non-empty string/],
      [{ ...good, from: Number.NaN }, /from must be a finite number/],
      [{ ...good, to: Infinity }, /to must be a finite number/],
      [{ ...good, to: { value: 1 } }, /to must be a non-empty string/],
      [{ ...good, from: 'x'.repeat(257) }, /from is longer than 256/],
      [{ ...good, to: 1_000_000, from: '1000000' }, /from and to are the same/],
      [{ ...good, until: 'tomorrow' }, /until must be an RFC 3339 time/],
      [{ ...good, until: '2026-02-30T10:00:00Z' }, /until must be an RFC 3339 time|until is not in the future/],
      [{ ...good, until: '2026-11-27T08:59:59Z' }, /until is not in the future/],
      [{ ...good, reason: secretish, approvedBy: `${secretish}\u0000` }, /approvedBy must not contain control characters/],
    ]
    for (const [input, why] of cases) {
      const sink = capture()
      const r = reportLimitOverride(sink, input, NOW)
      expect(r.ok, JSON.stringify(input)?.slice(0, 80)).toBe(false)
      if (!r.ok) {
        expect(r.code).toBe('invalid_limit_override')
        expect(r.message).toMatch(why)
        expect(r.message).not.toContain(secretish)
      }
      expect(sink.events).toEqual([])
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('an input that throws when read, or a sink that throws, is an answer, not an exception', () => {
    const hostile = new Proxy({}, { ownKeys: () => { throw new Error('boom') } })
    expect(reportLimitOverride(capture(), hostile, NOW)).toMatchObject({ ok: false, code: 'invalid_limit_override' })
    const getter = Object.defineProperty({ ...good }, 'reason', { enumerable: true, get: () => { throw new Error('boom') } })
    expect(reportLimitOverride(capture(), getter, NOW)).toMatchObject({ ok: false, code: 'invalid_limit_override' })
    const broken: EventSink = { emit: () => { throw new Error('disk full') } }
    expect(reportLimitOverride(broken, good, NOW)).toEqual({ ok: false, code: 'not_shipped', message: 'the event sink refused the override event' })
  })

  it('accepts the smallest override: a limit, two values, an approver and a reason', () => {
    const r = checkLimitOverride({ limitType: 'message_rate', from: 50, to: 200, approvedBy: 'risk', reason: 'auction' }, NOW)
    expect(r).toEqual({ ok: true, value: { limitType: 'message_rate', from: '50', to: '200', approvedBy: 'risk', reason: 'auction' } })
  })

  it('is reachable as app.vigilGuard.reportLimitOverride once the plugin is registered, on the guard sink', async () => {
    const sink = capture()
    const app = Fastify()
    await app.register(vigilGuard, { keys: new MemoryKeyStore({ encryptionKey: randomBytes(32), sink }), sink, source: 'desk-eu-1', limits: { pro: { perSecond: 10, perDay: 100 } }, lostChannelPolicy: 'fail_open', now: () => NOW })
    await app.ready()
    const r = app.vigilGuard.reportLimitOverride({ apiKeyId: 'ak_1', limitType: 'price_collar', from: '5%', to: 'none', approvedBy: 'risk@example.com', reason: 'halt reopening' })
    expect(r.ok).toBe(true)
    expect(sink.events.filter((e) => e.action === 'admin.config_change')).toHaveLength(1)
    expect(app.vigilGuard.reportLimitOverride({ limitType: 'price_collar' })).toMatchObject({ ok: false, message: 'approvedBy must be a non-empty string' })
    await app.close()
  })
})

describe('kill-switch enforcement events', () => {
  const application = { killSwitch: { id: 'ks_1', scope: { type: 'global' as const, id: '*' }, tripped_at: '2026-11-27T08:59:59.000000Z' }, appliedAtMs: NOW + 0.25, controlVersion: 7, via: 'stream' as const, guardInstance: 'host:1' }

  it('a trip carries when the guard applied it and the count only when one was reported', () => {
    const reported = killSwitchTripEvent(application, { report: 'reported', orders: 0 }, NOW + 5)
    expect(reported).toMatchObject({
      action: 'killswitch.trip',
      outcome: 'success',
      ts: '2026-11-27T09:00:00.005000Z',
      attrs: { kill_switch_id: 'ks_1', kill_switch_scope: 'global:*', applied_at: '2026-11-27T09:00:00.000250Z', control_version: '7', applied_via: 'stream', guard_instance: 'host:1', kill_switch_tripped_at: '2026-11-27T08:59:59.000000Z', cancel_report: 'reported', orders_cancelled: '0' },
    })
    const silent = killSwitchTripEvent(application, { report: 'not_reported' }, NOW + 5)
    expect(silent.attrs?.cancel_report).toBe('not_reported')
    expect(silent.attrs).not.toHaveProperty('orders_cancelled')
  })

  it('a reset names the switch, its scope and Vigil\'s reset time', () => {
    const e = killSwitchResetEvent({ ...application, via: 'state' }, '2026-11-27T09:10:00.000000Z', NOW)
    expect(e).toMatchObject({ action: 'killswitch.reset', attrs: { kill_switch_id: 'ks_1', applied_via: 'state', kill_switch_reset_at: '2026-11-27T09:10:00.000000Z' } })
    expect(e.attrs).not.toHaveProperty('cancel_report')
  })
})
