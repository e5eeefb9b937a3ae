/**
 * geo.new_country and geo.impossible_travel: where a key is used from, in event time.
 *
 * geo.new_country reads `key_geo` (per key and country: first event time, events). key_geo
 * is filled at insert, so the country of the event being judged is always in it; what tells
 * "new" is whether its first_seen is the event itself (first_seen ≥ ts). A country first
 * seen before ts but more than history_days before it may have gone quiet since: only then
 * `key_geo_1d` (migration 003) says, to the day, whether it was used within history_days.
 * History size and age are counted before the event: the batch's events at or after it are
 * taken off key_geo's total. For a late event, stored uses after it cannot be told apart
 * and still count: min_history_events is then judged on an upper bound.
 * Queries per tick, only when the batch holds located key events: one, plus one when a
 * country was first seen more than history_days ago.
 * With engine memory (memory.ts), per key and country the earliest and latest event times the
 * engine has learnt (from key_geo and from every located event it was handed, allowlisted or
 * not): an event with a remembered use of its key from its country before it and within
 * history_days is skipped before any query. Exact: that use is stored, so key_geo (and
 * key_geo_1d) would call the country known too. In steady traffic nearly every event is
 * skipped and the detector reads nothing; the engine's warm-up reads key_geo once at start.
 *
 * geo.impossible_travel compares consecutive located uses of a key in event time: the
 * batch's, plus the key's last located use before the batch's earliest (read from events,
 * within the window). A request refused for one of `ignore_reasons` (a forged signature, an
 * unknown key) is not a use: its sender did not hold the key. Queries per tick, only when
 * the batch holds such uses: one.
 * With engine memory, per key its newest located use the engine knows (from that read and from
 * the stream): a key whose batch uses are all later than it takes it as the previous use and
 * costs no query. Exact but for one race: a use stored between the remembered one and the
 * batch's earliest that the engine has not been handed yet (a later arrival, or a row that
 * became visible behind the cursor) is not the previous use of that batch; it is judged against
 * its own previous use when it arrives, so at most the one leg from it to the next use is lost.
 */
import type { Store } from '@vigil/core'
import type { Detector, Finding, StreamEvent } from '../detector.js'
import { builtinParams } from '../rules.js'
import { chTimeToMs } from '../engine.js'
import { haversineKm, impliedSpeedKmh } from '../geo-math.js'
import {
  allowlistOf,
  bucketStart,
  DAY_MS,
  entry,
  EventGroup,
  fmtDuration,
  fmtNum,
  HOUR_MS,
  msToChTime,
  msToMicros,
  pastThreshold,
  round,
} from './behaviour-common.js'
import { MEMORY_SLOT_LIMIT } from '../memory.js'

// ---------------------------------------------------------------------------------------
// geo.new_country

interface KeyGeoRow {
  k: string
  c: string
  first: string
  events: string
}

interface CountryHistory {
  firstMs: number
  events: number
}

async function readKeyGeo(store: Store, keys: readonly string[]): Promise<Map<string, Map<string, CountryHistory>>> {
  const rows = await store.query<KeyGeoRow>(
    `SELECT api_key_id AS k, country AS c, toString(min(first_seen)) AS first, toString(sum(events)) AS events
     FROM key_geo WHERE api_key_id IN {keys:Array(String)} GROUP BY k, c`,
    { keys },
  )
  const out = new Map<string, Map<string, CountryHistory>>()
  for (const r of rows) entry(out, r.k, () => new Map()).set(r.c, { firstMs: chTimeToMs(r.first), events: Number(r.events) })
  return out
}

