/**
 * access.ip_not_allowed and access.scope_violation (CONTRACT §5): repeated denials of one
 * reason on one key. Fires when a window of a key holds at least `min_denials` non-success
 * events with the reason (allowlisted addresses left out).
 * Score: `scoreFromRatio(denials / min_denials)`.
 */
import type { Detector } from '../detector.js'
import { builtinParams } from '../rules.js'
import { durationText, plural, runCountRule, scoreFromRatio } from './access-findings.js'
import type { SampleEvent } from './access-windows.js'

const distinctActions = (samples: readonly SampleEvent[]) => [...new Set(samples.map((s) => s.action).filter(Boolean))]

export const ipNotAllowedDetector: Detector = {
  ruleId: 'access.ip_not_allowed',
  async detect(events, ctx) {
    const p = builtinParams(ctx.rule, 'access.ip_not_allowed')
    return runCountRule(events, ctx, {
      types: ['api_key'],
      reasons: ['ip_not_allowed'],
      fires: (_w, c) => c.denials >= p.min_denials,
      describe: (w, c) => ({
        score: scoreFromRatio(c.denials / p.min_denials),
        summary:
          `Key ${w.entity} refused ${plural(c.denials, 'time')} from ${plural(c.ips, 'address', 'addresses')} outside its IP allowlist` +
          ` in ${durationText((c.lastSec - c.firstSec) * 1000)}`,
        evidence: { value: c.denials, threshold: p.min_denials },
      }),
    })
  },
}

export const scopeViolationDetector: Detector = {
  ruleId: 'access.scope_violation',
  async detect(events, ctx) {
    const p = builtinParams(ctx.rule, 'access.scope_violation')
    return runCountRule(events, ctx, {
      types: ['api_key'],
      reasons: ['scope_denied'],
      fires: (_w, c) => c.denials >= p.min_denials,
      describe: (w, c, samples) => {
        const actions = distinctActions(samples)
        return {
          score: scoreFromRatio(c.denials / p.min_denials),
          summary:
            `Key ${w.entity} denied ${plural(c.denials, 'call')} outside its scopes in ${durationText((c.lastSec - c.firstSec) * 1000)}` +
            `${actions.length > 0 ? ` (${actions.join(', ')})` : ''}`,
          evidence: { value: c.denials, threshold: p.min_denials, sample_actions: actions },
        }
      },
    })
  },
}
