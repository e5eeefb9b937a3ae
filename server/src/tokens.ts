/**
 * Operator bearer tokens (CONTRACT §4 `Authorization: Bearer`, §6 `vigil tokens …`).
 *
 * Relied on by: `app.ts` (every non-public request is authenticated by `verifyToken`) and
 * the CLI. Tokens live in `api_token_changes` (core/migrations/002), an append-only log:
 * each change is a new row with the next `version`, the current state of a token is its
 * highest version, and the clear token is never stored — only `hashToken(token)`.
 */
import { randomBytes } from 'node:crypto'
import { generateSecret, hashToken, safeEqual, storeUnavailable, VigilError, type Store } from '@vigil/core'
import { isRole, type Role } from './permissions.js'

/** Who a valid token speaks for. */
export interface Operator {
  id: string
  role: Role
  name: string
}

/** What `createToken` returns: the only time the clear token exists outside its holder. */
export interface CreatedToken extends Operator {
  token: string
  /** RFC 3339 UTC. */
  expires_at: string
}

export type TokenStatus = 'active' | 'revoked' | 'expired'

/** A token as listed: never its hash, never the token. */
export interface TokenInfo extends Operator {
  status: TokenStatus
  created_at: string
  expires_at: string
  revoked_at: string | null
}

export interface CreateTokenOptions {
  role: string
  name: string
  /** `30m`, `1h`, `7d`… @defaultValue `24h` */
  ttl?: string
  /** Recorded in the change log as who made the change. @defaultValue `''` */
  by?: string
}

export const DEFAULT_TOKEN_TTL = '24h'
/** Longer-lived operator credentials are what leaks and stays useful; make people renew. */
const MAX_TTL_MS = 366 * 86_400_000
/** How long a verification answer is reused; also the longest a revoked token keeps working in another process. */
const CACHE_MS = 5_000
const CACHE_MAX_ENTRIES = 10_000
const TOKEN_SHAPE = /^vgt_[A-Za-z0-9_-]{16,128}$/
const NAME_SHAPE = /^[^\p{Cc}]{1,128}$/u

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const

/** `30m` → 1 800 000. Throws `VIGIL_ERR_TOKEN_BAD_TTL`. */
export function parseTtl(ttl: string): number {
  const m = /^(\d{1,6})([smhd])$/.exec(ttl.trim())
  if (!m) throw new VigilError('VIGIL_ERR_TOKEN_BAD_TTL', `got "${ttl.slice(0, 20)}"`)
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]
  if (ms <= 0) throw new VigilError('VIGIL_ERR_TOKEN_BAD_TTL', 'must be more than zero')
  if (ms > MAX_TTL_MS) throw new VigilError('VIGIL_ERR_TOKEN_BAD_TTL', 'must be at most 366d')
  return ms
}

// Aliases differ from column names on purpose: ClickHouse resolves a name to an alias
// first, and `argMax(change, version) AS version` would nest one aggregate in another.
interface CurrentRow {
  id: string
  last_version: string
  last_change: string
  last_name: string
  last_role: string
  last_hash: string
  expires_ms: string
  created_ms: string
  changed_ms: string
}

/** Current state per token id, from the change log. 64-bit numbers arrive as strings. */
const CURRENT_SQL = `
  SELECT id,
    max(version) AS last_version,
    argMax(change, version) AS last_change,
    argMax(name, version) AS last_name,
    argMax(role, version) AS last_role,
    argMax(token_hash, version) AS last_hash,
    toUnixTimestamp64Milli(argMax(expires_at, version)) AS expires_ms,
    toUnixTimestamp64Milli(min(changed_at)) AS created_ms,
    toUnixTimestamp64Milli(argMax(changed_at, version)) AS changed_ms
  FROM api_token_changes`

const iso = (ms: number | string) => new Date(Number(ms)).toISOString()

function toInfo(row: CurrentRow, now: number): TokenInfo {
  const revoked = row.last_change === 'revoke'
  const status: TokenStatus = revoked ? 'revoked' : Number(row.expires_ms) <= now ? 'expired' : 'active'
  return {
    id: row.id,
    // A role this build does not know (written by a newer one) grants nothing: see verifyToken.
    role: row.last_role as Role,
    name: row.last_name,
    status,
    created_at: iso(row.created_ms),
    expires_at: iso(row.expires_ms),
    revoked_at: revoked ? iso(row.changed_ms) : null,
  }
}

async function query<T>(store: Store, sql: string, params: Record<string, unknown>): Promise<T[]> {
  try {
    return await store.query<T>(sql, params)
  } catch (err) {
    throw storeUnavailable(err)
  }
}

async function command(store: Store, sql: string, params: Record<string, unknown>): Promise<void> {
  try {
    await store.command(sql, params)
  } catch (err) {
    throw storeUnavailable(err)
  }
}

const INSERT_SQL = `
  INSERT INTO api_token_changes (id, version, change, name, role, token_hash, expires_at, changed_by)
  VALUES ({id:String}, {version:UInt64}, {change:String}, {name:String}, {role:String}, {token_hash:String},
          fromUnixTimestamp64Milli({expires_ms:Int64}, 'UTC'), {by:String})`

