/**
 * The two fields every guard event gets the same way: a unique `id` (CONTRACT §1's
 * idempotency key, unique per source) and `ts`, RFC 3339 UTC with microseconds.
 */
import { newEventId } from './event-id.js'

/** Time-ordered (ULID-like), like the ids the shipper assigns: one kind of id in every event. */
export function eventId(): string {
  return newEventId()
}

/** RFC 3339 UTC with µs from epoch milliseconds (fractional milliseconds give the µs). */
export function eventTs(epochMs: number): string {
  const whole = Math.floor(epochMs)
  const micros = Math.min(999, Math.floor((epochMs - whole) * 1000))
  return `${new Date(whole).toISOString().slice(0, -1)}${String(micros).padStart(3, '0')}Z`
}

/** Epoch milliseconds with sub-millisecond precision. */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now()
}
