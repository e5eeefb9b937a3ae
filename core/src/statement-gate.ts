/**
 * How many statements the embedded engine runs at once, and which go first.
 *
 * chDB runs each asynchronous statement on one of libuv's worker threads (four unless
 * UV_THREADPOOL_SIZE says otherwise), first come first served, and chdb-node runs every
 * parameterized statement of the process one after another. A burst of ordinary statements
 * (50 alert upserts, an ingest flush, a report) therefore queued a revocation's two statements
 * behind all of them (a hand-run probe, not a repo benchmark: a one-row read took 190 ms p50
 * behind 50 busy writers, 16 ms with the writers held to three at a time). The repo's figure is
 * `npm run bench -- respond`'s "control commit → delta": 1,160 ms p50 before the gate, 64-126
 * ms after (docs/benchmarks.md, the response section's "Statement lanes").
 *
 * Relied on by store.ts, which runs every embedded statement through one gate, in one of three
 * lanes. What it gives:
 * - `normal`: at most `limit` statements in flight; more wait in order of arrival;
 * - `prompt` (detection): starts before any waiting normal statement, and may use one slot
 *   beyond `limit`;
 * - `urgent` (the control channel): starts before any waiting prompt or normal statement, and
 *   may use two slots beyond `limit`;
 * so a statement waits for the statements already running, never for a lower lane's queue;
 * - a slot is counted when its statement is let in, so no newcomer can slip past a waiter.
 * Not given: preemption. A long statement already running keeps its thread.
 *
 * A lane may also be held (`hold`): while it is, no statement of a lower lane starts (those
 * already running finish). The detection engine holds `prompt` for one pass of its detectors: a
 * pass is a dozen statements one after another, and each one started behind running inserts took
 * 250-350 ms where it takes 20-80 ms alone (a hand-run trace of every statement during `npm run
 * bench -- detect`, not a repo figure; the bench's own figures are in docs/benchmarks.md). Held,
 * the first statement waits for what is running and the rest run alone; ingest's rows wait in its
 * batch writer meanwhile (accepted, not yet answered; the next insert is larger), so a long pass
 * delays ingest's answers by as much. Holds nest and count.
 */
export type StatementLane = 'urgent' | 'prompt' | 'normal'

export const STATEMENT_LANES: readonly StatementLane[] = ['urgent', 'prompt', 'normal']

export interface StatementGate {
  run<T>(lane: StatementLane, statement: () => Promise<T>): Promise<T>
  /**
   * Holds `lane` until the returned function is called (once; later calls do nothing): no
   * statement of a lower lane starts meanwhile.
   */
  hold(lane: StatementLane): () => void
  /** Statements running, and waiting per lane, for tests and diagnostics. */
  stats(): { running: number; waiting: Record<StatementLane, number>; held: Record<StatementLane, number> }
}

export function createStatementGate(limit: number): StatementGate {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`statement gate limit must be a whole number ≥ 1, got ${limit}`)
  // Highest lane first.
  const lanes = STATEMENT_LANES.map((name, i) => ({ name, cap: limit + (STATEMENT_LANES.length - 1 - i), waiting: [] as Array<() => void>, held: 0 }))
  const byName = new Map(lanes.map((l) => [l.name, l]))
  let running = 0

  /** A lane may start a statement when it has room and no higher lane is waiting (runs for every statement: no allocation). */
  function mayStart(index: number): boolean {
    if (running >= (lanes[index] as (typeof lanes)[number]).cap) return false
    for (let i = 0; i < index; i++) {
      const higher = lanes[i] as (typeof lanes)[number]
      if (higher.waiting.length > 0 || higher.held > 0) return false
    }
    return true
  }

  function pump(): void {
    for (let i = 0; i < lanes.length; i++) {
      const lane = lanes[i] as (typeof lanes)[number]
      while (lane.waiting.length > 0 && mayStart(i)) {
        running++
        ;(lane.waiting.shift() as () => void)()
      }
      if (lane.waiting.length > 0) return
    }
  }

  return {
    async run(name, statement) {
      const lane = byName.get(name)
      if (!lane) throw new RangeError(`unknown statement lane ${String(name)}`)
      const index = lanes.indexOf(lane)
      if (lane.waiting.length === 0 && mayStart(index)) running++
      // Counted as running by pump() when let in.
      else await new Promise<void>((resolve) => lane.waiting.push(resolve))
      try {
        return await statement()
      } finally {
        running--
        pump()
      }
    },
    hold(name) {
      const lane = byName.get(name)
      if (!lane) throw new RangeError(`unknown statement lane ${String(name)}`)
      lane.held++
      let released = false
      return () => {
        if (released) return
        released = true
        lane.held--
        pump()
      }
    },
    stats: () => ({
      running,
      waiting: Object.fromEntries(lanes.map((l) => [l.name, l.waiting.length])) as Record<StatementLane, number>,
      held: Object.fromEntries(lanes.map((l) => [l.name, l.held])) as Record<StatementLane, number>,
    }),
  }
}
