/**
 * Ingest's clock with sub-millisecond resolution: `received_at` is stored to the
 * nanosecond and `clock_skew_ms` (RTS 25 evidence) is measured against it.
 *
 * Date.now() has millisecond resolution; hrtime has nanoseconds but no epoch. The two are
 * re-anchored every second so the clock follows the system clock (and NTP's corrections)
 * while keeping hrtime's resolution in between.
 */
let anchorMs = Date.now()
let anchorHr = process.hrtime.bigint()

export interface IngestInstant {
  /** Epoch milliseconds with a fractional part. */
  ms: number
  /** RFC 3339 UTC with 9 fractional digits. */
  iso: string
}

export function ingestClock(): IngestInstant {
  const hr = process.hrtime.bigint()
  let sinceNs = hr - anchorHr
  if (sinceNs > 1_000_000_000n) {
    anchorMs = Date.now()
    anchorHr = hr
    sinceNs = 0n
  }
  const wholeMs = anchorMs + Number(sinceNs / 1_000_000n)
  const subNs = Number(sinceNs % 1_000_000n)
  const ms = wholeMs + subNs / 1e6
  const base = new Date(wholeMs).toISOString() // 2026-11-24T09:30:00.123Z
  const iso = `${base.slice(0, 23)}${String(subNs).padStart(6, '0')}Z`
  return { ms, iso }
}
