/**
 * Event ids the guard assigns (CONTRACT §1 `id`, the idempotency key): ULID-shaped — 26
 * Crockford base32 characters, 48 bits of milliseconds then 80 random bits — so ids sort by
 * time and a retried batch is answered as duplicates instead of stored twice.
 */
import { randomFillSync } from 'node:crypto'

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
// Random bytes come from a pool refilled 256 ids at a time: emit() stays cheap.
const POOL = Buffer.alloc(10 * 256)
let poolPos = POOL.length

export function newEventId(nowMs: number = Date.now()): string {
  let out = ''
  let t = Math.max(0, Math.floor(nowMs))
  const time: string[] = []
  for (let i = 0; i < 10; i++) {
    time.push(ALPHABET[t % 32] as string)
    t = Math.floor(t / 32)
  }
  out = time.reverse().join('')
  if (poolPos + 10 > POOL.length) {
    randomFillSync(POOL)
    poolPos = 0
  }
  // 80 bits as 16 groups of 5 bits.
  let acc = 0
  let bits = 0
  for (let i = 0; i < 10; i++) {
    acc = (acc << 8) | (POOL[poolPos + i] as number)
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out += ALPHABET[(acc >> bits) & 31]
    }
    acc &= (1 << bits) - 1
  }
  poolPos += 10
  return out
}
