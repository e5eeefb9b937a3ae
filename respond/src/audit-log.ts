/**
 * The platform's own audit log (DESIGN "Storage"), hash-chained in ClickHouse's `audit_log`.
 *
 * Relied on by: every state store in respond (each change is one entry), the server's token
 * and user commands, `vigil audit verify` and the `audit-integrity` report.
 * - Row n carries row n-1's hash as `prev_hash` (the first row a run of zeros) and its own
 *   `hash` = sha256 of the canonical JSON array [seq, at, actor, action, subject, detail,
 *   prev_hash], `at` in ClickHouse's `YYYY-MM-DD hh:mm:ss.ffffff` form and `detail` the JSON
 *   text exactly as stored (keys sorted). Anyone can recompute it from the table alone.
 * - Appends are numbered under one Redis lock across processes and group-committed: many
 *   concurrent appends become one insert, each row still chained to the one before it.
 * - `detail`, `actor` and `subject` are masked before they are hashed and stored: the chain
 *   must never be the place a secret survives.
 * - `verify()` walks the whole chain in pages and reports every break: `edited` (a row's hash
 *   does not match its content, or the head kept in Redis), `missing` (a seq gap, or a
 *   prev_hash that names no earlier row), `reordered` (a prev_hash naming a row other than
 *   the one before), `truncated` (the head in Redis is past the last stored row).
 */
import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
import { maskEvent, maskIdentifier, type Store } from '@vigil/core'
import type { AuditEntry, AuditLog, AuditProblem, AuditVerification } from './seams.js'
import { createGroupCommitter, type ChainHead } from './group-commit.js'
import { chToIso, dateToCh, msToCh } from './clickhouse-time.js'

export const AUDIT_GENESIS_HASH = '0'.repeat(64)
const COLUMNS = ['seq', 'at', 'actor', 'action', 'subject', 'detail', 'prev_hash', 'hash'] as const
/** A detail bigger than this is replaced by a note saying so: the chain is not a blob store. */
const MAX_DETAIL_CHARS = 64 * 1024
const MAX_FIELD_CHARS = 512
/** Past this many problems the chain is plainly broken; listing more helps nobody. */
const MAX_PROBLEMS = 1000

export interface AuditRecord {
  seq: number
  at: string
  actor: string
  action: string
  subject: string
  detail: Record<string, unknown>
  prev_hash: string
  hash: string
}

export interface AuditListFilter {
  actor?: string
  action?: string
  subject?: string
  fromMs?: number
  toMs?: number
  /** Entries with a smaller seq (the list is newest first). */
  beforeSeq?: number
  limit: number
}

export interface AuditLogStore extends AuditLog {
  list(filter: AuditListFilter): Promise<AuditRecord[]>
  /** Resolves once every append made so far is stored. */
  idle(): Promise<void>
}

export interface AuditLogOptions {
  store: Store
  redis: Redis
  /** Start of the Redis keys (lock and chain head). @defaultValue 'vigil:' */
  keyPrefix?: string
  /** Rows read per page by `verify`. @defaultValue 10000 */
  pageSize?: number
  onLeaseLost?(key: string): void
}

interface StoredRow {
  seq: string
  at: string
  actor: string
  action: string
  subject: string
  detail: string
  prev_hash: string
  hash: string
}