/** For (key, country, before) triples: the time of the key's last use from the country before `before`, within the days read. */
async function readRecentUse(
  store: Store,
  asks: ReadonlyArray<{ key: string; country: string; fromMs: number; beforeMs: number }>,
): Promise<Map<string, number>> {
  // One entry per pair, the first ask's (as indexOf read them before): transform() looks a
  // pair up by hash, where indexOf scanned the whole array for every row.
  const first = new Map<string, { fromMs: number; beforeMs: number }>()
  for (const a of asks) if (!first.has(`${a.key}\u0000${a.country}`)) first.set(`${a.key}\u0000${a.country}`, a)
  const pairs = [...first.keys()]
  const uniq = [...first.values()]
  const rows = await store.query<{ pair: string; last: string }>(
    `SELECT concat(api_key_id, '\\0', country) AS pair, toString(max(first_seen)) AS last
     FROM key_geo_1d
     WHERE api_key_id IN {keys:Array(String)} AND day >= toDate({from:DateTime64(9, 'UTC')}) AND day <= toDate({to:DateTime64(9, 'UTC')})
       AND pair IN {pairs:Array(String)}
       AND toUnixTimestamp64Micro(first_seen) < transform(pair, {pairs:Array(String)}, {befores:Array(Int64)}, toInt64(0))
       AND day >= toDate(fromUnixTimestamp64Micro(transform(pair, {pairs:Array(String)}, {froms:Array(Int64)}, toInt64(0)), 'UTC'))
     GROUP BY pair`,
    {
      keys: [...new Set(asks.map((a) => a.key))],
      pairs,
      befores: uniq.map((a) => msToMicros(a.beforeMs)),
      froms: uniq.map((a) => msToMicros(a.fromMs)),
      from: msToChTime(Math.min(...asks.map((a) => a.fromMs))),
      to: msToChTime(Math.max(...asks.map((a) => a.beforeMs))),
    },
  )
  return new Map(rows.map((r) => [r.pair, chTimeToMs(r.last)]))
}

interface NewUse {
  event: StreamEvent
  priorEvents: number
  ageMs: number
  known: string[]
}

/** Per key, per country: the earliest and latest event times known to be stored. */
type KnownUses = Map<string, Map<string, { firstMs: number; lastMs: number }>>

function learnUse(known: KnownUses, key: string, country: string, tsMs: number): void {
  let countries = known.get(key)
  if (!countries) {
    if (known.size >= MEMORY_SLOT_LIMIT) known.clear()
    countries = new Map()
    known.set(key, countries)
  }
  const u = countries.get(country)
  if (!u) countries.set(country, { firstMs: tsMs, lastMs: tsMs })
  else {
    if (tsMs < u.firstMs) u.firstMs = tsMs
    if (tsMs > u.lastMs) u.lastMs = tsMs
  }
}

/** A remembered use of the key from the event's country before it, within `historyMs`. */
function knownBefore(known: KnownUses, e: StreamEvent, historyMs: number): boolean {
  const u = known.get(e.api_key_id)?.get(e.geo_country)
  if (!u) return false
  const inRange = (t: number) => t < e.tsMs && t >= e.tsMs - historyMs
  return inRange(u.firstMs) || inRange(u.lastMs)
}

