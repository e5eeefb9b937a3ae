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
