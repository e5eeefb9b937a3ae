/**
 * Group commit under a cross-process lock: the one way respond writes a numbered, chained log
 * (the audit chain's seq, the control channel's version).
 *
 * Relied on by: audit-log.ts and control-log.ts. What they rely on:
 * - Every `submit` made while a batch is being committed joins the next batch, so a burst of
 *   1,000 changes becomes a few inserts, not 1,000 (chDB makes one part per insert).
 * - `commit` runs with a Redis lock held (SET NX PX with a random token, released only by its
 *   holder), so two processes never number rows at once, and it receives the head (last
 *   number and hash) the previous holder left in Redis.
 * - The head cannot go stale silently: the lock is taken together with a `pending` mark that
 *   only a successful commit clears. A holder that died or failed mid-commit (its insert may or
 *   may not have landed) leaves the mark, and the next holder asks `loadStoredHead` instead —
 *   keeping whichever of the two is ahead, so a number is never handed out twice and a tail
 *   cut from storage stays visible as a gap rather than being written over.
 * Not covered: a holder stalled longer than the lease (15 s by default) while another takes
 * the lock. The release then reports it (`onLeaseLost`) so it is at least logged.
 */
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import { VigilError } from '@vigil/core'

export interface ChainHead {
  seq: number
  /** Empty for logs that number rows without chaining them. */
  hash: string
}

export interface GroupCommitOptions<I, O> {
  redis: Redis
  /** Redis keys: `<key>:lock`, `<key>:head`, `<key>:pending`. */
  key: string
  /** The head as storage knows it (its last row), or null when storage is empty. */
  loadStoredHead(): Promise<ChainHead | null>
  /**
   * Writes one batch, numbered from `head`, and answers each item's result (an Error for an
   * item refused on its own) and the new head. Throwing fails the whole batch.
   */
  commit(batch: readonly I[], head: ChainHead): Promise<{ results: Array<O | Error>; head: ChainHead }>
  /** @defaultValue 15000 */
  leaseMs?: number
  /** @defaultValue 2000 */
  maxBatch?: number
  /** How long to wait for the lock before failing the batch. @defaultValue 30000 */
  waitMs?: number
  onLeaseLost?(key: string): void
}

export interface GroupCommitter<I, O> {
  submit(item: I): Promise<O>
  /** Resolves once everything submitted so far is committed or failed. */
  idle(): Promise<void>
  /** The last committed head, as Redis holds it (null when unknown). */
  head(): Promise<ChainHead | null>
}

const ACQUIRE = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local head = redis.call('GET', KEYS[2])
  local pending = redis.call('EXISTS', KEYS[3])
  redis.call('SET', KEYS[3], '1')
  return {1, head or '', pending}
end
return {0, '', 0}`

// ARGV[2] is the new head, or '' after a failed commit: the pending mark then stays.
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  if ARGV[2] ~= '' then
    redis.call('SET', KEYS[2], ARGV[2])
    redis.call('DEL', KEYS[3])
  end
  redis.call('DEL', KEYS[1])
  return 1
end
return 0`

interface Waiter<I, O> {
  item: I
  resolve(v: O): void
  reject(e: unknown): void
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

export function parseHead(raw: string | null | undefined): ChainHead | null {
  if (!raw) return null
  try {
    const v = JSON.parse(raw) as { seq?: unknown; hash?: unknown }
    if (typeof v.seq === 'number' && Number.isSafeInteger(v.seq) && v.seq >= 0 && typeof v.hash === 'string') return { seq: v.seq, hash: v.hash }
  } catch {
    // a value nobody of ours wrote: treat as missing, storage rebuilds it
  }
  return null
}

export function createGroupCommitter<I, O>(opts: GroupCommitOptions<I, O>): GroupCommitter<I, O> {
  const { redis, key } = opts
  const leaseMs = opts.leaseMs ?? 15_000
  const maxBatch = opts.maxBatch ?? 2000
  const waitMs = opts.waitMs ?? 30_000
  const keys = [`${key}:lock`, `${key}:head`, `${key}:pending`] as const
  const queue: Array<Waiter<I, O>> = []
  let running: Promise<void> | null = null

  async function acquire(token: string): Promise<ChainHead> {
    const deadline = Date.now() + waitMs
    let pause = 1
    for (;;) {
      const [ok, rawHead, pending] = (await redis.eval(ACQUIRE, 3, ...keys, token, String(leaseMs))) as [number, string, number]
      if (ok === 1) {
        const cached = parseHead(rawHead)
        if (cached && pending === 0) return cached
        // No head, or the last holder did not finish: ask storage, keep whichever is ahead.
        const stored = await opts.loadStoredHead()
        if (!cached) return stored ?? { seq: 0, hash: '' }
        if (!stored) return cached
        return stored.seq >= cached.seq ? stored : cached
      }
      if (Date.now() > deadline) throw new VigilError('VIGIL_ERR_API_UNAVAILABLE', `timed out waiting for ${key}`)
      await sleep(pause + Math.random() * pause)
      pause = Math.min(pause * 2, 20)
    }
  }

  async function runBatch(batch: Array<Waiter<I, O>>): Promise<void> {
    const token = randomBytes(16).toString('hex')
    let head: ChainHead
    try {
      head = await acquire(token)
    } catch (err) {
      for (const w of batch) w.reject(err)
      return
    }
    let committed: { results: Array<O | Error>; head: ChainHead } | undefined
    let failure: unknown
    try {
      committed = await opts.commit(
        batch.map((w) => w.item),
        head,
      )
    } catch (err) {
      failure = err
    }
    try {
      const released = await redis.eval(RELEASE, 3, ...keys, token, committed ? JSON.stringify(committed.head) : '')
      if (released !== 1) opts.onLeaseLost?.(key)
    } catch {
      // The lock expires by itself; the pending mark makes the next holder consult storage.
    }
    if (!committed) {
      for (const w of batch) w.reject(failure)
      return
    }
    batch.forEach((w, i) => {
      const r = committed.results[i]
      if (r instanceof Error) w.reject(r)
      else w.resolve(r as O)
    })
  }

  async function drain(): Promise<void> {
    while (queue.length > 0) await runBatch(queue.splice(0, maxBatch))
    running = null
  }

  return {
    submit(item) {
      return new Promise<O>((resolve, reject) => {
        queue.push({ item, resolve, reject })
        running ??= drain()
      })
    },
    async idle() {
      while (running) await running
    },
    async head() {
      return parseHead(await redis.get(keys[1]))
    },
  }
}