export const geoNewCountry: Detector = {
  ruleId: 'geo.new_country',
  // Every key's countries with their first and last use, so that the first tick after a
  // start does not read key_geo for every key it meets (both times are real stored uses).
  async warmUp({ store, memory }) {
    const known = memory.slot<KnownUses>('geo.new_country', () => new Map())
    const rows = await store.query<{ k: string; c: string; f: string; l: string }>(
      `SELECT api_key_id AS k, country AS c, toString(min(first_seen)) AS f, toString(max(last_seen)) AS l
       FROM key_geo WHERE country != '' GROUP BY k, c LIMIT {n:UInt32}`,
      { n: MEMORY_SLOT_LIMIT },
    )
    for (const r of rows) {
      learnUse(known, r.k, r.c, chTimeToMs(r.f))
      learnUse(known, r.k, r.c, chTimeToMs(r.l))
    }
  },
  async detect(events, { store, rule, memory }) {
    const p = builtinParams(rule, 'geo.new_country')
    const allowed = allowlistOf(rule)
    const historyMs = p.history_days * DAY_MS
    const known = memory?.slot<KnownUses>('geo.new_country', () => new Map())
    let located = events.filter((e) => e.api_key_id !== '' && e.geo_country !== '' && !allowed(e))
    if (known) {
      located = located.filter((e) => !knownBefore(known, e, historyMs))
      // Learnt after the check: an event is never its own history.
      for (const e of events) if (e.api_key_id !== '' && e.geo_country !== '') learnUse(known, e.api_key_id, e.geo_country, e.tsMs)
    }
    if (located.length === 0) return []
    located.sort((a, b) => a.tsMs - b.tsMs)

    // Every located event of the batch, allowlisted or not, is in key_geo's totals.
    const batchTimes = new Map<string, number[]>()
    for (const e of events) if (e.api_key_id !== '' && e.geo_country !== '') entry(batchTimes, e.api_key_id, () => []).push(e.tsMs)
    const geo = await readKeyGeo(store, [...new Set(located.map((e) => e.api_key_id))])
    if (known) for (const [key, countries] of geo) for (const [country, h] of countries) learnUse(known, key, country, h.firstMs)

    const candidates: NewUse[] = []
    const ambiguous: Array<{ use: NewUse; fromMs: number }> = []
    const lastInBatch = new Map<string, number>()
    for (const e of located) {
      const pair = `${e.api_key_id}\u0000${e.geo_country}`
      const prevInBatch = lastInBatch.get(pair)
      lastInBatch.set(pair, e.tsMs)
      if (prevInBatch !== undefined && prevInBatch < e.tsMs && prevInBatch >= e.tsMs - historyMs) continue
      const countries = geo.get(e.api_key_id)
      // Views fill their tables one after another during an insert, so the rows of the
      // insert that brought this event may not be readable yet. A key with no row at all has
      // no history to judge by: skipped. A key with rows but none for this country: earlier
      // inserts are all readable, so the country is first used in this one — new, at the
      // event (and key_geo's totals do not hold this insert's events to take off).
      if (!countries) continue
      const seen = countries.get(e.geo_country)
      const mine = seen ?? { firstMs: e.tsMs, events: 0 }
      if (mine.firstMs < e.tsMs && mine.firstMs >= e.tsMs - historyMs) continue
      let keyFirst = Number.POSITIVE_INFINITY
      let total = 0
      for (const h of countries.values()) {
        keyFirst = Math.min(keyFirst, h.firstMs)
        total += h.events
      }
      const ageMs = e.tsMs - keyFirst
      if (ageMs < p.min_history_days * DAY_MS) continue
      // key_geo counts everything stored; the batch's events from this one on are not history.
      const priorEvents = seen ? total - (batchTimes.get(e.api_key_id) ?? []).filter((t) => t >= e.tsMs).length : total
      if (priorEvents < p.min_history_events) continue
      const known = [...countries.entries()].filter(([c, h]) => c !== e.geo_country && h.firstMs < e.tsMs).map(([c]) => c)
      const use = { event: e, priorEvents, ageMs, known }
      if (mine.firstMs < e.tsMs) ambiguous.push({ use, fromMs: e.tsMs - historyMs })
      else candidates.push(use)
    }
    if (ambiguous.length > 0) {
      const recent = await readRecentUse(
        store,
        ambiguous.map((a) => ({ key: a.use.event.api_key_id, country: a.use.event.geo_country, fromMs: a.fromMs, beforeMs: a.use.event.tsMs })),
      )
      for (const a of ambiguous) if (!recent.has(`${a.use.event.api_key_id}\u0000${a.use.event.geo_country}`)) candidates.push(a.use)
    }
    if (candidates.length === 0) return []

    const byKeyBucket = new Map<string, NewUse[]>()
    for (const c of candidates) entry(byKeyBucket, `${c.event.api_key_id}\u0000${bucketStart(c.event.tsMs, rule.windowMs)}`, () => []).push(c)
    const findings: Finding[] = []
    for (const uses of byKeyBucket.values()) {
      const first = uses[0] as NewUse
      const key = first.event.api_key_id
      const group = new EventGroup()
      for (const u of uses) group.add(u.event)
      const countries = [...new Set(uses.map((u) => u.event.geo_country))]
      const where = first.event.geo_city ? `${first.event.geo_city}, ${first.event.geo_country}` : first.event.geo_country
      findings.push({
        rule: 'geo.new_country',
        severity: rule.severity,
        score: pastThreshold(first.priorEvents, p.min_history_events),
        entity: { type: 'api_key', id: key },
        api_key_id: key,
        ...(first.event.account_id ? { account_id: first.event.account_id } : {}),
        ...(first.event.client_ip ? { client_ip: first.event.client_ip } : {}),
        firstSeenMs: group.firstMs,
        lastSeenMs: group.lastMs,
        windowStartMs: bucketStart(first.event.tsMs, rule.windowMs),
        count: group.count,
        summary: `Key ${key} was used from ${where}${first.event.client_ip ? ` (${first.event.client_ip})` : ''}, a country absent from its ${fmtNum(first.priorEvents, 0)} located events over ${fmtNum(first.ageMs / DAY_MS, 0)} days (${first.known.join(', ') || 'none'}).`,
        evidence: {
          value: first.priorEvents,
          threshold: p.min_history_events,
          country: first.event.geo_country,
          countries,
          city: first.event.geo_city,
          client_ip: first.event.client_ip,
          known_countries: first.known,
          history_events: first.priorEvents,
          history_age_days: round(first.ageMs / DAY_MS, 2),
          history_days: p.history_days,
          sample_event_ids: group.ids,
        },
        ...(group.receivedAt ? { eventReceivedAt: group.receivedAt } : {}),
      })
    }
    return findings
  },
}