/** JSON with object keys sorted at every depth, so the same detail always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`
  const obj = value as Record<string, unknown>
  const parts = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`)
  return `{${parts.join(',')}}`
}

export function auditHash(row: { seq: number; at: string; actor: string; action: string; subject: string; detail: string; prev_hash: string }): string {
  const canonical = JSON.stringify([row.seq, row.at, row.actor, row.action, row.subject, row.detail, row.prev_hash])
  return createHash('sha256').update(canonical, 'utf8').digest('hex')
}

/** A plain, masked, canonical copy of `detail` as the JSON text to store. */
export function maskedDetail(detail: Record<string, unknown>): string {
  let copy: unknown
  try {
    copy = JSON.parse(JSON.stringify(detail ?? {}, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? '{}')
  } catch {
    return canonicalJson({ unserialisable: true })
  }
  if (copy === null || typeof copy !== 'object' || Array.isArray(copy)) copy = { value: copy }
  // Wrapped under a name maskEvent does not know, every string inside is treated as free text
  // and every secret-sounding key (password, token, authorization …) has its value masked.
  maskEvent({ detail: copy })
  const text = canonicalJson(copy)
  return text.length > MAX_DETAIL_CHARS ? canonicalJson({ truncated: true, chars: text.length }) : text
}

const field = (s: unknown) => maskIdentifier(String(s ?? '').slice(0, MAX_FIELD_CHARS))

export function createAuditLog(opts: AuditLogOptions): AuditLogStore {
  const { store, redis } = opts
  const prefix = opts.keyPrefix ?? 'vigil:'
  const pageSize = opts.pageSize ?? 10_000

  async function loadStoredHead(): Promise<ChainHead | null> {
    const rows = await store.query<{ seq: string; hash: string }>('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1')
    const r = rows[0]
    return r ? { seq: Number(r.seq), hash: r.hash } : null
  }

  const committer = createGroupCommitter<AuditEntry, { seq: number; hash: string }>({
    redis,
    key: `${prefix}audit`,
    loadStoredHead,
    ...(opts.onLeaseLost ? { onLeaseLost: opts.onLeaseLost } : {}),
    async commit(batch, head) {
      const at = dateToCh(new Date())
      let seq = head.seq
      let prev = head.seq === 0 ? AUDIT_GENESIS_HASH : head.hash
      const lines: string[] = []
      const results: Array<{ seq: number; hash: string }> = []
      for (const entry of batch) {
        seq += 1
        const row = { seq, at, actor: field(entry.actor), action: field(entry.action), subject: field(entry.subject), detail: maskedDetail(entry.detail), prev_hash: prev }
        const hash = auditHash(row)
        lines.push(`${JSON.stringify({ ...row, hash })}\n`)
        results.push({ seq, hash })
        prev = hash
      }
      await store.insertNdjson('audit_log', COLUMNS, lines.join(''))
      return { results, head: { seq, hash: prev } }
    },
  })

  async function ownerOf(hash: string): Promise<number | undefined> {
    const rows = await store.query<{ seq: string }>('SELECT seq FROM audit_log WHERE hash = {h:String} ORDER BY seq LIMIT 1', { h: hash })
    return rows[0] ? Number(rows[0].seq) : undefined
  }

  async function verify(): Promise<AuditVerification> {
    // The head first: rows appended during the walk are then simply past it, never "missing".
    const head = await committer.head()
    const problems: AuditProblem[] = []
    const report = (p: AuditProblem) => {
      if (problems.length < MAX_PROBLEMS) problems.push(p)
    }
    let rows = 0
    let last: ChainHead | null = null
    let headHashSeen: string | undefined
    let cursor: { seq: number; hash: string } | null = null
    for (;;) {
      const page: StoredRow[] = await store.query<StoredRow>(
        `SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit_log
         WHERE {first:UInt8} = 1 OR (seq >= {s:UInt64} AND (seq, hash) > ({s:UInt64}, {h:String}))
         ORDER BY seq, hash LIMIT {n:UInt32}`,
        { first: cursor ? 0 : 1, s: cursor?.seq ?? 0, h: cursor?.hash ?? '', n: pageSize },
      )
      for (const r of page) {
        rows += 1
        const seq = Number(r.seq)
        const expected = last ? last.seq + 1 : 1
        if (auditHash({ seq, at: r.at, actor: r.actor, action: r.action, subject: r.subject, detail: r.detail, prev_hash: r.prev_hash }) !== r.hash) {
          report({ seq, problem: 'edited', detail: `row ${seq} does not match its hash` })
        }
        if (last && seq === last.seq) {
          report({ seq, problem: 'edited', detail: `a second row claims seq ${seq}` })
        } else if (seq > expected) {
          report({ seq: expected, problem: 'missing', detail: seq - 1 === expected ? `row ${expected} is absent` : `rows ${expected}-${seq - 1} are absent` })
        } else {
          const prevHash = last ? last.hash : AUDIT_GENESIS_HASH
          if (r.prev_hash !== prevHash) {
            const owner = r.prev_hash === AUDIT_GENESIS_HASH ? 0 : await ownerOf(r.prev_hash)
            if (owner !== undefined && owner !== seq - 1) {
              report({ seq, problem: 'reordered', detail: `row ${seq} follows row ${owner} in the chain, not row ${seq - 1}` })
            } else {
              report({ seq, problem: 'missing', detail: `row ${seq}'s prev_hash names no stored row: a row before it was removed or replaced` })
            }
          }
        }
        if (head && seq === head.seq) headHashSeen = r.hash
        last = { seq, hash: r.hash }
      }
      const tail = page[page.length - 1]
      if (page.length < pageSize || !tail) break
      cursor = { seq: Number(tail.seq), hash: tail.hash }
    }
    if (head && head.seq > 0) {
      const lastSeq = last?.seq ?? 0
      if (head.seq > lastSeq) {
        report({ seq: lastSeq + 1, problem: 'truncated', detail: `the chain ends at ${lastSeq} but reached ${head.seq}: its tail was removed` })
      } else if (headHashSeen !== undefined && headHashSeen !== head.hash) {
        report({ seq: head.seq, problem: 'edited', detail: `row ${head.seq} differs from the chain head recorded when it was written` })
      }
    }
    return { ok: problems.length === 0, rows, head: last, problems }
  }

  async function list(f: AuditListFilter): Promise<AuditRecord[]> {
    const where: string[] = []
    const params: Record<string, unknown> = { n: f.limit }
    const add = (cond: string, name: string, value: unknown) => {
      where.push(cond)
      params[name] = value
    }
    if (f.actor !== undefined) add('actor = {actor:String}', 'actor', f.actor)
    if (f.action !== undefined) add('action = {action:String}', 'action', f.action)
    if (f.subject !== undefined) add('subject = {subject:String}', 'subject', f.subject)
    if (f.fromMs !== undefined) add("at >= toDateTime64({from:String}, 6, 'UTC')", 'from', msToCh(f.fromMs))
    if (f.toMs !== undefined) add("at < toDateTime64({to:String}, 6, 'UTC')", 'to', msToCh(f.toMs))
    if (f.beforeSeq !== undefined) add('seq < {before:UInt64}', 'before', f.beforeSeq)
    const rows = await store.query<StoredRow>(
      `SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit_log
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT {n:UInt32}`,
      params,
    )
    return rows.map((r) => {
      let detail: Record<string, unknown> = {}
      try {
        detail = JSON.parse(r.detail) as Record<string, unknown>
      } catch {
        // an edited row: verify reports it; the list still shows the row
      }
      return { seq: Number(r.seq), at: chToIso(r.at), actor: r.actor, action: r.action, subject: r.subject, detail, prev_hash: r.prev_hash, hash: r.hash }
    })
  }

  return {
    append: (entry) => committer.submit(entry),
    verify,
    list,
    idle: () => committer.idle(),
  }
}
