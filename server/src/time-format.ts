/**
 * Times between the operator API (RFC 3339, CONTRACT §4: "Times in answers are RFC 3339
 * UTC") and ClickHouse (`DateTime64(9, 'UTC')` rendered as `YYYY-MM-DD hh:mm:ss.fffffffff`).
 * Done on strings rather than `Date` because `Date` stops at milliseconds and events carry
 * up to nanoseconds.
 */

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/
const CH_DATETIME = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?$/

const pad = (n: number, w = 2) => String(n).padStart(w, '0')

/**
 * An RFC 3339 time with any offset → the same instant as a ClickHouse UTC literal with 9
 * fractional digits, or undefined when it is not a real time (month 13, 30 February,
 * leap seconds, which ClickHouse cannot store).
 */
export function rfc3339ToClickHouse(text: string): string | undefined {
  const m = RFC3339.exec(text)
  if (!m) return undefined
  const [, y, mo, d, h, mi, s, frac = '', z, sign, oh, om] = m
  const year = Number(y)
  const month = Number(mo)
  const day = Number(d)
  const hour = Number(h)
  const minute = Number(mi)
  const second = Number(s)
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined
  const local = Date.UTC(year, month - 1, day, hour, minute, second)
  // Date.UTC normalises 30 February into March; a real date survives the round trip.
  if (new Date(local).getUTCDate() !== day) return undefined
  let offsetMin = 0
  if (!z) {
    if (Number(oh) > 23 || Number(om) > 59) return undefined
    offsetMin = (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om))
  }
  const utc = new Date(local - offsetMin * 60_000)
  if (utc.getUTCFullYear() < 1900 || utc.getUTCFullYear() > 2299) return undefined // DateTime64's range
  const date = `${utc.getUTCFullYear()}-${pad(utc.getUTCMonth() + 1)}-${pad(utc.getUTCDate())}`
  const time = `${pad(utc.getUTCHours())}:${pad(utc.getUTCMinutes())}:${pad(utc.getUTCSeconds())}`
  return `${date} ${time}.${frac.padEnd(9, '0')}`
}

/**
 * A ClickHouse UTC rendering → RFC 3339 UTC with as many fractional digits as carry
 * information (`.123456000` → `.123456`, `.000000000` → none), so a time sent as
 * `…00.123456Z` reads back exactly as sent.
 */
export function clickHouseToRfc3339(text: string): string {
  const m = CH_DATETIME.exec(text)
  if (!m) return text
  const frac = (m[3] ?? '').replace(/0+$/, '')
  return `${m[1]}T${m[2]}${frac ? `.${frac}` : ''}Z`
}

/** True for the exact form `toString(DateTime64(9))` produces; used to check cursors. */
export function isClickHouseDateTime9(text: string): boolean {
  return /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{9}$/.test(text)
}