// ---------------------------------------------------------------------------------------
// geo.impossible_travel

/** A located use of a key: a batch event, or the key's previous one read from storage. */
interface Fix {
  id: string
  tsMs: number
  client_ip: string
  country: string
  city: string
  lat: number
  lon: number
  receivedAt?: string
}

interface PrevRow {
  k: string
  id: string
  tt: string
  source: string
  account_id: string
  ip: string
  country: string
  city: string
  lat: number
  lon: number
}

/** Candidates per key: a few, newest first, because allowlisted ones are skipped in code. */
const PREVIOUS_CANDIDATES = 10

async function readPrevious(store: Store, before: ReadonlyMap<string, number>, windowMs: number, needCity: boolean, ignoreReasons: readonly string[]): Promise<PrevRow[]> {
  const keys = [...before.keys()]
  const befores = keys.map((k) => msToMicros(before.get(k) as number))
  const lo = Math.min(...before.values()) - windowMs
  const hi = Math.max(...before.values())
  return store.query<PrevRow>(
    `SELECT api_key_id AS k, id, toString(ts) AS tt, source, account_id,
       if(client_ip = toIPv6('::'), '', replaceRegexpOne(IPv6NumToString(client_ip), '^::ffff:(\\\\d+\\\\.\\\\d+\\\\.\\\\d+\\\\.\\\\d+)$', '\\\\1')) AS ip,
       geo_country AS country, geo_city AS city, geo_lat AS lat, geo_lon AS lon
     FROM events
     WHERE api_key_id IN {keys:Array(String)} AND ts >= {lo:DateTime64(9, 'UTC')} AND ts < {hi:DateTime64(9, 'UTC')}
       AND geo_lat IS NOT NULL AND geo_lon IS NOT NULL ${needCity ? "AND geo_city != ''" : ''}
       AND NOT (outcome IN ('failure', 'denied') AND has({ignore:Array(String)}, reason))
       AND toUnixTimestamp64Micro(ts) < transform(api_key_id, {keys:Array(String)}, {befores:Array(Int64)}, toInt64(0))
       AND toUnixTimestamp64Micro(ts) >= transform(api_key_id, {keys:Array(String)}, {befores:Array(Int64)}, toInt64(0)) - {window:Int64}
     ORDER BY k, ts DESC
     LIMIT {n:UInt32} BY k`,
    { keys, befores, lo: msToChTime(lo), hi: msToChTime(hi), window: msToMicros(windowMs), n: PREVIOUS_CANDIDATES, ignore: ignoreReasons },
  )
}

