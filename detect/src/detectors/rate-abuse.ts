/**
 * rate.abuse (CONTRACT §5): sustained rate_limited denials on one key or address. Fires when
 * a window of a key or address (`group_by`) holds at least `min_denials` non-success events
 * with reason rate_limited spread over at least `min_active_minutes` distinct minutes of the
 * window (counted from its start), allowlisted addresses left out.
 * Score: `scoreFromRatio(denials / min_denials)`; the minutes are a shape condition (they
 * cannot exceed the window's), not a measure of how bad it is.
 */
import type { Detector } from '../detector.js'
import { builtinParams } from '../rules.js'
import { durationText, entityLabel, plural, runCountRule, scoreFromRatio } from './access-findings.js'

export const rateAbuseDetector: Detector = {
  ruleId: 'rate.abuse',
  async detect(events, ctx) {
    const p = builtinParams(ctx.rule, 'rate.abuse')
    return runCountRule(events, ctx, {
      types: p.group_by,
      reasons: ['rate_limited'],
      fires: (_w, c) => c.denials >= p.min_denials && c.activeMinutes >= p.min_active_minutes,
      describe: (w, c) => ({
        score: scoreFromRatio(c.denials / p.min_denials),
        summary:
          `${c.denials} rate_limited denials ${w.type === 'ip' ? 'from' : 'on'} ${entityLabel(w.type, w.entity)} in ${durationText((c.lastSec - c.firstSec) * 1000)},` +
          ` spread over ${plural(c.activeMinutes, 'distinct minute')}`,
        evidence: { value: c.denials, threshold: p.min_denials, active_minutes: c.activeMinutes, min_active_minutes: p.min_active_minutes },
      }),
    })
  },
}
