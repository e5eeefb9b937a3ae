/**
 * The request-signing scheme (v1) between a trading API's clients and the guard. Clients
 * and the guard must compute the same bytes, so this file is the definition; the README's
 * "Signing requests" section restates it for client authors.
 *
 *   X-Key-Id:    the key's public id (1–128 of `A–Z a–z 0–9 . _ : -`)
 *   X-Timestamp: unix seconds (digits only)
 *   X-Nonce:     16–64 url-safe characters (`A–Z a–z 0–9 _ -`), never reused within the window
 *   X-Signature: v1=<hex HMAC-SHA256(secret, canonical)>
 *
 *   canonical = METHOD "\n" PATH "\n" TIMESTAMP "\n" NONCE "\n" hex(SHA-256(body bytes))
 *
 * METHOD is upper case; PATH is the request target exactly as sent (path and query string,
 * no scheme or host); the body hash is of the bytes exactly as sent (empty body: the hash of
 * the empty string).
 *
 * Relied on by: the plugin (verification), client libraries and tests (`signRequest`).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

export const KEY_ID_HEADER = 'x-key-id'
export const TIMESTAMP_HEADER = 'x-timestamp'
export const NONCE_HEADER = 'x-nonce'
export const SIGNATURE_HEADER = 'x-signature'

const KEY_ID = /^[A-Za-z0-9._:-]{1,128}$/
const TIMESTAMP = /^[0-9]{1,12}$/
const NONCE = /^[A-Za-z0-9_-]{16,64}$/
const SIGNATURE = /^v1=([0-9a-f]{64})$/

/** Hex SHA-256 of the empty body. */
export const EMPTY_BODY_SHA256 = createHash('sha256').update('').digest('hex')

export function bodySha256(body: string | Uint8Array): string {
  return createHash('sha256').update(body).digest('hex')
}

export interface CanonicalParts {
  method: string
  /** Path and query string exactly as sent. */
  path: string
  /** Unix seconds. */
  timestamp: number | string
  nonce: string
  /** Hex SHA-256 of the body bytes. */
  bodySha256: string
}

export function canonicalString(p: CanonicalParts): string {
  return `${p.method.toUpperCase()}\n${p.path}\n${p.timestamp}\n${p.nonce}\n${p.bodySha256}`
}

export function hmacHex(secret: string, canonical: string): string {
  return createHmac('sha256', secret).update(canonical).digest('hex')
}

export interface SignRequestInput {
  keyId: string
  secret: string
  method: string
  /** Path and query string exactly as it will be sent, e.g. `/v1/orders?dry_run=1`. */
  path: string
  /** The body bytes exactly as they will be sent; absent: empty. */
  body?: string | Uint8Array
  /** Unix seconds. @defaultValue now */
  timestamp?: number
  /** @defaultValue 24 random url-safe characters */
  nonce?: string
}

/** The four headers that sign a request (v1). */
export function signRequest(input: SignRequestInput): Record<'x-key-id' | 'x-timestamp' | 'x-nonce' | 'x-signature', string> {
  const timestamp = input.timestamp ?? Math.floor(Date.now() / 1000)
  const nonce = input.nonce ?? randomBytes(18).toString('base64url')
  const canonical = canonicalString({
    method: input.method,
    path: input.path,
    timestamp,
    nonce,
    bodySha256: input.body === undefined ? EMPTY_BODY_SHA256 : bodySha256(input.body),
  })
  return {
    [KEY_ID_HEADER]: input.keyId,
    [TIMESTAMP_HEADER]: String(timestamp),
    [NONCE_HEADER]: nonce,
    [SIGNATURE_HEADER]: `v1=${hmacHex(input.secret, canonical)}`,
  }
}

/** The signing headers of a request, checked for shape only. */
export interface SignedHeaders {
  keyId: string
  timestamp: number
  /** The timestamp exactly as sent (it is signed as sent). */
  timestampRaw: string
  nonce: string
  signatureHex: string
}

export type ParsedSignedHeaders = { ok: true; value: SignedHeaders } | { ok: false; problem: 'missing' | 'malformed' }

type Headers = Record<string, string | string[] | undefined>

function single(headers: Headers, name: string): string | undefined | null {
  const v = headers[name]
  if (v === undefined) return undefined
  // A repeated signing header is ambiguous: refuse rather than pick one.
  if (Array.isArray(v)) return null
  return v
}

/** Reads the four headers: `missing` when none of them is present or one is absent, `malformed` on a bad shape. */
export function parseSignedHeaders(headers: Headers): ParsedSignedHeaders {
  const keyId = single(headers, KEY_ID_HEADER)
  const ts = single(headers, TIMESTAMP_HEADER)
  const nonce = single(headers, NONCE_HEADER)
  const sig = single(headers, SIGNATURE_HEADER)
  if (keyId === null || ts === null || nonce === null || sig === null) return { ok: false, problem: 'malformed' }
  if (keyId === undefined || ts === undefined || nonce === undefined || sig === undefined) return { ok: false, problem: 'missing' }
  const m = SIGNATURE.exec(sig)
  if (!KEY_ID.test(keyId) || !TIMESTAMP.test(ts) || !NONCE.test(nonce) || !m) return { ok: false, problem: 'malformed' }
  return { ok: true, value: { keyId, timestamp: Number(ts), timestampRaw: ts, nonce, signatureHex: m[1] as string } }
}

/**
 * True when `signatureHex` is the HMAC of `canonical` under any of `secrets`. Every secret is
 * tried and compared in constant time, so timing tells neither which secret nor how many
 * bytes matched.
 */
export function verifySignature(secrets: readonly string[], canonical: string, signatureHex: string): boolean {
  const given = Buffer.from(signatureHex, 'hex')
  if (given.length !== 32) return false
  let match = false
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(canonical).digest()
    if (timingSafeEqual(expected, given)) match = true
  }
  return match
}
