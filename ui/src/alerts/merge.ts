/**
 * Merging the live stream (`GET /v1/alerts/stream`) into the loaded grid — plain functions,
 * tested in merge.test.ts.
 *
 * - Every version is stamped with a sequence number in the order the page received it; a
 *   page of `GET /v1/alerts` is stamped with the number current when its request started.
 *   Where two versions of one alert meet, the higher number wins, so an answer that left the
 *   server before an update cannot undo it — unless it is plainly older (an earlier
 *   last_seen), which only a replay can send.
 * - An alert the grid does not show yet is inserted at the top, and only if it matches the
 *   active filters and time range (the same test the server applies).
 * - An alert the grid shows is replaced in place, whatever it now looks like: rows do not
 *   jump or vanish under the analyst's pointer. The next reload applies the filters again.
 */
import { matchesFilters, type AlertFilters, type ResolvedRange } from './query.js'
import type { Alert } from './types.js'

export interface Stamped {
  alert: Alert
  seq: number
}

export interface LiveState {
  /** The newest version the stream delivered, per alert id. */
  latest: ReadonlyMap<string, Stamped>
  /** Ids the stream inserted at the top, newest first. */
  inserted: readonly string[]
  /** The last sequence number handed out. */
  seq: number
}

export interface LoadedPage {
  items: readonly Alert[]
  /** The live sequence number when the page's request started. */
  seq: number
}

export const emptyLive = (seq = 0): LiveState => ({ latest: new Map(), inserted: [], seq })

/** True when `incoming` may replace `current`: a later stamp that is not plainly an older version. */
export function isNewer(incoming: Stamped, current: Stamped | undefined): boolean {
  if (!current) return true
  if (incoming.seq <= current.seq) return false
  const tIn = Date.parse(incoming.alert.last_seen)
  const tCur = Date.parse(current.alert.last_seen)
  return !(tIn < tCur || (tIn === tCur && incoming.alert.count < current.alert.count))
}

export type LiveOutcome = 'inserted' | 'updated' | 'ignored'

/**
 * Applies one alert from the stream. `shown(id)` says whether the loaded pages hold the alert.
 * Returns the new state (the old one when nothing changed) and what happened.
 */
export function applyLiveAlert(
  state: LiveState,
  alert: Alert,
  ctx: { filters: AlertFilters; range: ResolvedRange | null; shown: (id: string) => boolean },
): { state: LiveState; outcome: LiveOutcome } {
  const seq = state.seq + 1
  const stamped: Stamped = { alert, seq }
  const current = state.latest.get(alert.id)
  const onGrid = ctx.shown(alert.id) || state.inserted.includes(alert.id)
  if (onGrid) {
    if (!isNewer(stamped, current)) return { state: { ...state, seq }, outcome: 'ignored' }
    const latest = new Map(state.latest)
    latest.set(alert.id, stamped)
    return { state: { ...state, latest, seq }, outcome: 'updated' }
  }
  if (!matchesFilters(alert, ctx.filters, ctx.range)) return { state: { ...state, seq }, outcome: 'ignored' }
  const latest = new Map(state.latest)
  latest.set(alert.id, stamped)
  return { state: { latest, inserted: [alert.id, ...state.inserted], seq }, outcome: 'inserted' }
}

/**
 * The grid's rows: the stream's insertions (newest first), then the loaded pages in order,
 * each alert once, each as its newest version.
 */
export function composeRows(pages: readonly LoadedPage[], live: LiveState): Alert[] {
  const out: Alert[] = []
  const seen = new Set<string>()
  const pageVersion = new Map<string, Stamped>()
  for (const p of pages) for (const a of p.items) if (!pageVersion.has(a.id)) pageVersion.set(a.id, { alert: a, seq: p.seq })
  const best = (id: string): Alert | undefined => {
    const fromPage = pageVersion.get(id)
    const fromLive = live.latest.get(id)
    if (fromLive && isNewer(fromLive, fromPage)) return fromLive.alert
    return fromPage?.alert ?? fromLive?.alert
  }
  for (const id of live.inserted) {
    if (seen.has(id)) continue
    const a = best(id)
    if (!a) continue
    seen.add(id)
    out.push(a)
  }
  for (const p of pages) {
    for (const a of p.items) {
      if (seen.has(a.id)) continue
      seen.add(a.id)
      out.push(best(a.id) ?? a)
    }
  }
  return out
}

/** Parses one `event: alert` message's data; undefined for anything that is not an alert. */
export function parseAlertMessage(data: string): Alert | undefined {
  try {
    const v = JSON.parse(data) as Partial<Alert> | null
    if (!v || typeof v !== 'object' || typeof v.id !== 'string' || typeof v.rule !== 'string' || typeof v.first_seen !== 'string') return undefined
    return v as Alert
  } catch {
    return undefined
  }
}
