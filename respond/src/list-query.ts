/**
 * Query parsing shared by respond's list routes (CONTRACT §4: `from`, `to`, `limit`, a
 * signed `cursor`; answers `{items, next}`), and the server's cursor codec they receive.
 */
import { VigilError } from '@vigil/core'
import { isoToCh } from './clickhouse-time.js'

/** The server's signed cursor codec (same shape as server/src/cursor.ts). */
export interface ListCursor {
  encode(kind: string, position: readonly string[]): string
  decode(kind: string, cursor: string, arity: number): string[]
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/
export const badRequest = (detail: string) => new VigilError('VIGIL_ERR_API_BAD_REQUEST', detail)

/** The query as single strings; unknown, repeated or overlong parameters are refused. */
export function readListQuery(raw: unknown, known: readonly string[]): Record<string, string> {
  const allowed = new Set([...known, 'from', 'to', 'limit', 'cursor'])
  const out: Record<string, string> = {}
  if (raw === null || typeof raw !== 'object') return out
  for (const [k, v] of Object.entries(raw)) {
    if (!allowed.has(k)) throw badRequest(`unknown parameter "${k.slice(0, 32)}"`)
    if (typeof v !== 'string') throw badRequest(`${k} may be given once`)
    if (v.length > 512) throw badRequest(`${k} is too long`)
    out[k] = v
  }
  return out
}

/** `from`/`to` as milliseconds. */
export function timeParam(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined
  const ms = RFC3339.test(v) ? Date.parse(v) : NaN
  if (Number.isNaN(ms)) throw badRequest(`${name} must be an RFC 3339 time`)
  return ms
}

/** @defaultValue 100, at most 1000 */
export function limitParam(v: string | undefined): number {
  const limit = v === undefined ? 100 : Number(v)
  if (!/^\d+$/.test(v ?? '100') || !Number.isInteger(limit) || limit < 1 || limit > 1000) throw badRequest('limit must be an integer from 1 to 1000')
  return limit
}

/** A list page: `limit + 1` rows asked for, the extra one says whether a next page exists. */
export function page<T>(rows: readonly T[], limit: number, kind: string, cursors: ListCursor, position: (last: T) => readonly string[]): { items: T[]; next: string | null } {
  const items = rows.slice(0, limit)
  const last = items[items.length - 1]
  return { items, next: rows.length > limit && last !== undefined ? cursors.encode(kind, position(last)) : null }
}

/** An RFC 3339 time of an item → the ClickHouse text the cursor holds. */
export function cursorTime(iso: string): string {
  return isoToCh(iso) ?? iso
}

/** `operator:<token id>` of the caller (set by the server's access hook), or null. */
export function operatorActor(request: unknown): string | null {
  const op = (request as { operator?: { id: string; name: string } | null }).operator
  return op && typeof op.id === 'string' ? `operator:${op.id}` : null
}
