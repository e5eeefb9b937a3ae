import { describe, expect, it } from 'vitest'
import { approvalNoteError, approvalsOfIncident, approvalView, canDecide, missingApprovalIds, undecidedInTimeline } from './approvals.js'
import type { Approval, TimelineEntry } from './types.js'

const NOW = Date.parse('2026-11-27T01:00:00Z')

function approval(id: string, over: Partial<Approval> = {}): Approval {
  return {
    id,
    status: 'pending',
    run_id: 'run_1',
    playbook: 'critical_alert',
    step: 2,
    action: 'revoke_key',
    alert_id: 'al_1',
    incident_id: 'in_1',
    on_timeout: 'abort',
    requested_at: '2026-11-27T00:50:00Z',
    expires_at: '2026-11-27T01:05:00Z',
    permission: 'approvals:write',
    decided_by: null,
    decided_at: null,
    note: null,
    ...over,
  }
}

function tl(kind: string, approvalId: string): TimelineEntry {
  return { at: '2026-11-27T00:50:00Z', kind, actor: 'playbook:p', alert_id: 'al_1', playbook: 'p', step: 'revoke_key', attempt: null, outcome: null, detail: { approval_id: approvalId } }
}

describe('approvalsOfIncident', () => {
  const incident = { id: 'in_1', alert_ids: ['al_1', 'al_2'] }

  it('keeps the requests of this incident, and those without one on its alerts, oldest first', () => {
    const list = [
      approval('ap_b', { requested_at: '2026-11-27T00:55:00Z' }),
      approval('ap_other', { incident_id: 'in_2' }),
      approval('ap_a', { requested_at: '2026-11-27T00:51:00Z' }),
      approval('ap_loose', { incident_id: null, alert_id: 'al_2', requested_at: '2026-11-27T00:59:00Z' }),
      approval('ap_stranger', { incident_id: null, alert_id: 'al_9' }),
    ]
    expect(approvalsOfIncident(list, incident).map((a) => a.id)).toEqual(['ap_a', 'ap_b', 'ap_loose'])
  })

  it('prefers the decided answer when one id comes twice', () => {
    const both = [approval('ap_a'), approval('ap_a', { status: 'approved', decided_by: 'operator:x' }), approval('ap_a')]
    const out = approvalsOfIncident(both, incident)
    expect(out).toHaveLength(1)
    expect(out[0]?.status).toBe('approved')
  })
})

describe('requests the timeline shows undecided', () => {
  it('are those asked and not decided, and only those the list lacks are read alone', () => {
    const entries = [tl('approval_requested', 'ap_1'), tl('approval_requested', 'ap_2'), tl('approval_decided', 'ap_1'), tl('approval_requested', 'ap_3'), tl('note', 'ap_9')]
    expect(undecidedInTimeline(entries)).toEqual(['ap_2', 'ap_3'])
    expect(missingApprovalIds(entries, [approval('ap_3')])).toEqual(['ap_2'])
    expect(missingApprovalIds([], [])).toEqual([])
  })
})

describe('approvalView and canDecide', () => {
  it('lets a person with approvals:write decide a pending request before it expires', () => {
    const a = approval('ap_1')
    expect(approvalView(a, NOW)).toEqual({ state: 'decidable', label: 'waiting for a decision', color: 'warning', expiresInMs: 5 * 60_000 })
    expect(canDecide(a, NOW, true)).toBe(true)
    expect(canDecide(a, NOW, false)).toBe(false)
  })

  it('offers no buttons once it expired, even before the server applied its timeout', () => {
    const lapsed = approval('ap_1', { expires_at: '2026-11-27T00:59:59Z' })
    expect(approvalView(lapsed, NOW).state).toBe('lapsed')
    expect(canDecide(lapsed, NOW, true)).toBe(false)
    expect(approvalView(approval('ap_1', { expires_at: 'not a time' }), NOW).state).toBe('lapsed')
  })

  it('shows decided requests as they ended', () => {
    expect(approvalView(approval('a', { status: 'approved' }), NOW).state).toBe('approved')
    expect(approvalView(approval('a', { status: 'rejected' }), NOW).color).toBe('danger')
    expect(approvalView(approval('a', { status: 'expired' }), NOW).label).toBe('expired')
    for (const status of ['approved', 'rejected', 'expired'] as const) expect(canDecide(approval('a', { status }), NOW, true)).toBe(false)
  })

  it('takes a note of at most 1000 characters', () => {
    expect(approvalNoteError('')).toBeNull()
    expect(approvalNoteError('x'.repeat(1000))).toBeNull()
    expect(approvalNoteError('x'.repeat(1001))).toMatch(/at most 1000/)
  })
})
