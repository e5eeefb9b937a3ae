/**
 * `GET /v1/events` (CONTRACT §4): stored events, newest first, filtered and paged.
 *
 * Paging is keyset on (ts, source, api_key_id, id) — the events table's identity — so a
 * page boundary never moves when events arrive meanwhile: nothing is listed twice and
 * nothing is skipped. `from` is inclusive, `to` exclusive. Reads use FINAL so an event
 * that was retried and stored twice (CONTRACT §1) is listed once.
 */
import { isIP } from 'node:net'
import type { FastifyPluginAsync } from 'fastify'
import { OUTCOMES, VigilError, storeUnavailable, type Store } from '@vigil/core'
import type { CursorCodec } from './cursor.js'
import { EVENT_SELECT_LIST, rowField, toEventView, type EventView } from './event-view.js'
import { isClickHouseDateTime9, rfc3339ToClickHouse } from './time-format.js'

export const DEFAULT_EVENTS_LIMIT = 100
export const MAX_EVENTS_LIMIT = 1000
const CURSOR_KIND = 'events'

/** The filters of CONTRACT §4, each compared for equality. */
const STRING_FILTERS = { api_key_id: 128, account_id: 128, action: 64 } as const
const KNOWN_PARAMS = new Set([...Object.keys(STRING_FILTERS), 'client_ip', 'outcome', 'from', 'to', 'limit', 'cursor'])

export interface EventsPage {
  items: EventView[]
  next: string | null
}

export interface EventsQuery {
  api_key_id?: string
  account_id?: string
  action?: string
  outcome?: string
  client_ip?: string
  from?: string
  to?: string
  limit?: string
  cursor?: string
}

const badRequest = (detail: string) => new VigilError('VIGIL_ERR_API_BAD_REQUEST', detail)

/** Validates the query string at the edge; the names in errors are the parameters'. */
function readQuery(raw: unknown): EventsQuery {
  if (raw === null || typeof raw !== 'object') return {}
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(raw)) {
    // An unknown filter silently ignored would answer with more events than asked for.
    if (!KNOWN_PARAMS.has(name)) throw badRequest(`unknown parameter "${name.slice(0, 32)}"`)
    if (typeof value !== 'string') throw badRequest(`${name} may be given once`)
    out[name] = value
  }
  return out
}

interface SqlPlan {
  sql: string
  params: Record<string, unknown>
  limit: number
}

export function planEventsQuery(query: EventsQuery, cursors: CursorCodec): SqlPlan {
  const where: string[] = []
  const params: Record<string, unknown> = {}

  for (const [name, max] of Object.entries(STRING_FILTERS) as [keyof typeof STRING_FILTERS, number][]) {
    const value = query[name]
    if (value === undefined) continue
    if (value.length === 0 || value.length > max) throw badRequest(`${name} must be 1-${max} characters`)
    where.push(`${name} = {${name}:String}`)
    params[name] = value
  }
  if (query.outcome !== undefined) {
    if (!(OUTCOMES as readonly string[]).includes(query.outcome)) throw badRequest(`outcome must be one of ${OUTCOMES.join(', ')}`)
    where.push('outcome = {outcome:String}')
    params.outcome = query.outcome
  }
  if (query.client_ip !== undefined) {
    if (query.client_ip.length > 64 || isIP(query.client_ip) === 0) throw badRequest('client_ip must be an IPv4 or IPv6 address')
    // toIPv6 maps an IPv4 address to ::ffff:a.b.c.d, which is how ingest stores it.
    where.push('client_ip = toIPv6({client_ip:String})')
    params.client_ip = query.client_ip
  }
  for (const bound of ['from', 'to'] as const) {
    const value = query[bound]
    if (value === undefined) continue
    const ch = value.length <= 64 ? rfc3339ToClickHouse(value) : undefined
    if (!ch) throw badRequest(`${bound} must be an RFC 3339 time, e.g. 2026-11-24T09:30:00Z`)
    where.push(bound === 'from' ? "ts >= toDateTime64({from:String}, 9, 'UTC')" : "ts < toDateTime64({to:String}, 9, 'UTC')")
    params[bound] = ch
  }
  if (typeof params.from === 'string' && typeof params.to === 'string' && params.from > params.to) {
    throw badRequest('from must not be after to')
  }

  let limit = DEFAULT_EVENTS_LIMIT
  if (query.limit !== undefined) {
    limit = /^\d{1,4}$/.test(query.limit) ? Number(query.limit) : 0
    if (limit < 1 || limit > MAX_EVENTS_LIMIT) throw badRequest(`limit must be an integer from 1 to ${MAX_EVENTS_LIMIT}`)
  }

  if (query.cursor !== undefined) {
    const [ts, source, apiKeyId, id] = cursors.decode(CURSOR_KIND, query.cursor, 4) as [string, string, string, string]
    if (!isClickHouseDateTime9(ts)) throw new VigilError('VIGIL_ERR_API_BAD_CURSOR')
    where.push(
      "(ts, source, api_key_id, id) < (toDateTime64({c_ts:String}, 9, 'UTC'), {c_source:String}, {c_api_key_id:String}, {c_id:String})",
    )
    Object.assign(params, { c_ts: ts, c_source: source, c_api_key_id: apiKeyId, c_id: id })
  }

  // One row more than asked tells whether there is a next page without a count().
  params.limit_plus_one = limit + 1
  const sql = [
    `SELECT ${EVENT_SELECT_LIST} FROM events FINAL`,
    where.length ? `WHERE ${where.join(' AND ')}` : '',
    'ORDER BY ts DESC, source DESC, api_key_id DESC, id DESC',
    'LIMIT {limit_plus_one:UInt32}',
  ].join('\n')
  return { sql, params, limit }
}

export async function listEvents(store: Store, cursors: CursorCodec, rawQuery: unknown): Promise<EventsPage> {
  const plan = planEventsQuery(readQuery(rawQuery), cursors)
  let rows: Record<string, unknown>[]
  try {
    rows = await store.query<Record<string, unknown>>(plan.sql, plan.params)
  } catch (err) {
    throw storeUnavailable(err)
  }
  const page = rows.slice(0, plan.limit)
  const tsField = rowField('ts')
  const last = page[page.length - 1]
  const next =
    rows.length > plan.limit && last
      ? cursors.encode(CURSOR_KIND, [String(last[tsField]), String(last.source), String(last.api_key_id ?? ''), String(last.id)])
      : null
  return { items: page.map(toEventView), next }
}

export function eventsRoutes(deps: { store: Store; cursors: CursorCodec }): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/events', { config: { permission: 'events:read' } }, async (request) => listEvents(deps.store, deps.cursors, request.query))
  }
}
