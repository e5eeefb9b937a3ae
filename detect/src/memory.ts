/**
 * What a detection engine remembers between ticks so that a detector can skip the stored-data
 * reads it provably does not need.
 *
 * The stored data stays the truth: a detector given a `DetectorMemory` must reach the same
 * findings as without one, only with fewer queries. Each detector that uses memory says in its
 * header what it keeps and why skipping on it is exact (or, where a narrow race makes it not
 * exactly so, what the race is). Memory is per engine, starts empty and is lost on restart: a
 * cold entry means "read storage as before", so a restart, a second engine process or a
 * backtest (which passes no memory) change nothing but speed.
 *
 * Two kinds of knowledge are kept:
 * - Idempotent facts learnt from storage or from the stream (a key was used from a country at
 *   a time; a key's latest located use). Seeing an event twice (overlap re-reads, a warm-up
 *   that overlaps the stream) changes nothing.
 * - Streams of rare events since a point in time (`coverage`): e.g. authentication failures.
 *   Absence of such an event in memory means absence in storage only for event times the
 *   memory covers (`coveredFromMs`), which `warmUp` moves back by reading storage once.
 */

/** Entries a slot may hold before it is cleared (a bound on memory, not a threshold). */
export const MEMORY_SLOT_LIMIT = 500_000

export class DetectorMemory {
  readonly #slots = new Map<string, unknown>()
  readonly #coverage = new Map<string, number>()

  /** The detector's own state, created on first use. One slot per name (usually the rule id). */
  slot<T>(name: string, init: () => T): T {
    let s = this.#slots.get(name) as T | undefined
    if (s === undefined) {
      s = init()
      this.#slots.set(name, s)
    }
    return s
  }

  /**
   * Event time (epoch ms) from which the rare-event stream `name` is complete in memory, or
   * `undefined` while it is not known to be complete for any time (before its warm-up).
   */
  coveredFromMs(name: string): number | undefined {
    return this.#coverage.get(name)
  }

  /** Declares `name` complete from `fromMs` on (event time). Only ever moves later via `narrow`. */
  cover(name: string, fromMs: number): void {
    this.#coverage.set(name, fromMs)
  }

  /** After pruning entries older than `fromMs`: memory is complete from there on only. */
  narrow(name: string, fromMs: number): void {
    const cur = this.#coverage.get(name)
    if (cur !== undefined && fromMs > cur) this.#coverage.set(name, fromMs)
  }

  /** Forgets everything (tests; a slot that outgrew `MEMORY_SLOT_LIMIT` clears itself). */
  clear(): void {
    this.#slots.clear()
    this.#coverage.clear()
  }
}
