/** EuiSuperDatePicker's start/end ("now-1h", an ISO time) as the RFC 3339 from/to the API takes. */
import dateMath from '@elastic/datemath'

export interface ResolvedRange {
  from: string
  to: string
  min: number
  max: number
}

/** Resolves a picker range at `now`; null when either end does not parse or end is not after start. */
export function resolveRange(start: string, end: string, now: Date = new Date()): ResolvedRange | null {
  const from = dateMath.parse(start, { forceNow: now })
  const to = dateMath.parse(end, { roundUp: true, forceNow: now })
  if (!from?.isValid() || !to?.isValid()) return null
  const min = from.valueOf()
  const max = to.valueOf()
  if (!(max > min)) return null
  return { from: new Date(min).toISOString(), to: new Date(max).toISOString(), min, max }
}
