/**
 * How the market-access review words a change of settings (old → new by path). The review
 * over a real store, its numbers checked against direct queries, is in
 * server/src/control-versions.test.ts (it needs detect's rules and the server's wiring).
 */
import { describe, expect, it } from 'vitest'
import { canonicalParamsJson } from '@vigil/core'
import { settingsDiff } from './market-access-review.js'

const j = (v: unknown) => canonicalParamsJson(v)

describe('settingsDiff', () => {
  it('names each changed leaf by its path, old and new as JSON, sorted', () => {
    const before = j({ severity: 'high', window_ms: 300000, params: { min_failures: 10, group_by: ['api_key', 'user'] }, escalate: [] })
    const after = j({ severity: 'critical', window_ms: 300000, params: { min_failures: 15, group_by: ['api_key'] }, escalate: [{ severity: 'critical', min_score: 100 }] })
    expect(settingsDiff(before, after)).toEqual([
      { path: 'escalate', old: '[]', new: null },
      { path: 'escalate[0].min_score', old: null, new: '100' },
      { path: 'escalate[0].severity', old: null, new: '"critical"' },
      { path: 'params.group_by[1]', old: '"user"', new: null },
      { path: 'params.min_failures', old: '10', new: '15' },
      { path: 'severity', old: '"high"', new: '"critical"' },
    ])
  })

  it('finds nothing when only text outside the settings changed, and everything against no version', () => {
    const same = j({ enabled: true, steps: [{ action: 'open_incident', params: {} }] })
    expect(settingsDiff(same, same)).toEqual([])
    expect(settingsDiff(null, j({ enabled: true }))).toEqual([{ path: 'enabled', old: null, new: 'true' }])
    expect(settingsDiff(j({ enabled: true }), 'null')).toEqual([
      { path: '(all)', old: null, new: 'null' },
      { path: 'enabled', old: 'true', new: null },
    ])
  })
})
