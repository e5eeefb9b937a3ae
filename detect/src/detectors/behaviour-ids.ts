/**
 * ids.injection: SQL injection, XSS, path traversal and command-injection patterns
 * (`scanForInjection`) in `http.path` and `attrs` values, per entity (the rule's: an IP by
 * default) within the window.
 *
 * Each event of the batch is scanned once. An entity fires when, at one of its matching
 * events, at least `min_matches` matching events fall in the window ending there. With
 * `min_matches` 1 (the default) the batch alone decides and no query runs; above 1, the
 * entity's other events of those windows are read from storage and scanned too (one query),
 * because a window's matches may have arrived over several ticks.
 */
import type { Store } from '@vigil/core'
// Excerpts are decoded text: a secret that was percent-encoded in the path is plain there,
// so it is masked again before it reaches alert evidence.
import { maskText } from '@vigil/core'
import type { Detector, EntityType, Finding, StreamEvent } from '../detector.js'
import { builtinParams } from '../rules.js'
import { chTimeToMs } from '../engine.js'
import { networkOf } from '../geo-math.js'
import { IDS_CATEGORIES, scanForInjection, type IdsCategory, type IdsMatch } from '../ids-patterns.js'
import { allowlistOf, bucketStart, entry, EventGroup, fmtNum, msToChTime, pastThreshold } from './behaviour-common.js'

interface Hit {
  id: string
  tsMs: number
  receivedAt?: string
  field: string
  matches: IdsMatch[]
  event?: StreamEvent
}

type Scannable = Pick<StreamEvent, 'http_path' | 'attrs'>

function scan(e: Scannable, fields: ReadonlySet<string>, categories: readonly IdsCategory[], passes: number): { field: string; matches: IdsMatch[] } | undefined {
  const opts = { categories, maxDecodePasses: passes }
  if (fields.has('http.path') && e.http_path !== '') {
    const m = scanForInjection(e.http_path, opts)
    if (m.length > 0) return { field: 'http.path', matches: m }
  }
  if (fields.has('attrs')) {
    for (const [k, v] of Object.entries(e.attrs)) {
      const m = scanForInjection(v, opts)
      if (m.length > 0) return { field: `attrs.${k}`, matches: m }
    }
  }
  return undefined
}

/** Who an event is about, for the rule's entity type; falls back so no match goes unreported. */
function entityOf(e: StreamEvent, type: EntityType): { type: EntityType; id: string } {
  switch (type) {
    case 'ip':
      if (e.client_ip) return { type, id: e.client_ip }
      break
    case 'net':
      if (e.client_ip) return { type, id: networkOf(e.client_ip) }
      break
    case 'api_key':
      if (e.api_key_id) return { type, id: e.api_key_id }
      break
    case 'account':
      if (e.account_id) return { type, id: e.account_id }
      break
    case 'user':
      if (e.user_id) return { type, id: e.user_id }
      break
    case 'source':
      return { type, id: e.source }
  }
  if (e.client_ip) return { type: 'ip', id: e.client_ip }
  if (e.api_key_id) return { type: 'api_key', id: e.api_key_id }
  return { type: 'source', id: e.source }
}

const IP_TEXT = `if(client_ip = toIPv6('::'), '', replaceRegexpOne(IPv6NumToString(client_ip), '^::ffff:(\\\\d+\\\\.\\\\d+\\\\.\\\\d+\\\\.\\\\d+)$', '\\\\1'))`
// How storage spells each entity; `net` as rollup_entity_1s_net_mv does (/24, /48).
const ENTITY_SQL: Record<EntityType, string> = {
  ip: IP_TEXT,
  net: `if(startsWith(IPv6NumToString(client_ip), '::ffff:'), concat(IPv4NumToString(toIPv4(bitAnd(toUInt32(toIPv4(replaceOne(IPv6NumToString(client_ip), '::ffff:', ''))), 4294967040))), '/24'), concat(IPv6NumToString(IPv6CIDRToRange(client_ip, 48).1), '/48'))`,
  api_key: 'api_key_id',
  account: 'account_id',
  user: 'user_id',
  source: 'source',
}

interface StoredRow {
  et: string
  eid: string
  id: string
  tt: string
  source: string
  api_key_id: string
  account_id: string
  ip: string
  geo_country: string
  http_path: string
  attrs: Record<string, string>
}

/** Cap on stored events read for the windows of entities close to `min_matches`. */
const STORED_CAP = 5000

async function readStored(store: Store, wanted: ReadonlyMap<string, { type: EntityType; id: string }>, fromMs: number, toMs: number): Promise<StoredRow[]> {
  const byType = new Map<EntityType, string[]>()
  for (const ent of wanted.values()) entry(byType, ent.type, () => []).push(ent.id)
  const parts: string[] = []
  const params: Record<string, unknown> = { from: msToChTime(fromMs), to: msToChTime(toMs), cap: STORED_CAP }
  for (const [type, ids] of byType) {
    params[`ids_${type}`] = ids
    parts.push(`(${ENTITY_SQL[type]} IN {ids_${type}:Array(String)})`)
  }
  const etExpr = `multiIf(${[...byType.keys()].map((t) => `${ENTITY_SQL[t]} IN {ids_${t}:Array(String)}, '${t}'`).join(', ')}, '')`
  const eidExpr = `multiIf(${[...byType.keys()].map((t) => `${ENTITY_SQL[t]} IN {ids_${t}:Array(String)}, ${ENTITY_SQL[t]}`).join(', ')}, '')`
  return store.query<StoredRow>(
    `SELECT ${etExpr} AS et, ${eidExpr} AS eid, id, toString(ts) AS tt, source, api_key_id, account_id, ${IP_TEXT} AS ip, geo_country, http_path, attrs
     FROM events
     WHERE ts >= {from:DateTime64(9, 'UTC')} AND ts <= {to:DateTime64(9, 'UTC')} AND (${parts.join(' OR ')})
     LIMIT {cap:UInt32}`,
    params,
  )
}

