/**
 * Per-source rate limit in events per second: a token bucket holding one second of
 * allowance, refilled continuously. A request is refused with 429 and a Retry-After that
 * says when enough allowance for it will be back.
 *
 * In-process on purpose: each ingest process enforces its share; a fleet of N processes
 * behind a balancer admits up to N times the limit, which is the safe direction for an
 * audit trail (say so in the docs).
 */
export class SourceRateLimiter {
  readonly #perSec: number
  readonly #buckets = new Map<string, { tokens: number; at: number }>()

  constructor(perSec: number) {
    this.#perSec = perSec
  }

  #bucket(source: string, now: number) {
    let b = this.#buckets.get(source)
    if (!b) {
      b = { tokens: this.#perSec, at: now }
      this.#buckets.set(source, b)
    } else {
      b.tokens = Math.min(this.#perSec, b.tokens + ((now - b.at) / 1000) * this.#perSec)
      b.at = now
    }
    return b
  }

  /** Seconds to wait before retrying, or 0 when the bucket still has allowance. */
  check(source: string, now = performance.now()): number {
    const b = this.#bucket(source, now)
    return b.tokens > 0 ? 0 : Math.max(1, Math.ceil(-b.tokens / this.#perSec))
  }

  /**
   * Takes `n` events. Returns 0 when allowed, else the seconds to wait. A request larger
   * than one second of allowance is admitted when the bucket is full, and leaves it in debt.
   */
  take(source: string, n: number, now = performance.now()): number {
    const b = this.#bucket(source, now)
    if (b.tokens >= n || b.tokens >= this.#perSec) {
      b.tokens -= n
      return 0
    }
    return Math.max(1, Math.ceil((n - b.tokens) / this.#perSec))
  }
}
