/** The incident list's filters as the query of GET /v1/incidents, and its pages. Tested in list.test.ts. */
import dateMath from '@elastic/datemath'
import type { IncidentStatus } from './types.js'

export interface IncidentFilters {
  status: IncidentStatus | ''
  severity: string
  /** EuiSuperDatePicker's start and end ("now-7d", "now", an ISO time), on `opened_at`. */
  start: string
  end: string
}

export const DEFAULT_FILTERS: IncidentFilters = { status: '', severity: '', start: 'now-7d', end: 'now' }
export const INCIDENTS_PAGE_SIZE = 25

/** The picker's range at `now` as RFC 3339, or null when it does not parse or ends before it starts. */
export function resolveRange(start: string, end: string, now: Date = new Date()): { from: string; to: string } | null {
  const from = dateMath.parse(start, { forceNow: now })
  const to = dateMath.parse(end, { roundUp: true, forceNow: now })
  if (!from?.isValid() || !to?.isValid() || !(to.valueOf() > from.valueOf())) return null
  return { from: from.toISOString(), to: to.toISOString() }
}

/** The query of one page: filters left out when empty, the cursor of the page when not the first. */
export function incidentsQuery(f: IncidentFilters, range: { from: string; to: string } | null, cursor: string | null): Record<string, string | number> {
  return {
    limit: INCIDENTS_PAGE_SIZE,
    ...(f.status ? { status: f.status } : {}),
    ...(f.severity ? { severity: f.severity } : {}),
    ...(range ? { from: range.from, to: range.to } : {}),
    ...(cursor ? { cursor } : {}),
  }
}

/**
 * Pages by the server's `next` cursor: `cursors[i]` opens page i (null for the first). Going
 * forward pushes the answer's `next`; going back pops; changing a filter starts again.
 */
export interface Pager {
  cursors: Array<string | null>
}

export const firstPage = (): Pager => ({ cursors: [null] })
export const currentCursor = (p: Pager): string | null => p.cursors[p.cursors.length - 1] ?? null
export const pageIndex = (p: Pager): number => p.cursors.length - 1
export const nextPage = (p: Pager, next: string | null): Pager => (next ? { cursors: [...p.cursors, next] } : p)
export const previousPage = (p: Pager): Pager => (p.cursors.length > 1 ? { cursors: p.cursors.slice(0, -1) } : p)
