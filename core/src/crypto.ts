/**
 * Vigil's cryptography: request signatures (CONTRACT §2 and §3), the master key, secrets at
 * rest, and operator tokens.
 *
 * Relied on by: ingest and the control channel (`signPayload`/`verifySignature` must agree
 * byte for byte with every trading API's signer), the source and token stores (the
 * `v1.<iv>.<tag>.<ciphertext>` blob format and `hashToken` output are persisted, so changing
 * either is a migration), and the CLI (`generateSecret` prefixes are what operators see).
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs'
import path from 'node:path'
import type { VigilConfig } from './config.js'
import { VigilError } from './errors.js'

const SIGNATURE_SCHEME = 'v1='
/** Bounds the work one request can make us do: rotation needs two values, eight is generous. */
const MAX_SIGNATURE_VALUES = 8
const HEX_SHA256 = /^[0-9a-fA-F]{64}$/

function hmacSha256(secret: string, timestamp: string | number, body: Buffer | string): Buffer {
  // Two updates instead of Buffer.concat: bodies reach 10 MiB and copying them buys nothing.
  return createHmac('sha256', secret).update(`${timestamp}.`, 'utf8').update(body).digest()
}

/** `v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>`, the value of `Vigil-Signature`. */
export function signPayload(secret: string, timestamp: string | number, body: Buffer | string): string {
  return SIGNATURE_SCHEME + hmacSha256(secret, timestamp, body).toString('hex')
}

/**
 * True when any `v1=` value of `header` is the signature of `body` under any of `secrets`
 * (several secrets while a source's secret is being rotated, several values while the
 * trading API is). Never throws on a malformed header: that is just a bad signature.
 */
export function verifySignature(secrets: readonly string[], timestamp: string, body: Buffer, header: string): boolean {
  const candidates: Buffer[] = []
  for (const part of header.split(',')) {
    const value = part.trim()
    // Unknown schemes are skipped rather than rejected so a future v2 can be sent alongside v1.
    if (!value.startsWith(SIGNATURE_SCHEME)) continue
    const hex = value.slice(SIGNATURE_SCHEME.length)
    // Buffer.from(…, 'hex') silently stops at the first non-hex character, so check first.
    if (HEX_SHA256.test(hex)) candidates.push(Buffer.from(hex, 'hex'))
    if (candidates.length === MAX_SIGNATURE_VALUES) break
  }
  if (candidates.length === 0) return false
  let matched = false
  for (const secret of secrets) {
    const expected = hmacSha256(secret, timestamp, body)
    for (const candidate of candidates) {
      // No early return: how many comparisons ran must not depend on which one matched.
      if (timingSafeEqual(expected, candidate)) matched = true
    }
  }
  return matched
}

/** Constant-time string comparison; only the lengths can leak. */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8')
  const y = Buffer.from(b, 'utf8')
  return x.length === y.length && timingSafeEqual(x, y)
}

const KEY_BYTES = 32
const BASE64_KEY = /^(?:[A-Za-z0-9+/]{43}|[A-Za-z0-9_-]{43})=?$/

/** 64 hex characters or base64/base64url of 32 bytes; anything else is undefined. */
function parseKey(text: string): Buffer | undefined {
  const t = text.trim()
  // Hex first: 64 hex characters are also valid base64, of 48 bytes.
  if (HEX_SHA256.test(t)) return Buffer.from(t, 'hex')
  // Strict on the alphabet because Buffer.from(…, 'base64') skips characters it does not know.
  if (BASE64_KEY.test(t)) {
    const key = Buffer.from(t, t.includes('-') || t.includes('_') ? 'base64url' : 'base64')
    if (key.length === KEY_BYTES) return key
  }
  return undefined
}

/**
 * The 32-byte key that encrypts secrets at rest: `VIGIL_MASTER_KEY` when set, else
 * `<dataDir>/master.key`, created on first run. The file is refused when group or others
 * may read it, because whoever reads it reads every source secret.
 */
