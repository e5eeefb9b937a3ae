/**
 * auth.success_after_failures (CONTRACT §5): a success on a key or user right after a burst
 * of its failures. For each type of `group_by` on its own: a success S (any event with
 * outcome success) fires when the failures since the entity's previous success (outcome
 * failure or denied, reason in `failure_reasons`) number at least `min_failures` within the
 * window before S, and the last of them is at most `success_within` before S. Failures
 * before an earlier success belong to that success: a client fleet with one broken host,
 * failing between its siblings' successes, is not a burst. Allowlisted events (address, key,
 * account, source) are neither failures nor successes.
 * Score: `scoreFromRatio(failures / min_failures)`.
 *
 * Order within the window matters, which per-second rollups cannot tell, so this rule reads
 * raw rows, but only where a finding is possible. Each tick with a success or a counted
 * failure asks the rollup (one query) which of the keys and users it touched have at least
 * `min_failures` failures around them. Only for those, and only when the batch brings one of
 * their successes or a late failure (arrived more than the rule's lateness after its time:
 * the success after it may already be stored), a second query reads their failures, and each
 * success that directly follows a failure, from `events` (by key on its sort key; by user,
 * over the span of the failures only). A live burst with no success yet costs one query a tick.
 * A success that arrives before failures preceding it by less than the lateness is not
 * judged: the failures are not late, and it is not in their batch.
 *
 * With engine memory (memory.ts), the counted failures themselves (per key and user, by
 * event id): the engine's warm-up reads those that arrived from `window + FUTURE_SKEW_SLACK_MS`
 * before its cursor on (detect_stream, arrival order), and every batch adds its own. A
 * success whose window lies inside that coverage and that has no remembered failure of its
 * key or user in its window cannot fire, and is left out before any query; in ordinary
 * traffic that is nearly every event, and the tick reads nothing. Exact as long as no
 * failure's event time is more than `FUTURE_SKEW_SLACK_MS` ahead of its arrival (a failure
 * that far ahead and arrived before the warm-up's start could be missed; clock.skew fires
 * long before a source drifts that far).
 */
import type { Detector, Finding, StreamEvent } from '../detector.js'
import { chTimeToMs } from '../engine.js'
import { builtinParams } from '../rules.js'
import { allowlistOf, allowlistedIpSql, type Allowlist } from './access-allowlist.js'
import { durationText, plural, reasonWord, scoreFromRatio } from './access-findings.js'
import { ADDRESS_TEXT_SQL, MATCHED_DENIALS_SQL, SAMPLE_SIZE } from './access-windows.js'
import { MEMORY_SLOT_LIMIT, type DetectorMemory } from '../memory.js'
import { DETECT_STREAM_RETENTION_MS } from '../engine.js'

/** How far ahead of its arrival an event's time is assumed never to be, for memory coverage. */
export const FUTURE_SKEW_SLACK_MS = 5 * 60_000
const COVERAGE = 'auth.success_after_failures'

/** Per `type|id`: counted failures by `source\0id` → event time. */
type FailureMemory = Map<string, Map<string, number>>

function remember(mem: FailureMemory, entity: string, eventKey: string, tsMs: number): void {
  let m = mem.get(entity)
  if (!m) {
    m = new Map()
    mem.set(entity, m)
  }
  m.set(eventKey, tsMs)
}

function failureMemory(memory: DetectorMemory): FailureMemory {
  return memory.slot<FailureMemory>(COVERAGE, () => new Map())
}

/** Forgets failures older than `beforeMs` (event time); coverage then starts there. */
function prune(memory: DetectorMemory, mem: FailureMemory, beforeMs: number): void {
  let size = 0
  for (const [entity, m] of mem) {
    for (const [k, t] of m) if (t < beforeMs) m.delete(k)
    if (m.size === 0) mem.delete(entity)
    else size += m.size
  }
  memory.narrow(COVERAGE, beforeMs)
  // A flood of failures: stop remembering, read storage as without memory.
  if (size > MEMORY_SLOT_LIMIT) {
    mem.clear()
    memory.narrow(COVERAGE, Number.POSITIVE_INFINITY)
  }
}

