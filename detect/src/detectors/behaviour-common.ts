/**
 * What the behaviour detectors (volume.spike, order.fat_finger, geo.*, ids.injection,
 * clock.skew) share: the rule allowlist as one predicate, the 0-100 score, the evidence
 * bookkeeping of a group of events, and time conversions for query parameters.
 *
 * The score, the same for all six so alerts of different rules compare: 50 when the
 * deciding number is exactly at its threshold, 25 more for each doubling past it, capped at
 * 100 (reached at four times the threshold). `pastThreshold(measured, threshold)`. The
 * deciding number of each rule:
 * - volume.spike: min(z / z_threshold, ratio / min_ratio_to_baseline), both conditions must
 *   hold so the nearer one counts; in cold start, value / cold_start_max_*.
 * - order.fat_finger: the same over z and ratio to the median, or value / max_qty (or
 *   max_notional); the worst order of the finding.
 * - geo.new_country: located events in the key's history / min_history_events: the longer
 *   a key has stayed put, the stranger a new country.
 * - geo.impossible_travel: speed / max_speed_kmh (no time between two places: 100).
 * - ids.injection: matching events in the window / min_matches.
 * - clock.skew: |skew percentile| / the source's limit.
 *
 * Allowlists: an event matching any entry (ips by CIDR, api_keys, accounts, countries,
 * sources) is never judged and never triggers a look. Where a detector reads totals from a
 * rollup (volume.spike, clock.skew), those totals still hold allowlisted events: a rollup
 * cannot leave them out, so allowlist whole keys or sources there.
 */
import type { EngineRule, StreamEvent } from '../detector.js'
import { cidrMatcher } from '../geo-math.js'

export const MINUTE_MS = 60_000
export const HOUR_MS = 3_600_000
export const DAY_MS = 86_400_000
/** Evidence lists at most this many event ids (CONTRACT §4 evidence stays small). */
export const MAX_SAMPLE_IDS = 10

/** 50 at the threshold, +25 per doubling past it, 100 from 4× on; see the header. */
export function pastThreshold(measured: number, threshold: number): number {
  if (!(threshold > 0) || measured === Number.POSITIVE_INFINITY) return 100
  const r = measured / threshold
  if (!(r > 0)) return 0
  return Math.round(Math.min(100, Math.max(0, 50 + 25 * Math.log2(r))) * 100) / 100
}

/** The fields of an event (or stored row) an allowlist entry can name. */
export interface AllowSubject {
  client_ip: string
  api_key_id: string
  account_id: string
  geo_country: string
  source: string
}

export type AllowCheck = (e: AllowSubject) => boolean

const NOTHING_ALLOWED: AllowCheck = () => false
// Compiled once per rule's allowlist object: the engine hands the same rule every tick, and
// a CIDR list is parsed (and a bad entry reported) once, not per event.
const compiled = new WeakMap<object, AllowCheck>()

/** True for an event the rule's allowlist exempts: any entry matching is enough. */
export function allowlistOf(rule: EngineRule): AllowCheck {
  const a = rule.allowlist
  if (!a) return NOTHING_ALLOWED
  const cached = compiled.get(a)
  if (cached) return cached
  const ips = a.ips && a.ips.length > 0 ? cidrMatcher(a.ips) : undefined
  const keys = new Set(a.api_keys ?? [])
  const accounts = new Set(a.accounts ?? [])
  const countries = new Set(a.countries ?? [])
  const sources = new Set(a.sources ?? [])
  const check: AllowCheck = (e) =>
    (ips !== undefined && e.client_ip !== '' && ips(e.client_ip)) ||
    (e.api_key_id !== '' && keys.has(e.api_key_id)) ||
    (e.account_id !== '' && accounts.has(e.account_id)) ||
    (e.geo_country !== '' && countries.has(e.geo_country)) ||
    sources.has(e.source)
  compiled.set(a, check)
  return check
}

/**
 * The events of a batch behind one finding: first and last event time, how many, a few ids,
 * and the arrival time of the newest. The batch comes in arrival order, so the last event
 * added is the newest arrival.
 */
export class EventGroup {
  firstMs = Number.POSITIVE_INFINITY
  lastMs = Number.NEGATIVE_INFINITY
  count = 0
  readonly ids: string[] = []
  receivedAt: string | undefined

  add(e: Pick<StreamEvent, 'tsMs' | 'id' | 'receivedAt'>): void {
    this.count++
    if (e.tsMs < this.firstMs) this.firstMs = e.tsMs
    if (e.tsMs > this.lastMs) this.lastMs = e.tsMs
    if (this.ids.length < MAX_SAMPLE_IDS && !this.ids.includes(e.id)) this.ids.push(e.id)
    this.receivedAt = e.receivedAt
  }
}

/** Epoch ms → ClickHouse DateTime64 text at µs, for query parameters. */
export function msToChTime(ms: number): string {
  const whole = Math.floor(ms)
  const us = Math.round((ms - whole) * 1000)
  return `${new Date(whole).toISOString().slice(0, 19).replace('T', ' ')}.${String(whole % 1000).padStart(3, '0')}${String(us).padStart(3, '0')}`
}

/** Epoch ms → whole µs, for comparisons against `toUnixTimestamp64Micro(ts)`. */
export function msToMicros(ms: number): number {
  return Math.round(ms * 1000)
}

/** Start of the epoch-aligned bucket of `sizeMs` holding `ms`. */
export function bucketStart(ms: number, sizeMs: number): number {
  return Math.floor(ms / sizeMs) * sizeMs
}

/** `2026-11-24 14:30 UTC`: how summaries name a time. */
export function fmtTime(ms: number): string {
  return `${new Date(Math.floor(ms)).toISOString().slice(0, 16).replace('T', ' ')} UTC`
}

/** A duration as summaries say it: `10 min`, `2 h`, `45 s`. */
export function fmtDuration(ms: number): string {
  if (ms % HOUR_MS === 0) return `${ms / HOUR_MS} h`
  if (ms % MINUTE_MS === 0) return `${ms / MINUTE_MS} min`
  return `${Math.round(ms / 1000)} s`
}

/** A number as summaries say it: grouped, at most `digits` decimals. */
export function fmtNum(n: number, digits = 2): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits })
}

/** Rounds evidence numbers so alerts do not carry float noise. */
export function round(n: number, digits = 4): number {
  if (!Number.isFinite(n)) return n
  const f = 10 ** digits
  return Math.round(n * f) / f
}

/** A map's entry, created by `make` when absent. */
export function entry<K, V>(m: Map<K, V>, k: K, make: () => V): V {
  let v = m.get(k)
  if (v === undefined) {
    v = make()
    m.set(k, v)
  }
  return v
}
