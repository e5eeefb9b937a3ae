/**
 * Backtest (`vigil detect backtest`): the same detectors over stored history, in event-time
 * order, answering what would have fired. Nothing is written and nobody is alerted: findings
 * are merged in memory with the same suppression rule the alert store applies, and escalated
 * as the engine and the alert store would: each finding by its rule's `escalate` steps, and a
 * merged one again by its summed count and highest score.
 *
 * Detectors read rollups that also hold events after the ones being replayed; that is safe
 * because every detector bounds its reads by the judged event's own time (the Detector
 * contract), so the future does not leak into the past.
 */
import type { Logger } from 'pino'
import type { Store } from '@vigil/core'
import { severityRank } from '@vigil/core'
import type { Detector, EngineRule, Finding, StreamEvent } from './detector.js'
import { escalateFinding, escalationFor, type Escalation } from './escalation.js'
import { chToIso } from './alerts.js'
import { chTimeToMs } from './engine.js'

export interface BacktestAlert {
  rule: string
  severity: string
  score: number
  entity: { type: string; id: string }
  first_seen: string
  last_seen: string
  count: number
  summary: string
  /** When the rule's `escalate` steps raised the severity: from, to, and by which step. */
  escalated?: Escalation
}

export interface BacktestResult {
  from: string
  to: string
  events: number
  alerts: BacktestAlert[]
  byRule: Record<string, number>
}

// `ts` is selected as text under its own name; WHERE and ORDER BY must mean the column.
const PAGE_SQL = `
SELECT toString(received_at) AS receivedAt, toString(ts) AS ts, source, id, action, outcome, reason,
  api_key_id, account_id, user_id,
  if(client_ip = toIPv6('::'), '', replaceRegexpOne(IPv6NumToString(client_ip), '^::ffff:(\\\\d+\\\\.\\\\d+\\\\.\\\\d+\\\\.\\\\d+)$', '\\\\1')) AS client_ip,
  http_path, attrs, order_qty, order_notional, order_symbol, order_currency, geo_country, geo_city, geo_lat, geo_lon, clock_skew_ms
FROM events FINAL
WHERE ts >= {from:DateTime64(9, 'UTC')} AND ts < {to:DateTime64(9, 'UTC')}
  AND (ts, id) > ({afterTs:DateTime64(9, 'UTC')}, {afterId:String})
ORDER BY ts, id
LIMIT {limit:UInt32}
SETTINGS prefer_column_name_to_alias = 1`

const toCh = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '')

export async function backtest(
  store: Store,
  rules: readonly EngineRule[],
  detectors: readonly Detector[],
  opts: { fromMs: number; toMs: number; rule?: string; logger?: Logger; pageSize?: number },
): Promise<BacktestResult> {
  const active = rules.filter((r) => (opts.rule ? r.id === opts.rule : r.enabled))
  const pairs = active.flatMap((rule) => {
    const d = detectors.find((x) => x.ruleId === rule.id)
    return d ? [{ rule, d }] : []
  })
  const open = new Map<string, { f: Finding; suppressionMs: number }>()
  const done: Finding[] = []
  let events = 0
  let afterTs = '1970-01-01 00:00:00'
  let afterId = ''
  const limit = opts.pageSize ?? 10_000
  for (;;) {
    type Row = Omit<StreamEvent, 'tsMs'>
    const rows = await store.query<Row>(PAGE_SQL, { from: toCh(opts.fromMs), to: toCh(opts.toMs), afterTs, afterId, limit })
    if (rows.length === 0) break
    const batch: StreamEvent[] = rows.map((r) => ({ ...r, tsMs: chTimeToMs(r.ts), ts: chToIso(r.ts), receivedAt: chToIso(r.receivedAt) }))
    events += batch.length
    for (const { rule, d } of pairs) {
      let findings: Finding[]
      try {
        findings = await d.detect(batch, { store, rule })
      } catch (err) {
        opts.logger?.error({ rule: rule.id, error: (err as Error).message }, 'detector failed during backtest')
        continue
      }
      for (const found of findings) {
        const f = escalateFinding(found, rule)
        const key = `${f.rule}\u0000${f.entity.type}\u0000${f.entity.id}`
        const cur = open.get(key)
        if (cur && f.firstSeenMs - cur.f.lastSeenMs <= rule.suppressionMs) {
          if (f.lastSeenMs > cur.f.lastSeenMs) {
            const merged = { ...cur.f, lastSeenMs: f.lastSeenMs, count: cur.f.count + f.count, score: Math.max(cur.f.score, f.score) }
            const step = escalationFor(rule.escalate, rule.severity, merged.count, merged.score)
            cur.f = step && severityRank(step.to) > severityRank(merged.severity) ? { ...merged, severity: step.to, evidence: { ...merged.evidence, escalated: step } } : merged
          }
          continue
        }
        if (cur) done.push(cur.f)
        open.set(key, { f, suppressionMs: rule.suppressionMs })
      }
    }
    const last = rows[rows.length - 1] as Row
    afterTs = last.ts
    afterId = last.id
    if (rows.length < limit) break
  }
  for (const { f } of open.values()) done.push(f)
  done.sort((a, b) => a.firstSeenMs - b.firstSeenMs)
  const byRule: Record<string, number> = {}
  for (const f of done) byRule[f.rule] = (byRule[f.rule] ?? 0) + 1
  return {
    from: new Date(opts.fromMs).toISOString(),
    to: new Date(opts.toMs).toISOString(),
    events,
    byRule,
    alerts: done.map((f) => ({
      rule: f.rule,
      severity: f.severity,
      score: Math.round(f.score * 100) / 100,
      entity: f.entity,
      first_seen: new Date(f.firstSeenMs).toISOString(),
      last_seen: new Date(f.lastSeenMs).toISOString(),
      count: f.count,
      summary: f.summary,
      ...(f.evidence.escalated ? { escalated: f.evidence.escalated as Escalation } : {}),
    })),
  }
}
