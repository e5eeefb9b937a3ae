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
 * already running finish) until it has waited `heldMaxWaitMs` (300 ms by default): a hold delays
 * the others, it never starves them. The detection engine holds `prompt` for one pass of its
 * detectors: a pass is a dozen statements one after another, and each one started behind running inserts took
 * 250-350 ms where it takes 20-80 ms alone (a hand-run trace of every statement during `npm run
 * bench -- detect`, not a repo figure; the bench's own figures are in docs/benchmarks.md). Held,
 * the first statement waits for what is running and the rest run alone. The engine also lets go
 * of its hold between two detectors every 250 ms (engine.ts `holdSliceMs`); the bound here is the
 * backstop for one detector call that runs long (cold memory over thousands of keys), during which
 * ingest's next insert would otherwise wait for it. Its rows are accepted meanwhile, and the next
 * insert is larger. Measured with `npm run bench -- ingest` (docs/benchmarks.md, one run each):
 * passes not held 8,276 events/s; held and sliced with no bound 2,283, with a 1 s bound 4,963,
 * with 300 ms 6,809. A 100 ms bound alone (no slices) kept ingest at 7,571 but put detection's
 * statements back among the inserts (`npm run bench -- detect` at 6,000 events/s: p99 3.0 →
 * 12.2 s). Holds nest and count.
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

export interface StatementGateOptions {
  /** Longest a hold keeps a waiting statement of a lower lane from starting. @defaultValue `300` */
  heldMaxWaitMs?: number
}

interface Waiter {
  go: () => void
  /** performance.now() when it began to wait. */
  since: number
}

export function createStatementGate(limit: number, opts: StatementGateOptions = {}): StatementGate {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`statement gate limit must be a whole number ≥ 1, got ${limit}`)
  const maxWaitMs = opts.heldMaxWaitMs ?? 300
  // Highest lane first.
  const lanes = STATEMENT_LANES.map((name, i) => ({ name, cap: limit + (STATEMENT_LANES.length - 1 - i), waiting: [] as Waiter[], held: 0 }))
  const byName = new Map(lanes.map((l) => [l.name, l]))
  let running = 0
  let timer: NodeJS.Timeout | undefined

  /**
   * A lane may start a statement that has waited `waitedMs` when it has room, no higher lane is
   * waiting, and no higher lane is held, or it has waited out the hold (runs for every statement: no allocation).
   */
  function mayStart(index: number, waitedMs: number): boolean {
    if (running >= (lanes[index] as (typeof lanes)[number]).cap) return false
    for (let i = 0; i < index; i++) {
      const higher = lanes[i] as (typeof lanes)[number]
      if (higher.waiting.length > 0 || (higher.held > 0 && waitedMs < maxWaitMs)) return false
    }
    return true
  }

  function pump(): void {
    const now = performance.now()
    for (let i = 0; i < lanes.length; i++) {
      const lane = lanes[i] as (typeof lanes)[number]
      while (lane.waiting.length > 0 && mayStart(i, now - (lane.waiting[0] as Waiter).since)) {
        running++
        ;(lane.waiting.shift() as Waiter).go()
      }
      if (lane.waiting.length > 0) break
    }
    arm(now)
  }

  /** While a hold keeps a statement waiting, wakes the gate when the first one has waited long enough. */
  function arm(now: number): void {
    if (timer || !lanes.some((l) => l.held > 0)) return
    let due = Number.POSITIVE_INFINITY
    for (const l of lanes) if (l.waiting.length > 0) due = Math.min(due, (l.waiting[0] as Waiter).since + maxWaitMs - now)
    // Past due and still waiting: it waits for a free slot, which a finishing statement brings.
    if (!(due > 0) || due === Number.POSITIVE_INFINITY) return
    timer = setTimeout(() => {
      timer = undefined
      pump()
    }, Math.ceil(due))
    timer.unref()
  }

  return {
    async run(name, statement) {
      const lane = byName.get(name)
      if (!lane) throw new RangeError(`unknown statement lane ${String(name)}`)
      const index = lanes.indexOf(lane)
      if (lane.waiting.length === 0 && mayStart(index, 0)) running++
      // Counted as running by pump() when let in.
      else
        await new Promise<void>((resolve) => {
          const since = performance.now()
          lane.waiting.push({ go: resolve, since })
          arm(since)
        })
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
