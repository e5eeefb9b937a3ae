/**
 * What respond's routes read from a request: the list query of CONTRACT §4 (`from`, `to`,
 * `limit`, a signed `cursor`; answers `{items, next}`), the operator the server's access hook
 * identified, and small JSON bodies. Every respond route parses its input here, so the same
 * mistake gets the same error code and message on every route.
 */
import { VigilError } from '@vigil/core'
import { isoToChText } from './clickhouse-time.js'

/** The server's signed cursor codec (same shape as server/src/cursor.ts); decode throws bad_cursor. */
export interface ListCursor {
  encode(kind: string, position: readonly string[]): string
  decode(kind: string, cursor: string, arity: number): string[]
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/
/** The server's codec refuses longer cursors anyway (bad_cursor); this bound only stops the copy. */
const MAX_CURSOR_LENGTH = 2048
export const badRequest = (detail: string) => new VigilError('VIGIL_ERR_API_BAD_REQUEST', detail)

export interface ListQueryOptions {
  /**
   * The longest value a filter may have.
   * @defaultValue 512
   */
  maxValueLength?: number
  /** Also take the cursor as `next` (a client echoing the answer's field); both at once is refused. */
  acceptNext?: boolean
}

/**
 * The query as single strings; unknown, repeated or overlong parameters are refused. With
 * `acceptNext`, a cursor given as `next` is answered as `cursor`.
 */
export function readListQuery(raw: unknown, known: readonly string[], options: ListQueryOptions = {}): Record<string, string> {
  const maxValueLength = options.maxValueLength ?? 512
  const cursorNames = options.acceptNext ? ['cursor', 'next'] : ['cursor']
  const allowed = new Set([...known, ...cursorNames, 'from', 'to', 'limit'])
  const out: Record<string, string> = {}
  if (raw === null || typeof raw !== 'object') return out
  for (const [k, v] of Object.entries(raw)) {
    if (!allowed.has(k)) throw badRequest(`unknown parameter "${k.slice(0, 32)}"`)
    if (typeof v !== 'string') throw badRequest(`${k} may be given once`)
    if (v.length > (cursorNames.includes(k) ? MAX_CURSOR_LENGTH : maxValueLength)) throw badRequest(`${k} is too long`)
    out[k] = v
  }
  if (out.next !== undefined) {
    if (out.cursor !== undefined) throw badRequest('give the cursor once, as cursor or next')
    out.cursor = out.next
    delete out.next
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
  if (v === undefined) return 100
  const limit = /^\d{1,4}$/.test(v) ? Number(v) : NaN
  if (!(limit >= 1 && limit <= 1000)) throw badRequest('limit must be an integer from 1 to 1000')
  return limit
}

/** The `(time, id)` position a `cursor` holds: where the next page starts, exclusive. */
export function beforeParam(cursors: ListCursor, kind: string, cursor: string | undefined): { at: string; id: string } | undefined {
  if (cursor === undefined) return undefined
  const [at, id] = cursors.decode(kind, cursor, 2) as [string, string]
  return { at, id }
}

/** A list page: `limit + 1` rows asked for, the extra one says whether a next page exists. */
export function page<T>(rows: readonly T[], limit: number, kind: string, cursors: ListCursor, position: (last: T) => readonly string[]): { items: T[]; next: string | null } {
  const items = rows.slice(0, limit)
  const last = items[items.length - 1]
  return { items, next: rows.length > limit && last !== undefined ? cursors.encode(kind, position(last)) : null }
}

/** An RFC 3339 time of an item → the ClickHouse text the cursor holds. */
export function cursorTime(iso: string): string {
  return isoToChText(iso)
}

/** `operator:<token id>` of the caller; refuses (auth_required) a request the access hook did not identify. */
export function operatorActor(request: unknown): string {
  const op = (request as { operator?: { id?: unknown } | null }).operator
  if (!op || typeof op.id !== 'string' || op.id === '') throw new VigilError('VIGIL_ERR_AUTH_REQUIRED')
  return `operator:${op.id}`
}

/** A JSON object body with only the named fields; `shape` is what the error shows, e.g. `{"note": …}`. */
export function objectBody(raw: unknown, fields: readonly string[], shape: string): Record<string, unknown> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw badRequest(`body must be ${shape}`)
  for (const k of Object.keys(raw)) if (!fields.includes(k)) throw badRequest(`unknown field "${k.slice(0, 32)}"; body must be ${shape}`)
  return raw as Record<string, unknown>
}

/**
 * The `{reason}` body of a change by hand: no body or no reason → reason_required, anything
 * else odd → bad_request. The stores check the reason's text and length.
 */
export function reasonBody(raw: unknown, fields: readonly string[] = ['reason']): Record<string, unknown> & { reason: unknown } {
  if (raw === undefined || raw === null) throw new VigilError('VIGIL_ERR_REASON_REQUIRED')
  const body = objectBody(raw, fields, `{${fields.map((f) => `"${f}": …`).join(', ')}}`)
  if (body.reason === undefined) throw new VigilError('VIGIL_ERR_REASON_REQUIRED')
  return body as Record<string, unknown> & { reason: unknown }
}
