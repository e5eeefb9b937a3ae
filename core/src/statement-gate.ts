/**
 * How many statements the embedded engine runs at once, and which go first.
 *
 * chDB runs each asynchronous statement on one of libuv's worker threads (four unless
 * UV_THREADPOOL_SIZE says otherwise), first come first served, and chdb-node runs every
 * parameterized statement of the process one after another. A burst of ordinary statements
 * (50 alert upserts, an ingest flush, a report) therefore queued a revocation's two statements
 * behind all of them: measured here, a one-row read took 190 ms p50 behind 50 busy writers and
 * 16 ms when the writers were held to three statements at a time (see docs/benchmarks.md,
 * "Statement lanes").
 *
 * Relied on by store.ts, which runs every embedded statement through one gate. What it gives:
 * - at most `limit` normal statements in flight; more wait in order of arrival;
 * - urgent statements (the store's `urgent` view) start before any waiting normal one and may
 *   use one slot beyond `limit`, so a revocation waits for at most the statements already
 *   running, never for the queue;
 * - a slot is handed over at release, so no newcomer can slip past a waiter.
 * Not given: preemption. A long statement already running keeps its thread.
 */
export interface StatementGate {
  run<T>(urgent: boolean, statement: () => Promise<T>): Promise<T>
  /** Statements running and waiting, for tests and diagnostics. */
  stats(): { running: number; waitingUrgent: number; waitingNormal: number }
}

export function createStatementGate(limit: number): StatementGate {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`statement gate limit must be a whole number ≥ 1, got ${limit}`)
  const urgentCap = limit + 1
  const urgentWaiting: Array<() => void> = []
  const normalWaiting: Array<() => void> = []
  let running = 0

  function pump(): void {
    while (urgentWaiting.length > 0 && running < urgentCap) {
      running++
      ;(urgentWaiting.shift() as () => void)()
    }
    while (normalWaiting.length > 0 && urgentWaiting.length === 0 && running < limit) {
      running++
      ;(normalWaiting.shift() as () => void)()
    }
  }

  function acquire(urgent: boolean): Promise<void> | undefined {
    if (urgent ? running < urgentCap : running < limit && urgentWaiting.length === 0) {
      running++
      return undefined
    }
    // Counted as running by pump() when woken.
    return new Promise<void>((resolve) => (urgent ? urgentWaiting : normalWaiting).push(resolve))
  }

  return {
    async run(urgent, statement) {
      const wait = acquire(urgent)
      if (wait) await wait
      try {
        return await statement()
      } finally {
        running--
        pump()
      }
    },
    stats: () => ({ running, waitingUrgent: urgentWaiting.length, waitingNormal: normalWaiting.length }),
  }
}