function hasFailureIn(mem: FailureMemory, entity: string, fromMs: number, toMs: number): boolean {
  const m = mem.get(entity)
  if (!m) return false
  for (const t of m.values()) if (t >= fromMs && t <= toMs) return true
  return false
}

const WARM_UP_SQL = `
SELECT source, id, toString(ts) AS ts, toString(received_at) AS receivedAt, action, outcome, reason, api_key_id, account_id, user_id,
  ${ADDRESS_TEXT_SQL} AS client_ip
FROM detect_stream
WHERE received_at >= fromUnixTimestamp64Milli({from:Int64}, 'UTC')
  AND outcome IN ('failure', 'denied') AND has({reasons:Array(String)}, reason)`

type AuthEntity = 'api_key' | 'user'

interface AuthRow {
  type: AuthEntity
  entity: string
  source: string
  id: string
  ts: string
  outcome: string
  reason: string
  ip: string
  api_key_id: string
  account_id: string
}

// Which keys and users have enough failures in their range to make a finding possible.
const CANDIDATES_SQL = `
SELECT key, toString(sum(arraySum(mapValues(hits)))) AS failures, toString(min(sec)) AS first, toString(max(sec)) AS last
FROM (
  SELECT concat(entity_type, '|', entity_id) AS key, toUnixTimestamp(bucket) AS sec, ${MATCHED_DENIALS_SQL} AS hits
  FROM rollup_denials_1s
  WHERE entity_type IN {types:Array(String)}
    AND bucket > toDateTime({lo:Int64}, 'UTC') AND bucket <= toDateTime({hi:Int64}, 'UTC')
    AND entity_id IN {entity_ids:Array(String)} AND key IN {ids:Array(String)}
    AND sec > transform(key, {ids:Array(String)}, {starts:Array(Int64)}, toInt64(0))
    AND sec <= transform(key, {ids:Array(String)}, {ends:Array(Int64)}, toInt64(0))
    AND notEmpty(hits)
)
GROUP BY key
HAVING sum(arraySum(mapValues(hits))) >= {min_failures:UInt32}`

// Their failures, and each success that directly follows one, in order. One part per type:
// the key part reads by the events' sort key, which an OR with the user part would lose.
function sequenceSql(n: number, type: AuthEntity): string {
  const p = (name: string, t: string) => `{p${n}_${name}:${t}}`
  const column = type === 'api_key' ? 'api_key_id' : 'user_id'
  return `
SELECT '${type}' AS type, entity, source, id, toString(ts) AS ts, outcome, reason, ip, api_key_id, account_id
FROM (
  SELECT ${column} AS entity, source, id, ts, outcome, reason, ${ADDRESS_TEXT_SQL} AS ip, api_key_id, account_id,
    lagInFrame(toString(outcome)) OVER (PARTITION BY ${column} ORDER BY ts, id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS previous
  FROM events
  WHERE ts > toDateTime(${p('lo', 'Int64')}, 'UTC') AND ts < toDateTime(${p('hi', 'Int64')} + 1, 'UTC')
    AND ${column} IN ${p('ids', 'Array(String)')}
    AND toUnixTimestamp(ts) > transform(${column}, ${p('ids', 'Array(String)')}, ${p('starts', 'Array(Int64)')}, toInt64(0))
    AND toUnixTimestamp(ts) <= transform(${column}, ${p('ids', 'Array(String)')}, ${p('ends', 'Array(Int64)')}, toInt64(0))
    AND (outcome = 'success' OR (outcome IN ('failure', 'denied') AND has({reasons:Array(String)}, reason)))
    AND NOT ${allowlistedIpSql(ADDRESS_TEXT_SQL)}
    AND NOT has({allow_keys:Array(String)}, api_key_id) AND NOT has({allow_accounts:Array(String)}, account_id)
    AND NOT has({allow_sources:Array(String)}, source)
)
WHERE outcome != 'success' OR previous IN ('failure', 'denied')`
}