interface Leg {
  from: Fix
  to: Fix
  distanceKm: number
  speedKmh: number
}

function fixOf(e: StreamEvent): Fix {
  return { id: e.id, tsMs: e.tsMs, client_ip: e.client_ip, country: e.geo_country, city: e.geo_city, lat: e.geo_lat as number, lon: e.geo_lon as number, receivedAt: e.receivedAt }
}

const placeOf = (f: Fix) => (f.city ? `${f.city}, ${f.country}` : f.country)

export const geoImpossibleTravel: Detector = {
  ruleId: 'geo.impossible_travel',
  async detect(events, { store, rule, memory }) {
    const p = builtinParams(rule, 'geo.impossible_travel')
    const allowed = allowlistOf(rule)
    // A country-level fix is GeoIP's centroid of the country, not a place anyone is.
    const usable = (e: { geo_city: string }) => !p.ignore_country_level || e.geo_city !== ''
    const ignored = new Set<string>(p.ignore_reasons)
    const notAUse = (e: StreamEvent) => (e.outcome === 'failure' || e.outcome === 'denied') && ignored.has(e.reason)
    const byKey = new Map<string, Fix[]>()
    for (const e of events) {
      if (e.api_key_id === '' || e.geo_lat === null || e.geo_lon === null || !usable(e) || allowed(e) || notAUse(e)) continue
      entry(byKey, e.api_key_id, () => []).push(fixOf(e))
    }
    if (byKey.size === 0) return []

    const earliest = new Map<string, number>()
    for (const [k, fixes] of byKey) earliest.set(k, Math.min(...fixes.map((f) => f.tsMs)))
    const prevByKey = new Map<string, Fix>()
    // Keys whose remembered newest use is before all of their batch uses need no read.
    const newest = memory?.slot<Map<string, Fix>>('geo.impossible_travel', () => new Map())
    const unknown = new Map<string, number>()
    for (const [k, first] of earliest) {
      const m = newest?.get(k)
      if (m && m.tsMs < first) prevByKey.set(k, m)
      else unknown.set(k, first)
    }
    if (unknown.size > 0) {
      const previous = await readPrevious(store, unknown, rule.windowMs, p.ignore_country_level, p.ignore_reasons)
      for (const r of previous) {
        if (prevByKey.has(r.k)) continue
        if (allowed({ client_ip: r.ip, api_key_id: r.k, account_id: r.account_id, geo_country: r.country, source: r.source })) continue
        prevByKey.set(r.k, { id: r.id, tsMs: chTimeToMs(r.tt), client_ip: r.ip, country: r.country, city: r.city, lat: r.lat, lon: r.lon })
      }
    }
    if (newest) {
      if (newest.size >= MEMORY_SLOT_LIMIT) newest.clear()
      for (const [k, fixes] of byKey) {
        let top = newest.get(k) ?? prevByKey.get(k)
        for (const f of fixes) if (!top || f.tsMs > top.tsMs || (f.tsMs === top.tsMs && f.id > top.id)) top = f
        if (top) newest.set(k, { ...top, receivedAt: undefined })
      }
    }

    const findings: Finding[] = []
    for (const [key, fixes] of byKey) {
      const prev = prevByKey.get(key)
      const seq = [...(prev ? [prev] : []), ...fixes].sort((a, b) => a.tsMs - b.tsMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      const legs: Leg[] = []
      for (let i = 1; i < seq.length; i++) {
        const from = seq[i - 1] as Fix
        const to = seq[i] as Fix
        if (from.id === to.id || to.tsMs - from.tsMs > rule.windowMs) continue
        const speedKmh = impliedSpeedKmh(from, to, { toleranceKm: p.location_tolerance_km })
        if (speedKmh > p.max_speed_kmh) legs.push({ from, to, distanceKm: haversineKm(from, to), speedKmh })
      }
      if (legs.length === 0) continue
      const first = legs[0] as Leg
      const worst = legs.reduce((a, b) => (b.speedKmh > a.speedKmh ? b : a))
      const group = new EventGroup()
      for (const l of legs) {
        group.add({ id: l.from.id, tsMs: l.from.tsMs, receivedAt: l.from.receivedAt ?? '' })
        group.add({ id: l.to.id, tsMs: l.to.tsMs, receivedAt: l.to.receivedAt ?? '' })
      }
      const receivedAt = legs.map((l) => l.to.receivedAt).filter((r): r is string => r !== undefined).pop()
      const elapsedMs = worst.to.tsMs - worst.from.tsMs
      const account = events.find((e) => e.api_key_id === key && e.account_id !== '')?.account_id
      const speedText = Number.isFinite(worst.speedKmh) ? `${fmtNum(worst.speedKmh, 0)} km/h` : 'no time at all'
      findings.push({
        rule: 'geo.impossible_travel',
        severity: rule.severity,
        score: pastThreshold(worst.speedKmh, p.max_speed_kmh),
        entity: { type: 'api_key', id: key },
        api_key_id: key,
        ...(account ? { account_id: account } : {}),
        ...(worst.to.client_ip ? { client_ip: worst.to.client_ip } : {}),
        firstSeenMs: first.from.tsMs,
        lastSeenMs: Math.max(...legs.map((l) => l.to.tsMs)),
        windowStartMs: bucketStart(first.to.tsMs, rule.windowMs),
        // Legs, each counted by its later use: always a batch event, so a re-read tick adds none.
        count: legs.length,
        summary: `Key ${key} was used from ${placeOf(worst.from)} (${worst.from.client_ip || 'no address'}) and ${fmtDuration(Math.max(1000, Math.round(elapsedMs / 1000) * 1000))} later from ${placeOf(worst.to)} (${worst.to.client_ip || 'no address'}), ${fmtNum(worst.distanceKm, 0)} km apart: ${speedText}.`,
        evidence: {
          // Two places at the same instant have no finite speed: value is left out, speed_kmh is null.
          ...(Number.isFinite(worst.speedKmh) ? { value: round(worst.speedKmh, 1) } : {}),
          threshold: p.max_speed_kmh,
          speed_kmh: Number.isFinite(worst.speedKmh) ? round(worst.speedKmh, 1) : null,
          distance_km: round(worst.distanceKm, 1),
          tolerance_km: p.location_tolerance_km,
          elapsed_s: round(elapsedMs / 1000, 3),
          elapsed_h: round(elapsedMs / HOUR_MS, 4),
          from: { event_id: worst.from.id, ts: new Date(worst.from.tsMs).toISOString(), client_ip: worst.from.client_ip, country: worst.from.country, city: worst.from.city, lat: worst.from.lat, lon: worst.from.lon },
          to: { event_id: worst.to.id, ts: new Date(worst.to.tsMs).toISOString(), client_ip: worst.to.client_ip, country: worst.to.country, city: worst.to.city, lat: worst.to.lat, lon: worst.to.lon },
          legs: legs.length,
          sample_event_ids: group.ids,
        },
        ...(receivedAt ? { eventReceivedAt: receivedAt } : {}),
      })
    }
    return findings
  },
}
