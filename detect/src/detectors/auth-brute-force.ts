/**
 * auth.brute_force (CONTRACT §5): many authentication failures on one key or user, from few
 * addresses, within the rule's window. Fires when a window of a key or user (each type of
 * `group_by` on its own) holds at least `min_failures` non-success events whose reason is in
 * `failure_reasons`, from at most `max_distinct_ips` addresses (allowlisted ones left out).
 * Score: `scoreFromRatio(failures / min_failures)`.
 */
import type { Detector } from '../detector.js'
import { builtinParams } from '../rules.js'
import { durationText, entityLabel, plural, reasonWord, runCountRule, scoreFromRatio } from './access-findings.js'

export const bruteForceDetector: Detector = {
  ruleId: 'auth.brute_force',
  async detect(events, ctx) {
    const p = builtinParams(ctx.rule, 'auth.brute_force')
    return runCountRule(events, ctx, {
      types: p.group_by,
      reasons: p.failure_reasons,
      fires: (_w, c) => c.denials >= p.min_failures && c.ips <= p.max_distinct_ips,
      describe: (w, c) => ({
        score: scoreFromRatio(c.denials / p.min_failures),
        summary:
          `${c.denials} ${reasonWord(c.byReason, 'authentication')} failures on ${entityLabel(w.type, w.entity)}` +
          `${c.ips > 0 ? ` from ${plural(c.ips, 'IP')}` : ''} in ${durationText((c.lastSec - c.firstSec) * 1000)}`,
        evidence: { value: c.denials, threshold: p.min_failures, max_distinct_ips: p.max_distinct_ips },
      }),
    })
  },
}
