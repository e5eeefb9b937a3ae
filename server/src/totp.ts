/**
 * The second factor every person must have: TOTP (RFC 6238 via `otpauth`: SHA-1, 6 digits,
 * 30 s step, one step either side accepted) and single-use recovery codes.
 *
 * Relied on by: users.ts (enrolment stores the secret encrypted and the recovery codes
 * hashed) and auth-service.ts (sign-in step 2). What is persisted: the base32 secret as a
 * `encryptSecret` blob bound to the email, and recovery codes as HMAC-SHA256 under a key
 * derived from the master key — so a copy of the table alone lets nobody guess them offline.
 * A used time step is remembered in Redis per person: the same code (or an older one) is
 * refused for as long as it would otherwise still be accepted.
 */
import { createHmac, randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import { Secret, TOTP } from 'otpauth'

export const TOTP_PERIOD_SEC = 30
/** Steps accepted either side of now: a phone clock 30 s off still works. */
export const TOTP_WINDOW = 1
export const TOTP_ISSUER = 'Vigil'
export const RECOVERY_CODE_COUNT = 10

function totpFor(secretBase32: string, label = ''): TOTP {
  return new TOTP({ issuer: TOTP_ISSUER, label, secret: Secret.fromBase32(secretBase32), algorithm: 'SHA1', digits: 6, period: TOTP_PERIOD_SEC })
}

/** A fresh 160-bit secret, base32 (what authenticator apps take). */
export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32
}

/** `otpauth://totp/Vigil:alice@example.com?secret=…`: the dashboard draws it as a QR code. */
export function totpUri(secretBase32: string, email: string): string {
  return totpFor(secretBase32, email).toString()
}

/** The code an authenticator shows at `atMs` (tests, and nothing else, need to make one). */
export function totpCode(secretBase32: string, atMs: number): string {
  return totpFor(secretBase32).generate({ timestamp: atMs })
}

/**
 * The time step (counter) `code` belongs to when it is valid at `nowMs` within the window,
 * else null. Only six digits are considered at all.
 */
export function matchTotp(secretBase32: string, code: string, nowMs: number): number | null {
  if (!/^\d{6}$/.test(code)) return null
  const delta = totpFor(secretBase32).validate({ token: code, timestamp: nowMs, window: TOTP_WINDOW })
  if (delta === null) return null
  return TOTP.counter({ period: TOTP_PERIOD_SEC, timestamp: nowMs }) + delta
}

// Accepts `counter` only when it is later than every step this person used before; the key
// outlives the window so a replay inside it always finds the record.
const CLAIM_STEP = `
local last = tonumber(redis.call('GET', KEYS[1]) or '-1')
local step = tonumber(ARGV[1])
if step <= last then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`

/**
 * Marks time step `counter` used for `email`. False when it, or a later one, was used
 * already: a code seen once (by a shoulder-surfer or a phishing proxy) is worth nothing.
 */
export async function claimTotpStep(redis: Redis, keyPrefix: string, email: string, counter: number): Promise<boolean> {
  const ttlMs = (2 * TOTP_WINDOW + 2) * TOTP_PERIOD_SEC * 1000
  const ok = await redis.eval(CLAIM_STEP, 1, `${keyPrefix}auth:totp-step:${email}`, String(counter), String(ttlMs))
  return ok === 1
}

const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789'

/** Ten codes like `k7m2p-9xq4d`: 50 bits each, no look-alike characters. */
export function newRecoveryCodes(count = RECOVERY_CODE_COUNT): string[] {
  const codes: string[] = []
  while (codes.length < count) {
    const bytes = randomBytes(10)
    const chars = [...bytes].map((b) => RECOVERY_ALPHABET[b % RECOVERY_ALPHABET.length]).join('')
    const code = `${chars.slice(0, 5)}-${chars.slice(5)}`
    if (!codes.includes(code)) codes.push(code)
  }
  return codes
}

/** What people type varies in case, dashes and spaces; the hash does not. */
export function normaliseRecoveryCode(code: string): string {
  return code.toLowerCase().replace(/[\s-]/g, '')
}

/** The stored form of a recovery code: keyed, so the table alone does not allow guessing offline. */
export function hashRecoveryCode(key: Buffer, code: string): string {
  return createHmac('sha256', key).update(normaliseRecoveryCode(code)).digest('hex')
}