export function loadMasterKey(config: VigilConfig): Buffer {
  if (config.masterKey !== undefined) {
    const key = parseKey(config.masterKey)
    if (!key) throw new VigilError('VIGIL_ERR_CRYPTO_MASTER_KEY', 'VIGIL_MASTER_KEY must be 32 bytes as 64 hex characters or base64')
    return key
  }
  const file = path.join(config.dataDir, 'master.key')
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 })
  createKeyFileIfAbsent(file)
  const st = statSync(file)
  if (!st.isFile()) throw new VigilError('VIGIL_ERR_CRYPTO_MASTER_KEY', `${file} is not a regular file`)
  if ((st.mode & 0o077) !== 0) {
    throw new VigilError('VIGIL_ERR_CRYPTO_MASTER_KEY', 'master.key must be readable by its owner only (chmod 600)')
  }
  const key = parseKey(readFileSync(file, 'utf8'))
  if (!key) throw new VigilError('VIGIL_ERR_CRYPTO_MASTER_KEY', `${file} must hold 32 bytes as 64 hex characters or base64`)
  return key
}

/**
 * Writes a fresh key beside the target and hard-links it into place: link() fails when the
 * target exists, so two processes starting together agree on one key, and nobody ever
 * reads a half-written file.
 */
function createKeyFileIfAbsent(file: string): void {
  try {
    statSync(file)
    return
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
  const fd = openSync(tmp, 'wx', 0o600)
  try {
    writeSync(fd, `${randomBytes(KEY_BYTES).toString('hex')}\n`)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  try {
    linkSync(tmp, file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  } finally {
    unlinkSync(tmp)
  }
  // The key only matters if it survives a crash right after the first secret was encrypted.
  const dirFd = openSync(path.dirname(file), 'r')
  try {
    fsyncSync(dirFd)
  } finally {
    closeSync(dirFd)
  }
}

const BLOB_VERSION = 'v1'
const IV_BYTES = 12
const TAG_BYTES = 16
const BASE64URL = /^[A-Za-z0-9_-]*$/

/**
 * AES-256-GCM under `key` with a random IV: `v1.<iv>.<tag>.<ciphertext>`, base64url parts.
 * `aad` (e.g. the source id) is authenticated, not stored: a blob copied onto another
 * record then fails to decrypt instead of lending that record its secret.
 */
export function encryptSecret(key: Buffer, plaintext: string, aad?: string): string {
  if (key.length !== KEY_BYTES) throw new VigilError('VIGIL_ERR_CRYPTO_MASTER_KEY', 'the key must be 32 bytes')
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES })
  if (aad !== undefined) cipher.setAAD(Buffer.from(aad, 'utf8'))
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
  const tag = cipher.getAuthTag()
  return [BLOB_VERSION, iv.toString('base64url'), tag.toString('base64url'), ciphertext.toString('base64url')].join('.')
}

/** Inverse of `encryptSecret`; any failure is `VIGIL_ERR_CRYPTO_DECRYPT`, with no detail that could help forge one. */
export function decryptSecret(key: Buffer, blob: string, aad?: string): string {
  const parts = blob.split('.')
  const [version, ivText, tagText, ctText] = parts
  if (
    parts.length !== 4 ||
    version !== BLOB_VERSION ||
    ivText === undefined ||
    tagText === undefined ||
    ctText === undefined ||
    !BASE64URL.test(ivText) ||
    !BASE64URL.test(tagText) ||
    !BASE64URL.test(ctText)
  ) {
    throw new VigilError('VIGIL_ERR_CRYPTO_DECRYPT', 'not a v1 secret blob')
  }
  const iv = Buffer.from(ivText, 'base64url')
  const tag = Buffer.from(tagText, 'base64url')
  if (key.length !== KEY_BYTES || iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
    throw new VigilError('VIGIL_ERR_CRYPTO_DECRYPT')
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES })
    decipher.setAuthTag(tag)
    if (aad !== undefined) decipher.setAAD(Buffer.from(aad, 'utf8'))
    return Buffer.concat([decipher.update(Buffer.from(ctText, 'base64url')), decipher.final()]).toString('utf8')
  } catch {
    // Wrong key, wrong aad and tampering are indistinguishable by design of GCM.
    throw new VigilError('VIGIL_ERR_CRYPTO_DECRYPT')
  }
}

/** A new credential: `vgs_…` is a source's signing secret, `vgt_…` an operator token. The prefix lets secret scanners and the masker recognise them. */
export function generateSecret(prefix: 'vgs' | 'vgt'): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`
}

/**
 * How operator tokens are stored. A plain SHA-256 is right here, unlike for passwords:
 * tokens carry 256 random bits, so there is nothing for a slow hash to protect against
 * guessing, and every API request must verify one cheaply.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}
