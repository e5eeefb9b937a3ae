import { describe, expect, it } from 'vitest'
import type { EscalationStep, Finding } from './detector.js'
import { describeStep, escalateFinding, escalationFor } from './escalation.js'

const steps: EscalationStep[] = [
  { severity: 'high', min_count: 10 },
  { severity: 'critical', min_count: 50, min_score: 90 },
]

describe('escalation', () => {
  it('gives the highest step whose every condition holds, never one at or below the severity it starts from', () => {
    expect(escalationFor(steps, 'medium', 9, 100)).toBeUndefined()
    expect(escalationFor(steps, 'medium', 10, 0)).toEqual({ from: 'medium', to: 'high', by: 'min_count 10' })
    // Both conditions of the critical step must hold.
    expect(escalationFor(steps, 'medium', 50, 89.9)).toEqual({ from: 'medium', to: 'high', by: 'min_count 10' })
    expect(escalationFor(steps, 'medium', 50, 90)).toEqual({ from: 'medium', to: 'critical', by: 'min_count 50, min_score 90' })
    expect(escalationFor([...steps].reverse(), 'medium', 50, 90)?.to).toBe('critical')
    expect(escalationFor(steps, 'critical', 500, 100)).toBeUndefined()
    expect(escalationFor(undefined, 'low', 500, 100)).toBeUndefined()
  })

  it('a step without a condition never holds (lint refuses it)', () => {
    expect(escalationFor([{ severity: 'critical' }], 'low', 1e9, 100)).toBeUndefined()
  })

  it('names a step by its conditions', () => {
    expect(steps.map(describeStep)).toEqual(['min_count 10', 'min_count 50, min_score 90'])
  })

  it('raises a finding and adds evidence.escalated, keeping the detector\'s evidence; leaves the rest alone', () => {
    const f: Finding = {
      rule: 'auth.brute_force',
      severity: 'high',
      score: 100,
      entity: { type: 'api_key', id: 'ak_1' },
      firstSeenMs: 0,
      lastSeenMs: 1,
      windowStartMs: 0,
      count: 1,
      summary: 's',
      evidence: { value: 60, threshold: 10, sample_event_ids: ['e1'] },
    }
    const rule = { escalate: [{ severity: 'critical' as const, min_score: 100 }] }
    expect(escalateFinding(f, rule)).toEqual({
      ...f,
      severity: 'critical',
      evidence: { value: 60, threshold: 10, sample_event_ids: ['e1'], escalated: { from: 'high', to: 'critical', by: 'min_score 100' } },
    })
    expect(f.severity).toBe('high')
    const calm = { ...f, score: 99.9 }
    expect(escalateFinding(calm, rule)).toBe(calm)
    expect(escalateFinding(f, {})).toBe(f)
  })
})
