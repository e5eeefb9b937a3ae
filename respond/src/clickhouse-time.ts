/**
 * Times between ClickHouse's DateTime64(6, 'UTC') text form and the RFC 3339 UTC strings the
 * API answers with (CONTRACT §4). The text form `YYYY-MM-DD hh:mm:ss.ffffff` sorts like the
 * time itself, so it doubles as a list cursor position.
 */

/** `2026-11-24T09:30:00.123Z` (a Date) → `2026-11-24 09:30:00.123000`. */
export function dateToCh(d: Date): string {
  return `${d.toISOString().slice(0, 23).replace('T', ' ')}000`
}

/** Milliseconds since the epoch → ClickHouse text, for range filters. */
export function msToCh(ms: number): string {
  return dateToCh(new Date(Math.floor(ms)))
}

/** `2026-11-24 09:30:00.123000` → `2026-11-24T09:30:00.123Z` (trailing zero digits dropped). */
export function chToIso(t: string): string {
  const [base, frac = ''] = t.split('.')
  const digits = frac.replace(/0+$/, '')
  return `${(base ?? '').replace(' ', 'T')}${digits ? `.${digits}` : ''}Z`
}

/** `2026-11-24T09:30:00.1Z` → `2026-11-24 09:30:00.100000`, or undefined when not that shape. */
export function isoToCh(iso: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/.exec(iso)
  if (!m) return undefined
  return `${m[1]} ${m[2]}.${(m[3] ?? '').padEnd(6, '0').slice(0, 6)}`
}

/**
 * An RFC 3339 UTC time Vigil made itself (toISOString, chToIso) → ClickHouse text, for
 * writing it back; anything else is passed on unchanged for ClickHouse to refuse.
 */
export function isoToChText(iso: string): string {
  return isoToCh(iso) ?? iso
}

/** What the list methods of the stores take: a status, a time range and a keyset position. */
export interface ListWindow {
  fromMs?: number
  toMs?: number
  /** The previous page's last item: its time in ClickHouse text, its id. */
  before?: { at: string; id: string }
}

/**
 * The conditions of one newest-first keyset page over (`time`, `id`) columns, e.g.
 * `['req >= {from:String}', …]` with their parameters. `time` may be an expression and the
 * values are wrapped with `wrap` where the column is a DateTime64 compared to text.
 */
export function windowConditions(w: ListWindow, cols: { time: string; id: string }, wrap: (param: string) => string = (p) => p): { conditions: string[]; params: Record<string, unknown> } {
  const conditions: string[] = []
  const params: Record<string, unknown> = {}
  if (w.fromMs !== undefined) {
    conditions.push(`${cols.time} >= ${wrap('{from:String}')}`)
    params.from = msToCh(w.fromMs)
  }
  if (w.toMs !== undefined) {
    conditions.push(`${cols.time} < ${wrap('{to:String}')}`)
    params.to = msToCh(w.toMs)
  }
  if (w.before) {
    conditions.push(`(${cols.time}, ${cols.id}) < (${wrap('{bat:String}')}, {bid:String})`)
    params.bat = w.before.at
    params.bid = w.before.id
  }
  return { conditions, params }
}