const min = (xs: readonly number[]) => xs.reduce((a, b) => Math.min(a, b))
const max = (xs: readonly number[]) => xs.reduce((a, b) => Math.max(a, b))

interface Timed extends AuthRow {
  tsMs: number
}

function judgeable(e: StreamEvent, reasons: ReadonlySet<string>, allow: Allowlist): boolean {
  if (allow.event(e)) return false
  return e.outcome === 'success' || ((e.outcome === 'failure' || e.outcome === 'denied') && reasons.has(e.reason))
}

export const successAfterFailuresDetector: Detector = {
  ruleId: 'auth.success_after_failures',
  async warmUp({ store, rule, memory, resumeFromMs }) {
    const p = builtinParams(rule, 'auth.success_after_failures')
    const allow = allowlistOf(rule)
    const reasons = new Set<string>(p.failure_reasons)
    // Failures that arrived from `fromMs` on are all remembered (read here, or handed over by
    // the stream later); one with an event time from `fromMs + FUTURE_SKEW_SLACK_MS` on cannot
    // have arrived before. detect_stream keeps a few days: an engine resuming from further
    // back (or starting afresh) is covered only from the oldest arrival it still holds.
    const fromMs = Math.max(resumeFromMs - rule.windowMs - FUTURE_SKEW_SLACK_MS, Date.now() - DETECT_STREAM_RETENTION_MS + 60 * 60_000)
    const rows = await store.query<Omit<StreamEvent, 'tsMs'>>(WARM_UP_SQL, { from: Math.floor(fromMs), reasons: p.failure_reasons })
    const mem = failureMemory(memory)
    for (const r of rows) {
      const e = { ...r, tsMs: chTimeToMs(r.ts) } as StreamEvent
      if (!judgeable(e, reasons, allow)) continue
      for (const type of p.group_by) {
        const id = type === 'api_key' ? e.api_key_id : e.user_id
        if (id) remember(mem, `${type}|${id}`, `${e.source}\u0000${e.id}`, e.tsMs)
      }
    }
    memory.cover(COVERAGE, fromMs + FUTURE_SKEW_SLACK_MS)
  },
  async detect(allEvents, ctx) {
    const { rule, store, memory } = ctx
    const p = builtinParams(rule, 'auth.success_after_failures')
    const allow = allowlistOf(rule)
    const reasons = new Set<string>(p.failure_reasons)
    const spanSec = Math.ceil(rule.windowMs / 1000)
    let events = allEvents
    const covered = memory?.coveredFromMs(COVERAGE)
    if (memory && covered !== undefined) {
      const mem = failureMemory(memory)
      for (const e of allEvents) {
        if (e.outcome === 'success' || !judgeable(e, reasons, allow)) continue
        for (const type of p.group_by) {
          const id = type === 'api_key' ? e.api_key_id : e.user_id
          if (id) remember(mem, `${type}|${id}`, `${e.source}\u0000${e.id}`, e.tsMs)
        }
      }
      // Whole seconds around the window, as the rollup read below rounds them.
      const before = rule.windowMs + 2000
      events = allEvents.filter((e) => {
        if (e.outcome !== 'success') return true
        if (e.tsMs - before < covered) return true
        for (const type of p.group_by) {
          const id = type === 'api_key' ? e.api_key_id : e.user_id
          if (id && hasFailureIn(mem, `${type}|${id}`, e.tsMs - before, e.tsMs + 1000)) return true
        }
        return false
      })
      // Forget by arrival (not event time, which a source sets): what a success arriving
      // up to an hour late could still need is kept; one arriving later reads storage.
      const last = allEvents[allEvents.length - 1]
      const horizon = last ? Date.parse(last.receivedAt) - rule.windowMs - rule.latenessMs - 60 * 60_000 : Number.NaN
      if (horizon > covered + 60_000) prune(memory, mem, horizon)
    }

    // Per key or user (`type|id`), every second a finding involving a batch event can
    // touch: a success's window before it; for a failure, the window after it in which a
    // success may count it. And whether the batch can complete a finding: one of its
    // successes, or a late failure.
    interface Touched {
      type: AuthEntity
      id: string
      start: number
      end: number
      needsSequence: boolean
    }
    const touched = new Map<string, Touched>()
    for (const type of p.group_by) {
      for (const e of events) {
        const id = type === 'api_key' ? e.api_key_id : e.user_id
        if (!id || !judgeable(e, reasons, allow)) continue
        const sec = Math.floor(e.tsMs / 1000)
        const completes = e.outcome === 'success' || Date.parse(e.receivedAt) - e.tsMs > rule.latenessMs
        const key = `${type}|${id}`
        const t = touched.get(key)
        if (t) {
          t.start = Math.min(t.start, sec - spanSec - 1)
          t.end = Math.max(t.end, sec + spanSec)
          t.needsSequence ||= completes
        } else touched.set(key, { type, id, start: sec - spanSec - 1, end: sec + spanSec, needsSequence: completes })
      }
    }
    if (touched.size === 0) return []

    const list = [...touched.values()]
    const candidates = await store.query<{ key: string; failures: string; first: string; last: string }>(CANDIDATES_SQL, {
      reasons: p.failure_reasons,
      min_failures: p.min_failures,
      ...allow.params,
      types: [...new Set(list.map((t) => t.type))],
      entity_ids: [...new Set(list.map((t) => t.id))],
      ids: [...touched.keys()],
      starts: list.map((t) => t.start),
      ends: list.map((t) => t.end),
      lo: min(list.map((t) => t.start)),
      hi: max(list.map((t) => t.end)),
    })

    // Raw rows only from the first failure to the last one plus success_within: no success
    // outside that span can fire.
    const withinSec = Math.ceil(p.success_within / 1000)
    const parts = new Map<AuthEntity, Array<{ id: string; start: number; end: number }>>()
    for (const c of candidates) {
      const t = touched.get(c.key)
      if (!t?.needsSequence) continue
      const range = { id: t.id, start: Math.max(t.start, Number(c.first) - 1), end: Math.min(t.end, Number(c.last) + withinSec + 1) }
      const part = parts.get(t.type)
      if (part) part.push(range)
      else parts.set(t.type, [range])
    }
    if (parts.size === 0) return []
    const params: Record<string, unknown> = { reasons: p.failure_reasons, ...allow.params }
    const types = [...parts.keys()]
    types.forEach((type, n) => {
      const ranges = parts.get(type) as Array<{ id: string; start: number; end: number }>
      Object.assign(params, {
        [`p${n}_ids`]: ranges.map((r) => r.id),
        [`p${n}_starts`]: ranges.map((r) => r.start),
        [`p${n}_ends`]: ranges.map((r) => r.end),
        [`p${n}_lo`]: min(ranges.map((r) => r.start)),
        [`p${n}_hi`]: max(ranges.map((r) => r.end)),
      })
    })
    const rows = await store.query<AuthRow>(types.map((type, n) => sequenceSql(n, type)).join('\nUNION ALL\n'), params)
    if (rows.length === 0) return []

    const idOf = (e: { source: string; id: string }) => `${e.source}\u0000${e.id}`
    const batch = new Map(events.map((e) => [idOf(e), e]))
    const byEntity = new Map<string, Timed[]>()
    // `events` collapses a re-sent id only when its parts merge; until then it is still one event.
    const seen = new Set<string>()
    for (const r of rows) {
      const key = `${r.type}\u0000${r.entity}`
      if (seen.has(`${key}\u0000${idOf(r)}`)) continue
      seen.add(`${key}\u0000${idOf(r)}`)
      const list = byEntity.get(key)
      const row = { ...r, tsMs: chTimeToMs(r.ts) }
      if (list) list.push(row)
      else byEntity.set(key, [row])
    }

    const findings: Finding[] = []
    for (const list of byEntity.values()) {
      list.sort((a, b) => a.tsMs - b.tsMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      let burst: Timed[] = []
      for (const r of list) {
        if (r.outcome !== 'success') {
          burst.push(r)
          continue
        }
        const failures = burst.filter((f) => f.tsMs > r.tsMs - rule.windowMs)
        burst = []
        const last = failures[failures.length - 1]
        if (!last || failures.length < p.min_failures || r.tsMs - last.tsMs > p.success_within) continue
        if (!batch.has(idOf(r)) && !failures.some((f) => batch.has(idOf(f)))) continue
        findings.push(toFinding(r, failures, (e) => batch.get(idOf(e)), rule, p))
      }
    }
    return findings
  },
}

function toFinding(
  success: Timed,
  failures: readonly Timed[],
  inBatch: (e: Timed) => StreamEvent | undefined,
  rule: { id: string; severity: Finding['severity']; windowMs: number },
  p: { min_failures: number; success_within: number },
): Finding {
  const first = failures[0] as Timed
  const last = failures[failures.length - 1] as Timed
  const byReason: Record<string, number> = {}
  for (const f of failures) byReason[f.reason] = (byReason[f.reason] ?? 0) + 1
  const failureIps = [...new Set(failures.map((f) => f.ip).filter(Boolean))].sort()
  const gapMs = success.tsMs - last.tsMs
  const label = success.type === 'api_key' ? `Key ${success.entity}` : `User ${success.entity}`
  const where = !success.ip
    ? ''
    : failureIps.includes(success.ip)
      ? `; the success came from one of those addresses (${success.ip})`
      : `; the success came from another address (${success.ip})`
  let receivedAt: string | undefined
  for (const e of [success, ...failures]) {
    const b = inBatch(e)
    if (b && (receivedAt === undefined || Date.parse(b.receivedAt) > Date.parse(receivedAt))) receivedAt = b.receivedAt
  }
  const finding: Finding = {
    rule: rule.id,
    severity: rule.severity,
    score: scoreFromRatio(failures.length / p.min_failures),
    entity: { type: success.type, id: success.entity },
    firstSeenMs: first.tsMs,
    lastSeenMs: success.tsMs,
    windowStartMs: first.tsMs,
    count: 1,
    summary:
      `${label} authenticated ${durationText(gapMs)} after ${failures.length} ${reasonWord(byReason, 'authentication')} failures` +
      `${failureIps.length > 0 ? ` from ${plural(failureIps.length, 'IP')}` : ''} in ${durationText(last.tsMs - first.tsMs)}${where}`,
    evidence: {
      value: failures.length,
      threshold: p.min_failures,
      success_within_ms: p.success_within,
      gap_ms: Math.round(gapMs),
      window_ms: rule.windowMs,
      window: { from: new Date(first.tsMs).toISOString(), to: new Date(success.tsMs).toISOString() },
      reasons: byReason,
      distinct_ips: failureIps.length,
      ips: failureIps.slice(0, 10),
      success_event_id: success.id,
      success_ip: success.ip,
      sample_event_ids: [...failures.slice(-(SAMPLE_SIZE - 1)).map((f) => f.id), success.id],
    },
    ...(receivedAt ? { eventReceivedAt: receivedAt } : {}),
  }
  if (success.api_key_id) finding.api_key_id = success.api_key_id
  if (success.account_id) finding.account_id = success.account_id
  if (success.ip) finding.client_ip = success.ip
  return finding
}
