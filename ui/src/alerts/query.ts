/**
 * The Alerts page's filters: how they live in the URL (so a link keeps them), how they map to
 * `GET /v1/alerts`'s query, whether a live alert falls inside them, and client-side sorting.
 * Plain functions, tested in query.test.ts.
 */
import dateMath from '@elastic/datemath'
import type { Alert } from './types.js'

export interface AlertFilters {
  severity?: string
  status?: string
  rule?: string
  api_key_id?: string
  account_id?: string
  /** EuiSuperDatePicker's start and end: datemath (`now-24h`) or an absolute ISO time. */
  start: string
  end: string
}

export const DEFAULT_START = 'now-24h'
export const DEFAULT_END = 'now'
export const PAGE_SIZE = 100

/** URL parameter ↔ filter field. */
const URL_NAMES = [
  ['severity', 'severity'],
  ['status', 'status'],
  ['rule', 'rule'],
  ['key', 'api_key_id'],
  ['account', 'account_id'],
] as const

export function filtersFromSearch(search: string | URLSearchParams): AlertFilters {
  const p = typeof search === 'string' ? new URLSearchParams(search) : search
  const f: AlertFilters = { start: p.get('start') || DEFAULT_START, end: p.get('end') || DEFAULT_END }
  for (const [name, field] of URL_NAMES) {
    const v = p.get(name)?.trim()
    if (v) f[field] = v
  }
  return f
}

/** The URL search string of `f` ("" when everything is default), stable in order. */
export function filtersToSearch(f: AlertFilters): string {
  const p = new URLSearchParams()
  for (const [name, field] of URL_NAMES) {
    const v = f[field]?.trim()
    if (v) p.set(name, v)
  }
  if (f.start !== DEFAULT_START) p.set('start', f.start)
  if (f.end !== DEFAULT_END) p.set('end', f.end)
  const s = p.toString()
  return s ? `?${s}` : ''
}

export interface ResolvedRange {
  fromMs: number
  /** Undefined when the range ends at "now": it keeps moving, so live alerts stay inside it. */
  toMs?: number
}

/** One end of the picker's range in ms: datemath from "now", else an absolute ISO time. */
function parseEnd(text: string, roundUp: boolean, forceNow: Date): number | null {
  const t = text.trim()
  if (t.startsWith('now')) {
    const m = dateMath.parse(t, { roundUp, forceNow })
    return m?.isValid() ? m.valueOf() : null
  }
  const ms = /^\d{4}-\d{2}-\d{2}/.test(t) ? Date.parse(t) : NaN
  return Number.isNaN(ms) ? null : ms
}

/** The picker's range as times; null when either end does not parse or the range is empty. */
export function resolveRange(start: string, end: string, nowMs: number): ResolvedRange | null {
  const forceNow = new Date(nowMs)
  const fromMs = parseEnd(start, false, forceNow)
  if (fromMs === null) return null
  if (end.trim() === 'now') return fromMs < nowMs ? { fromMs } : null
  const toMs = parseEnd(end, true, forceNow)
  if (toMs === null || toMs <= fromMs) return null
  return { fromMs, toMs }
}

/** `GET /v1/alerts`'s query for the filters (first_seen in [from, to)), or null for a bad range. */
export function toAlertsQuery(f: AlertFilters, nowMs: number, limit = PAGE_SIZE): Record<string, string> | null {
  const range = resolveRange(f.start, f.end, nowMs)
  if (!range) return null
  const q: Record<string, string> = {}
  if (f.severity) q.severity = f.severity
  if (f.status) q.status = f.status
  if (f.rule) q.rule = f.rule
  if (f.api_key_id) q.api_key_id = f.api_key_id.trim()
  if (f.account_id) q.account_id = f.account_id.trim()
  q.from = new Date(range.fromMs).toISOString()
  if (range.toMs !== undefined) q.to = new Date(range.toMs).toISOString()
  q.limit = String(limit)
  return q
}

/** Whether the server would list `a` for these filters: the same test, done on the client. */
export function matchesFilters(a: Alert, f: AlertFilters, range: ResolvedRange | null): boolean {
  if (!range) return false
  if (f.severity && a.severity !== f.severity) return false
  if (f.status && a.status !== f.status) return false
  if (f.rule && a.rule !== f.rule) return false
  if (f.api_key_id && a.api_key_id !== f.api_key_id.trim()) return false
  if (f.account_id && a.account_id !== f.account_id.trim()) return false
  const t = Date.parse(a.first_seen)
  if (Number.isNaN(t) || t < range.fromMs) return false
  if (range.toMs !== undefined && t >= range.toMs) return false
  return true
}

export interface SortSpec {
  id: string
  direction: 'asc' | 'desc'
}

const SEVERITY_RANK: Record<string, number> = { low: 0, medium: 1, high: 2, critical: 3 }

function sortValue(a: Alert, column: string): string | number {
  switch (column) {
    case 'last_seen':
    case 'first_seen':
      return Date.parse(a[column]) || 0
    case 'severity':
      return SEVERITY_RANK[a.severity] ?? -1
    case 'count':
    case 'score':
      return a[column]
    case 'entity':
      return `${a.entity.type}:${a.entity.id}`
    default: {
      const v = (a as unknown as Record<string, unknown>)[column]
      return typeof v === 'number' ? v : typeof v === 'string' ? v : ''
    }
  }
}

/** Rows sorted by the grid's sorting columns (stable: ties keep their order); no sort → as given. */
export function sortAlerts(rows: readonly Alert[], sort: readonly SortSpec[]): Alert[] {
  if (sort.length === 0) return [...rows]
  return rows
    .map((a, i) => ({ a, i }))
    .sort((x, y) => {
      for (const s of sort) {
        const vx = sortValue(x.a, s.id)
        const vy = sortValue(y.a, s.id)
        const c = typeof vx === 'number' && typeof vy === 'number' ? vx - vy : String(vx).localeCompare(String(vy))
        if (c !== 0) return s.direction === 'asc' ? c : -c
      }
      return x.i - y.i
    })
    .map((x) => x.a)
}
