import { describe, expect, it } from 'vitest'
import { actorName, isMe, readResetAnswer, resetLabel, resetState, sortSwitches, tripConsequence } from './resetState.js'
import type { KillSwitch } from './types.js'

const base: KillSwitch = {
  id: 'ks_1',
  scope: { type: 'account', id: 'acct-9' },
  status: 'tripped',
  tripped_at: '2026-11-27T00:00:00.000Z',
  tripped_by: 'operator:p2@example.com',
  reason: 'test',
  incident_id: null,
  reset_request: null,
  reset_at: null,
  reset_by: null,
  reset_reason: null,
}

describe('kill-switch reset state', () => {
  it('is tripped, then waiting for a second person, then reset', () => {
    expect(resetState(base)).toEqual({ kind: 'tripped' })
    const waiting = { ...base, reset_request: { by: 'operator:a@example.com', at: '2026-11-27T00:01:00.000Z', reason: 'clear' } }
    expect(resetState(waiting)).toEqual({ kind: 'waiting', by: 'operator:a@example.com', at: '2026-11-27T00:01:00.000Z', reason: 'clear' })
    const done = { ...waiting, status: 'reset' as const, reset_by: 'operator:b@example.com', reset_at: '2026-11-27T00:02:00.000Z', reset_reason: 'ok' }
    expect(resetState(done)).toMatchObject({ kind: 'reset', by: 'operator:b@example.com' })
  })

  it('reads the 202 request and the 200 reset answers apart', () => {
    const requested = readResetAnswer({ status: 'reset_requested', killswitch: { ...base, reset_request: { by: 'x', at: 'y', reason: 'z' } } })
    expect(requested.kind).toBe('requested')
    expect(requested.killswitch.id).toBe('ks_1')
    const reset = readResetAnswer({ ...base, status: 'reset' })
    expect(reset.kind).toBe('reset')
    expect(() => readResetAnswer({ error: { code: 'x' } })).toThrow(/unexpected/)
    expect(() => readResetAnswer(null)).toThrow(/unexpected/)
  })

  it('tells the requester they need a second person and the second person that they confirm', () => {
    const waiting = { ...base, reset_request: { by: 'operator:a@example.com', at: '2026-11-27T00:01:00.000Z', reason: 'clear' } }
    expect(resetLabel(base, 'a@example.com')).toEqual({ label: 'Reset', hint: null })
    expect(resetLabel(waiting, 'A@example.com').label).toBe('Reset requested')
    const other = resetLabel(waiting, 'b@example.com')
    expect(other.label).toBe('Confirm reset')
    expect(other.hint).toContain('a@example.com')
    expect(actorName('operator:a@example.com')).toBe('a@example.com')
    expect(actorName(null)).toBe('—')
    expect(isMe('operator:a@example.com', undefined)).toBe(false)
  })

  it('lists tripped switches first, newest first', () => {
    const old = { ...base, id: 'old', tripped_at: '2026-11-26T00:00:00.000Z' }
    const gone = { ...base, id: 'gone', status: 'reset' as const, tripped_at: '2026-11-27T05:00:00.000Z' }
    const fresh = { ...base, id: 'fresh', tripped_at: '2026-11-27T03:00:00.000Z' }
    expect(sortSwitches([old, gone, fresh]).map((s) => s.id)).toEqual(['fresh', 'old', 'gone'])
  })

  it('says what a trip does on the chosen scope', () => {
    expect(tripConsequence('global', '*')).toContain('every scope (global)')
    expect(tripConsequence('api_key', 'k1')).toContain('api key k1')
    expect(tripConsequence('venue', 'XLON')).toMatch(/resting orders on that scope will be cancelled/)
  })
})