export const idsInjection: Detector = {
  ruleId: 'ids.injection',
  async detect(events, { store, rule }) {
    const p = builtinParams(rule, 'ids.injection')
    const allowed = allowlistOf(rule)
    const fields = new Set<string>(p.fields)
    const categories = IDS_CATEGORIES.filter((c) => p.categories[c])
    if (categories.length === 0) return []

    const hits = new Map<string, Hit[]>()
    const entities = new Map<string, { type: EntityType; id: string }>()
    const batchIds = new Set<string>()
    for (const e of events) {
      if (allowed(e)) continue
      const found = scan(e, fields, categories, p.decode_passes)
      if (!found) continue
      const ent = entityOf(e, rule.entity)
      const k = `${ent.type}\u0000${ent.id}`
      entities.set(k, ent)
      entry(hits, k, () => []).push({ id: e.id, tsMs: e.tsMs, receivedAt: e.receivedAt, field: found.field, matches: found.matches, event: e })
      batchIds.add(`${e.source}\u0000${e.id}`)
    }
    if (hits.size === 0) return []

    if (p.min_matches > 1) {
      // Entities short of min_matches within the batch: their earlier (or late-arriving
      // later) matches in the same windows are in storage, not in this batch.
      const short = new Map([...entities].filter(([k]) => (hits.get(k) as Hit[]).length < p.min_matches))
      if (short.size > 0) {
        const times = [...short.keys()].flatMap((k) => (hits.get(k) as Hit[]).map((h) => h.tsMs))
        const rows = await readStored(store, short, Math.min(...times) - rule.windowMs, Math.max(...times) + rule.windowMs)
        for (const r of rows) {
          if (batchIds.has(`${r.source}\u0000${r.id}`)) continue
          batchIds.add(`${r.source}\u0000${r.id}`)
          if (allowed({ ...r, client_ip: r.ip })) continue
          const found = scan(r, fields, categories, p.decode_passes)
          if (found) entry(hits, `${r.et}\u0000${r.eid}`, () => []).push({ id: r.id, tsMs: chTimeToMs(r.tt), field: found.field, matches: found.matches })
        }
      }
    }

    const findings: Finding[] = []
    for (const [k, list] of hits) {
      const ent = entities.get(k)
      if (!ent) continue
      list.sort((a, b) => a.tsMs - b.tsMs)
      // Sliding window (t − window, t] ending at each of the batch's matches.
      let from = 0
      let firing: Hit[] | undefined
      for (let i = 0; i < list.length; i++) {
        const h = list[i] as Hit
        while ((list[from] as Hit).tsMs <= h.tsMs - rule.windowMs) from++
        if (h.event && i - from + 1 >= p.min_matches) {
          // The first window that fires and every later match: one finding per entity a
          // tick; matches past the window land in the same alert as repeats would.
          firing = list.slice(from)
          break
        }
      }
      if (!firing) continue
      findings.push(toFinding(rule, ent, firing, p.min_matches))
    }
    return findings
  },
}

function toFinding(rule: { severity: Finding['severity']; windowMs: number }, ent: { type: EntityType; id: string }, hits: readonly Hit[], minMatches: number): Finding {
  const group = new EventGroup()
  const categories = new Map<string, number>()
  const patterns = new Set<string>()
  let newEvents = 0
  for (const h of hits) {
    group.add({ id: h.id, tsMs: h.tsMs, receivedAt: h.receivedAt ?? '' })
    if (h.event) newEvents++
    for (const m of h.matches) {
      categories.set(m.category, (categories.get(m.category) ?? 0) + 1)
      patterns.add(m.pattern)
    }
  }
  const withEvent = hits.filter((h) => h.event)
  const firstNew = withEvent[0] as Hit
  const lastNew = withEvent[withEvent.length - 1] as Hit
  const e = firstNew.event as StreamEvent
  const top = firstNew.matches[0] as IdsMatch
  const cats = [...categories.keys()].map((c) => c.replace('_', ' ')).join(', ')
  return {
    rule: 'ids.injection',
    severity: rule.severity,
    score: pastThreshold(hits.length, minMatches),
    entity: ent,
    ...(e.api_key_id ? { api_key_id: e.api_key_id } : {}),
    ...(e.account_id ? { account_id: e.account_id } : {}),
    ...(e.client_ip ? { client_ip: e.client_ip } : {}),
    firstSeenMs: group.firstMs,
    lastSeenMs: group.lastMs,
    windowStartMs: bucketStart(group.firstMs, rule.windowMs),
    // Only the batch's own matches: a stored one was counted when it arrived.
    count: newEvents,
    summary: `${ent.type === 'ip' ? 'Address' : ent.type === 'api_key' ? 'Key' : ent.type[0]?.toUpperCase() + ent.type.slice(1)} ${ent.id} sent ${fmtNum(hits.length, 0)} request${hits.length === 1 ? '' : 's'} with ${cats} patterns (first: ${top.pattern} in ${firstNew.field}).`,
    evidence: {
      value: hits.length,
      threshold: minMatches,
      categories: Object.fromEntries(categories),
      patterns: [...patterns],
      matches: hits.slice(0, 10).map((h) => ({ event_id: h.id, field: h.field, patterns: h.matches.map((m) => m.pattern), excerpt: maskText((h.matches[0] as IdsMatch).excerpt) })),
      sample_event_ids: group.ids,
    },
    ...(lastNew.receivedAt ? { eventReceivedAt: lastNew.receivedAt } : {}),
  }
}
