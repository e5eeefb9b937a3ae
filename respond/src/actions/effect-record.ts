/**
 * Once-only outside effects (a Slack message, an email, a webhook call) under an action's
 * idempotency key, recorded in Redis.
 *
 * Relied on by notify_slack, notify_email and webhook for `already_done` (action.ts). The
 * record is written only AFTER the effect succeeded: claiming the key before acting (SET NX)
 * and keeping it would turn a failed post into a permanent `already_done`. Meanwhile a short
 * `pending` claim keeps two concurrent attempts (a stalled job redelivered while the first
 * is still waiting on Slack) from both acting; a failed attempt releases its claim.
 *
 * What this cannot close: a process that dies after the effect but before the record is
 * written leaves no trace, and the retry acts again (at least once, not exactly once). The
 * webhook narrows this by sending the key as `Idempotency-Key`, the email by deriving its
 * Message-ID from the key, so receivers can drop the duplicate.
 */
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'

/** Records outlive any redelivery of the same alert. */
const DONE_TTL_SEC = 30 * 86_400
const NAMESPACE = 'vigil:respond:effect:'

export interface EffectDone {
  state: 'done'
  at: string
  /** What the effect produced, e.g. Slack's `{channel, ts}`; never a secret. */
  result: Record<string, unknown>
}

export type EffectClaim = { kind: 'claimed'; token: string } | { kind: 'done'; record: EffectDone } | { kind: 'busy' }

const keyOf = (kind: string, idempotencyKey: string) => `${NAMESPACE}${kind}:${idempotencyKey}`

function parse(raw: string | null): EffectDone | { state: 'pending'; token: string } | null {
  if (raw === null) return null
  try {
    const v = JSON.parse(raw) as { state?: unknown; token?: unknown; at?: unknown; result?: unknown }
    if (v.state === 'done') return { state: 'done', at: String(v.at), result: (v.result ?? {}) as Record<string, unknown> }
    if (v.state === 'pending' && typeof v.token === 'string') return { state: 'pending', token: v.token }
  } catch {
    // A record we cannot read is treated as absent; the claim below overwrites nothing done.
  }
  return null
}

/** The done record of an effect, if any. */
export async function readEffect(redis: Redis, kind: string, idempotencyKey: string): Promise<EffectDone | null> {
  const r = parse(await redis.get(keyOf(kind, idempotencyKey)))
  return r?.state === 'done' ? r : null
}

/**
 * Claims the right to act: `done` when the effect was already made, `busy` when another
 * attempt holds a claim (retry later), else `claimed` with a token for `release`/`record`.
 * @param claimMs how long a claim holds if its holder dies; longer than one attempt can take.
 */
export async function claimEffect(redis: Redis, kind: string, idempotencyKey: string, claimMs: number): Promise<EffectClaim> {
  const key = keyOf(kind, idempotencyKey)
  const token = randomBytes(9).toString('base64url')
  const ok = await redis.set(key, JSON.stringify({ state: 'pending', token }), 'PX', claimMs, 'NX')
  if (ok === 'OK') return { kind: 'claimed', token }
  const existing = parse(await redis.get(key))
  if (existing?.state === 'done') return { kind: 'done', record: existing }
  if (existing?.state === 'pending') return { kind: 'busy' }
  // Unreadable or just expired: take it over.
  await redis.set(key, JSON.stringify({ state: 'pending', token }), 'PX', claimMs)
  return { kind: 'claimed', token }
}

// Compare-and-delete, so an attempt whose claim expired cannot drop a later attempt's claim.
const RELEASE = `local v = redis.call('GET', KEYS[1])
if v and string.find(v, ARGV[1], 1, true) and string.find(v, '"pending"', 1, true) then return redis.call('DEL', KEYS[1]) end
return 0`

/** Gives a claim back after a failed attempt, so the retry may act. */
export async function releaseEffect(redis: Redis, kind: string, idempotencyKey: string, token: string): Promise<void> {
  await redis.eval(RELEASE, 1, keyOf(kind, idempotencyKey), `"token":"${token}"`)
}

/** Records the effect as made. Overwrites the claim whoever holds it: the effect happened. */
export async function recordEffect(redis: Redis, kind: string, idempotencyKey: string, result: Record<string, unknown>): Promise<EffectDone> {
  const record: EffectDone = { state: 'done', at: new Date().toISOString(), result }
  await redis.set(keyOf(kind, idempotencyKey), JSON.stringify(record), 'EX', DONE_TTL_SEC)
  return record
}
