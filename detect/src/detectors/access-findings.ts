/**
 * What the window-count rules share (auth.brute_force, auth.credential_stuffing,
 * access.ip_not_allowed, access.scope_violation, rate.abuse): from a batch to findings in at
 * most two queries (the window counts; then, only if something fired and the batch lacks
 * them, sample events), and the way a finding reads (score, window, wording).
 *
 * - Only the events' time decides: a window ends at the entity's newest relevant event, and
 *   a finding's `windowStartMs` is the first second of the window holding one of the rule's
 *   reasons, so the same stored data gives the same alert id whatever the batch boundaries.
 * - `count` is 1: a finding is one window that fired; an open alert's count then says how many
 *   evaluations found it again. The events are in `evidence.value`.
 */
import type { DetectorContext, Finding, StreamEvent } from '../detector.js'
import { allowlistOf, type Allowlist } from './access-allowlist.js'
import { networkId } from './access-network.js'
import { countWindows, planWindows, sampleWindows, type CountEntity, type PlannedWindow, type SampleEvent, type WindowCounts } from './access-windows.js'

/**
 * 0-100, how far past its threshold a value is: 50 at the threshold, 25 more for each
 * doubling, 100 from four times the threshold on. For rules with several lower bounds,
 * callers pass the ratio of the one nearest to not firing.
 */
export function scoreFromRatio(ratio: number): number {
  if (!(ratio > 0)) return 0
  const s = 50 + 25 * Math.log2(ratio)
  return Math.round(Math.max(0, Math.min(100, s)) * 10) / 10
}

/** "45 s", "2 min", "1 h 5 min": how long a burst lasted, for a summary. */
export function durationText(ms: number): string {
  const s = Math.max(1, Math.round(ms / 1000))
  if (s < 90) return `${s} s`
  const min = Math.round(s / 60)
  if (min < 90) return `${min} min`
  const h = Math.floor(min / 60)
  return min % 60 === 0 ? `${h} h` : `${h} h ${min % 60} min`
}

export const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`

/** "key ak_…", "user u_…", or the address or network itself. */
export function entityLabel(type: CountEntity, id: string): string {
  return type === 'api_key' ? `key ${id}` : type === 'user' ? `user ${id}` : id
}

/** The reason when there is only one ("bad_signature"), else `fallback` ("authentication"). */
export function reasonWord(byReason: Record<string, number>, fallback: string): string {
  const keys = Object.keys(byReason)
  return keys.length === 1 ? (keys[0] as string) : fallback
}

/** The one non-empty value of a field among events, or undefined when there are none or several. */
export function onlyValue(events: readonly StreamEvent[], field: 'api_key_id' | 'account_id' | 'client_ip' | 'user_id'): string | undefined {
  let seen: string | undefined
  for (const e of events) {
    const v = e[field]
    if (!v) continue
    if (seen !== undefined && seen !== v) return undefined
    seen = v
  }
  return seen
}

const iso = (ms: number) => new Date(ms).toISOString()

export interface CountRuleSpec {
  /** Entity types judged (the rule's group_by). */
  types: readonly CountEntity[]
  /** Reasons counted; an event counts when it is not a success and has one of them. */
  reasons: readonly string[]
  netPrefix?: { v4: number; v6: number }
  fires(w: PlannedWindow, c: WindowCounts): boolean
  /** Score, one-sentence summary and the rule's own evidence for a window that fired. */
  describe(w: PlannedWindow, c: WindowCounts, samples: readonly SampleEvent[]): { score: number; summary: string; evidence: Record<string, unknown> }
}

function entityOf(e: StreamEvent, type: CountEntity, allow: Allowlist, netPrefix: { v4: number; v6: number } | undefined): string | undefined {
  switch (type) {
    case 'api_key':
      return e.api_key_id && !allow.key(e.api_key_id) ? e.api_key_id : undefined
    case 'user':
      return e.user_id || undefined
    case 'ip':
      return e.client_ip || undefined
    case 'net':
      return e.client_ip ? networkId(e.client_ip, netPrefix?.v4 ?? 24, netPrefix?.v6 ?? 48) : undefined
  }
}

/** Runs a window-count rule over a batch: nothing at all when the batch holds none of its reasons. */
export async function runCountRule(events: readonly StreamEvent[], ctx: DetectorContext, spec: CountRuleSpec): Promise<Finding[]> {
  const { rule, store } = ctx
  const allow = allowlistOf(rule)
  const reasons = new Set(spec.reasons)
  const relevant = events.filter((e) => e.outcome !== 'success' && reasons.has(e.reason) && !allow.event(e))
  if (relevant.length === 0) return []
  const windows = planWindows(relevant, spec.types, rule.windowMs, (e, type) => entityOf(e, type, allow, spec.netPrefix), rule.latenessMs)
  if (windows.length === 0) return []
  const opts = { reasons: spec.reasons, allow, ...(spec.netPrefix ? { netPrefix: spec.netPrefix } : {}) }
  const counts = await countWindows(store, windows, opts)

  const firing: Array<{ w: PlannedWindow; c: WindowCounts }> = []
  windows.forEach((w, i) => {
    const c = counts[i]
    if (c && spec.fires(w, c)) firing.push({ w, c })
  })
  // Overlapping windows of one entity that both fired are one burst: the later one says it all.
  const kept = firing.filter(
    ({ w }) => !firing.some((o) => o.w !== w && o.w.type === w.type && o.w.entity === w.entity && o.w.endSec > w.endSec && o.w.startSec < w.endSec),
  )
  if (kept.length === 0) return []
  const samples = await sampleWindows(
    store,
    kept.map((k) => k.w),
    kept.map((k) => k.c.denials),
    relevant,
    { ...opts, windowMs: rule.windowMs, latenessMs: rule.latenessMs },
  )

  return kept.map(({ w, c }, i) => {
    const sample = samples[i] as SampleEvent[]
    const { score, summary, evidence } = spec.describe(w, c, sample)
    const newest = w.events[w.events.length - 1] as StreamEvent
    const first = sample[0]
    const firstSeenMs = first && Math.floor(first.tsMs / 1000) === c.firstSec ? first.tsMs : c.firstSec * 1000
    const apiKey = w.type === 'api_key' ? w.entity : onlyValue(w.events, 'api_key_id')
    const account = onlyValue(w.events, 'account_id')
    const ip = w.type === 'ip' ? w.entity : c.ips === 1 ? c.ipList[0] : undefined
    let receivedAt = newest.receivedAt
    for (const e of w.events) if (Date.parse(e.receivedAt) > Date.parse(receivedAt)) receivedAt = e.receivedAt
    const finding: Finding = {
      rule: rule.id,
      severity: rule.severity,
      score,
      entity: { type: w.type, id: w.entity },
      firstSeenMs,
      // A window after a late event may end at a stored event, known here to the second.
      lastSeenMs: Math.max(newest.tsMs, c.lastSec * 1000),
      windowStartMs: c.firstSec * 1000,
      count: 1,
      summary,
      evidence: {
        ...evidence,
        window_ms: rule.windowMs,
        window: { from: iso((w.startSec + 1) * 1000), to: iso((w.endSec + 1) * 1000) },
        distinct_ips: c.ips,
        ips: c.ipList,
        reasons: c.byReason,
        sample_event_ids: sample.map((s) => s.id),
      },
      eventReceivedAt: receivedAt,
    }
    if (apiKey) finding.api_key_id = apiKey
    if (account) finding.account_id = account
    if (ip) finding.client_ip = ip
    return finding
  })
}
