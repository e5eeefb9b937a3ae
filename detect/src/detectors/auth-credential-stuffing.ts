/**
 * auth.credential_stuffing (CONTRACT §5): one address, or the network around it, failing
 * across many distinct credentials within the rule's window. A credential is the api_key_id,
 * or the user_id of an event without a key; a failure is a non-success event whose reason is
 * in `failure_reasons`. Fires when a window of an address or network (`group_by`; networks
 * at `ipv4_prefix` / `ipv6_prefix`) holds at least `min_distinct_credentials` credentials and
 * `min_failures` failures, and, for a network, failures from at least `net_min_distinct_ips`
 * of its addresses. Allowlisted addresses and keys are left out of every count.
 * Score: `scoreFromRatio` of the smaller of credentials / min_distinct_credentials and
 * failures / min_failures.
 */
import type { Detector } from '../detector.js'
import { builtinParams } from '../rules.js'
import { durationText, plural, reasonWord, runCountRule, scoreFromRatio } from './access-findings.js'

export const credentialStuffingDetector: Detector = {
  ruleId: 'auth.credential_stuffing',
  async detect(events, ctx) {
    const p = builtinParams(ctx.rule, 'auth.credential_stuffing')
    return runCountRule(events, ctx, {
      types: p.group_by,
      reasons: p.failure_reasons,
      netPrefix: { v4: p.ipv4_prefix, v6: p.ipv6_prefix },
      fires: (w, c) =>
        c.keys + c.users >= p.min_distinct_credentials && c.denials >= p.min_failures && (w.type !== 'net' || c.ips >= p.net_min_distinct_ips),
      describe: (w, c) => {
        const credentials = c.keys + c.users
        const across = [c.keys > 0 ? plural(c.keys, 'key') : '', c.users > 0 ? plural(c.users, 'user') : ''].filter(Boolean).join(' and ')
        const from = w.type === 'net' ? `${plural(c.ips, 'address', 'addresses')} in ${w.entity}` : w.entity
        return {
          score: scoreFromRatio(Math.min(credentials / p.min_distinct_credentials, c.denials / p.min_failures)),
          summary: `${c.denials} ${reasonWord(c.byReason, 'authentication')} failures across ${across} from ${from} in ${durationText((c.lastSec - c.firstSec) * 1000)}`,
          evidence: {
            value: credentials,
            threshold: p.min_distinct_credentials,
            failures: c.denials,
            min_failures: p.min_failures,
            distinct_keys: c.keys,
            distinct_users: c.users,
            credentials: c.credentialList,
            ...(w.type === 'net' ? { net_min_distinct_ips: p.net_min_distinct_ips } : {}),
          },
        }
      },
    })
  },
}
