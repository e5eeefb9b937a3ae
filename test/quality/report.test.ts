/**
 * The quality report's scoring and rendering without a Vigil: a brute-force run's alerts are
 * sorted into the label, a wrong rule on the attacked key and a false alarm on a clean key;
 * recall, latencies and enforcement come out of them as the report states them.
 */
import { describe, it, expect } from 'vitest'
import { buildPlan } from '@vigil/demo'
import { percentile, renderReport, scoreScenario, type RunAlert } from './report.js'

const START = Date.UTC(2026, 10, 24, 14, 0, 0)
const T = Date.UTC(2026, 10, 26, 21, 0, 0)
const iso = (ms: number) => new Date(ms).toISOString()

function alert(rule: string, entity: { type: string; id: string }, detectedMs: number, receivedMs: number | null): RunAlert {
  return {
    id: `al_${rule}_${entity.id}`,
    rule,
    severity: 'high',
    entity,
    api_key_id: entity.type === 'api_key' ? entity.id : null,
    detected_at: iso(detectedMs),
    event_received_at: receivedMs === null ? null : iso(receivedMs),
    summary: `${rule} on ${entity.id} | piped`,
  }
}

describe('quality report', () => {
  const plan = buildPlan('auth.brute_force', { seed: 3, startMs: START, durationMs: 20_000, keys: 4, source: 'quality' })
  const victim = plan.labels.find((l) => l.entity.type === 'api_key')!.entity.id
  const cleanKey = plan.requests.find((r) => r.tag === 'clean')!.keyId

  const score = scoreScenario({
    plan,
    source: 'quality',
    byCode: { success: 40, bad_signature: 50 },
    wallMs: 75_000,
    alerts: [
      alert('auth.brute_force', { type: 'api_key', id: victim }, T + 2_500, T),
      alert('geo.impossible_travel', { type: 'api_key', id: victim }, T + 30_000, T + 29_000),
      alert('volume.spike', { type: 'api_key', id: cleanKey }, T + 40_000, null),
    ],
    enforcement: [{ kind: 'revoked_key', api_key_id: victim, decided_at: iso(T + 20_000), appliedAtMs: T + 20_050, refusedAtMs: T + 20_100, status: 401, code: 'revoked_key' }],
  })

  it('classifies each alert and finds the labels', () => {
    expect(score.alerts.map((a) => a.class)).toEqual(['label', 'wrong_rule', 'false_clean'])
    expect(score.labels).toEqual([
      { rule: 'auth.brute_force', entity: `api_key:${victim}`, detected: true, latencyMs: 2_500 },
      expect.objectContaining({ rule: 'auth.brute_force', detected: false, latencyMs: null }),
    ])
    expect(score.sent).toBe(90)
    expect(score.enforcement).toEqual([
      { kind: 'revoked_key', api_key_id: victim, code: 'revoked_key', enforced: true, rule: 'auth.brute_force', alertToRefusalMs: 17_600, decisionToRefusalMs: 100 },
    ])
  })

  it('renders recall, latency, enforcement and every alert that was not the label', () => {
    const md = renderReport([score], { when: iso(T), machine: '2 × Test CPU, Node v20', command: 'npm run quality', seed: 3, backgroundMs: 20_000, keys: 4, rules: ['auth.brute_force', 'clock.skew'] })
    expect(md).toContain('**Recall: 1 of 2 labelled attacks detected. False alerts on clean traffic: 1. Alerts of another rule on attack entities: 1.**')
    expect(md).toContain('| `auth.brute_force` | 1/2 | 2500 ms | 2500 ms | 1 | 0 |')
    expect(md).toContain('| `clock.skew` | – | – | – | 0 | 0 |')
    expect(md).toContain(`| \`auth.brute_force\` | revocation | ${victim} | revoked_key | \`auth.brute_force\` | 17.6 s | 100 ms |`)
    expect(md).toContain(`- false, \`auth.brute_force\`: \`volume.spike\` high on api_key:${cleanKey}`)
    expect(md).toContain('\\| piped')
    expect(md).toContain('2 × Test CPU, Node v20')
  })

  it('percentile is nearest rank', () => {
    expect(percentile([], 50)).toBeUndefined()
    expect(percentile([5, 1, 3], 50)).toBe(3)
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99)).toBe(10)
  })
})
