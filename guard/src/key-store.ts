/**
 * An in-memory `KeyStore` (seams.ts) for one process: keys and their signing secrets, the
 * secrets encrypted with AES-256-GCM under a 32-byte key the trading API supplies (from its
 * KMS, Vault or HSM — never from source code). A secret is decrypted only to verify a
 * signature and is never logged, thrown or put in an event.
 *
 * Rotation keeps the old secret valid until the overlap ends, so clients can switch over
 * without a failed request; expiry refuses the key with `expired_key` from the given time.
 *
 * A database-backed store implements the same two methods (see the README, "Keeping keys
 * in a database"); this one is also the reference its tests can be compared with.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { parseCidr } from './cidr.js'
import { eventId, eventTs } from './event-fields.js'
import type { EventSink, GuardKey, KeyStore } from './seams.js'

const KEY_ID = /^[A-Za-z0-9._:-]{1,128}$/
const MIN_SECRET_LENGTH = 16

export interface MemoryKeyStoreOptions {
  /** 32 bytes (AES-256) that encrypt every stored secret; supply it from a secret manager. */
  encryptionKey: Uint8Array
  /** Lifecycle events (`key.create`, `key.rotate`, `key.expire`) go here when given. */
  sink?: EventSink
  /** Clock in epoch ms. @defaultValue Date.now */
  now?: () => number
}

interface SealedSecret {
  iv: Buffer
  ciphertext: Buffer
  tag: Buffer
  /** Epoch ms after which this secret no longer verifies; undefined: no end. */
  validUntil: number | undefined
}

interface Entry {
  key: GuardKey
  /** Newest first. */
  secrets: SealedSecret[]
}

/** 32 random bytes as base64url: a fresh signing secret to hand to a client once. */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url')
}

export class MemoryKeyStore implements KeyStore {
  readonly #encryptionKey: Buffer
  readonly #entries = new Map<string, Entry>()
  readonly #sink: EventSink | undefined
  readonly #now: () => number

  constructor(opts: MemoryKeyStoreOptions) {
    if (opts.encryptionKey.length !== 32) throw new Error('encryptionKey must be 32 bytes (AES-256)')
    this.#encryptionKey = Buffer.from(opts.encryptionKey)
    this.#sink = opts.sink
    this.#now = opts.now ?? Date.now
  }

  /** Registers a key with its signing secret. Throws on a bad id, allowlist or expiry, or a known id. */
  add(key: GuardKey, secret: string): void {
    checkKey(key)
    if (this.#entries.has(key.id)) throw new Error(`key ${key.id} already exists`)
    checkSecret(secret)
    this.#entries.set(key.id, { key: structuredClone(key), secrets: [this.#seal(key.id, secret, undefined)] })
    this.#lifecycle('key.create', key)
  }

  /**
   * Makes `newSecret` the key's secret. The secrets it had stay valid for `overlapMs` more
   * (both verify during the overlap), then stop verifying.
   */
  rotate(keyId: string, newSecret: string, opts: { overlapMs: number }): void {
    const entry = this.#entry(keyId)
    checkSecret(newSecret)
    if (!Number.isFinite(opts.overlapMs) || opts.overlapMs < 0) throw new Error('overlapMs must be a non-negative number')
    const end = this.#now() + opts.overlapMs
    const live = this.#live(entry).map((s) => ({ ...s, validUntil: Math.min(s.validUntil ?? end, end) }))
    entry.secrets = [this.#seal(keyId, newSecret, undefined), ...live]
    this.#lifecycle('key.rotate', entry.key, { overlap_ms: String(opts.overlapMs) })
  }

  /** The key expires at `at` (default now): from then on it is refused with `expired_key`. */
  expire(keyId: string, at: Date = new Date(this.#now())): void {
    const entry = this.#entry(keyId)
    entry.key.expires_at = at.toISOString()
    this.#lifecycle('key.expire', entry.key, { expires_at: entry.key.expires_at })
  }

  async get(keyId: string): Promise<GuardKey | undefined> {
    const entry = this.#entries.get(keyId)
    return entry ? structuredClone(entry.key) : undefined
  }

  async secretsFor(keyId: string): Promise<readonly string[]> {
    const entry = this.#entries.get(keyId)
    if (!entry) return []
    entry.secrets = this.#live(entry)
    return entry.secrets.map((s) => this.#open(keyId, s))
  }

  #entry(keyId: string): Entry {
    const entry = this.#entries.get(keyId)
    if (!entry) throw new Error(`unknown key ${keyId}`)
    return entry
  }

  #live(entry: Entry): SealedSecret[] {
    const now = this.#now()
    return entry.secrets.filter((s) => s.validUntil === undefined || s.validUntil > now)
  }

  #seal(keyId: string, secret: string, validUntil: number | undefined): SealedSecret {
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', this.#encryptionKey, iv)
    // The key id is authenticated data: a ciphertext moved to another key does not open.
    cipher.setAAD(Buffer.from(keyId))
    const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()])
    return { iv, ciphertext, tag: cipher.getAuthTag(), validUntil }
  }

  #open(keyId: string, s: SealedSecret): string {
    const decipher = createDecipheriv('aes-256-gcm', this.#encryptionKey, s.iv)
    decipher.setAAD(Buffer.from(keyId))
    decipher.setAuthTag(s.tag)
    return Buffer.concat([decipher.update(s.ciphertext), decipher.final()]).toString('utf8')
  }

  #lifecycle(action: string, key: GuardKey, attrs?: Record<string, string>): void {
    if (!this.#sink) return
    this.#sink.emit({
      id: eventId(),
      ts: eventTs(this.#now()),
      action,
      outcome: 'success',
      api_key_id: key.id,
      account_id: key.account_id,
      ...(key.user_id !== undefined ? { user_id: key.user_id } : {}),
      scopes: [...key.scopes],
      ...(attrs ? { attrs } : {}),
    })
  }
}

function checkKey(key: GuardKey): void {
  if (!KEY_ID.test(key.id)) throw new Error('key id must be 1–128 of A–Z a–z 0–9 . _ : -')
  if (!key.account_id) throw new Error(`key ${key.id}: account_id is required`)
  if (!key.tier) throw new Error(`key ${key.id}: tier is required`)
  for (const c of key.ip_allowlist ?? []) parseCidr(c)
  if (key.expires_at !== undefined && Number.isNaN(Date.parse(key.expires_at))) throw new Error(`key ${key.id}: expires_at is not a date`)
}

function checkSecret(secret: string): void {
  // The message never echoes the secret.
  if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) throw new Error(`a signing secret must be at least ${MIN_SECRET_LENGTH} characters`)
}