/**
 * The role, name and lifetime of a token request, or the error that refuses it. Also run by
 * the CLI before it opens anything, so a mistyped role is answered at once.
 */
export function checkTokenRequest(opts: Pick<CreateTokenOptions, 'role' | 'name' | 'ttl'>): { role: Role; name: string; ttlMs: number } {
  if (!isRole(opts.role)) throw new VigilError('VIGIL_ERR_TOKEN_BAD_ROLE', `"${String(opts.role).slice(0, 32)}"`)
  const name = String(opts.name ?? '').trim()
  if (!NAME_SHAPE.test(name)) throw new VigilError('VIGIL_ERR_TOKEN_BAD_NAME')
  return { role: opts.role, name, ttlMs: parseTtl(opts.ttl ?? DEFAULT_TOKEN_TTL) }
}

/** Issues a token. The clear token is in the answer and nowhere else. */
export async function createToken(store: Store, opts: CreateTokenOptions): Promise<CreatedToken> {
  const { role, name, ttlMs } = checkTokenRequest(opts)
  const id = `tok_${randomBytes(8).toString('hex')}`
  const token = generateSecret('vgt')
  const expiresMs = Date.now() + ttlMs
  await command(store, INSERT_SQL, {
    id,
    version: 1,
    change: 'create',
    name,
    role,
    token_hash: hashToken(token),
    expires_ms: expiresMs,
    by: opts.by ?? '',
  })
  return { id, token, role, name, expires_at: iso(expiresMs) }
}

interface CacheEntry {
  operator: Operator | null
  expiresMs: number
  cachedUntil: number
}

// Per store, so two stores in one process (tests) never share answers. Keyed by the hash:
// clear tokens are not kept in memory longer than a request.
const caches = new WeakMap<Store, Map<string, CacheEntry>>()

function cacheOf(store: Store): Map<string, CacheEntry> {
  let c = caches.get(store)
  if (!c) {
    c = new Map()
    caches.set(store, c)
  }
  return c
}

/**
 * The operator a bearer token speaks for, or null when it is unknown, expired, revoked or
 * not token-shaped. Answers (including "unknown") are cached for a few seconds so a busy
 * dashboard does not query ClickHouse on every request. Throws `store_unavailable` when
 * the store cannot answer: an outage must not look like a bad token.
 */
export async function verifyToken(store: Store, token: string): Promise<Operator | null> {
  if (!TOKEN_SHAPE.test(token)) return null
  const hash = hashToken(token)
  const now = Date.now()
  const cache = cacheOf(store)
  const hit = cache.get(hash)
  if (hit && hit.cachedUntil > now) return hit.operator && hit.expiresMs > now ? hit.operator : null

  const rows = await query<CurrentRow>(
    store,
    `${CURRENT_SQL} WHERE id IN (SELECT id FROM api_token_changes WHERE token_hash = {hash:String}) GROUP BY id`,
    { hash },
  )
  const row = rows.find((r) => safeEqual(r.last_hash, hash))
  let operator: Operator | null = null
  let expiresMs = 0
  if (row && row.last_change !== 'revoke' && isRole(row.last_role)) {
    expiresMs = Number(row.expires_ms)
    if (expiresMs > now) operator = { id: row.id, role: row.last_role, name: row.last_name }
  }
  if (cache.size >= CACHE_MAX_ENTRIES) cache.delete(cache.keys().next().value as string)
  cache.set(hash, { operator, expiresMs, cachedUntil: now + CACHE_MS })
  return operator
}

/** Revokes a token (idempotent on an already revoked one). Throws `token_not_found`. */
export async function revokeToken(store: Store, id: string, opts: { by?: string } = {}): Promise<TokenInfo> {
  const rows = await query<CurrentRow>(store, `${CURRENT_SQL} WHERE id = {id:String} GROUP BY id`, { id })
  const row = rows[0]
  if (!row) throw new VigilError('VIGIL_ERR_TOKEN_NOT_FOUND', `"${id.slice(0, 64)}"`)
  if (row.last_change !== 'revoke') {
    await command(store, INSERT_SQL, {
      id,
      version: Number(row.last_version) + 1,
      change: 'revoke',
      name: row.last_name,
      role: row.last_role,
      token_hash: row.last_hash,
      expires_ms: Number(row.expires_ms),
      by: opts.by ?? '',
    })
  }
  // This process stops honouring it at once; others within CACHE_MS.
  const cache = cacheOf(store)
  for (const [hash, entry] of cache) if (entry.operator?.id === id) cache.delete(hash)
  const after = await query<CurrentRow>(store, `${CURRENT_SQL} WHERE id = {id:String} GROUP BY id`, { id })
  return toInfo(after[0] ?? row, Date.now())
}

/** Every token ever issued, oldest first, with its current status. */
export async function listTokens(store: Store): Promise<TokenInfo[]> {
  const rows = await query<CurrentRow>(store, `${CURRENT_SQL} GROUP BY id ORDER BY created_ms, id`, {})
  const now = Date.now()
  return rows.map((r) => toInfo(r, now))
}
