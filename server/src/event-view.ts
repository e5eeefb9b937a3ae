/**
 * Stored events as the operator API shows them: the flat `events` columns rebuilt into the
 * nested shape of CONTRACT §1 plus ingest's enrichment (`source`, `received_at`,
 * `clock_skew_ms`, `geo`). Everything is derived from `EVENT_COLUMNS`, so a column added
 * to the event schema appears here without an edit.
 *
 * Relied on by: `GET /v1/events` answers (and the dashboard that reads them).
 */
import { EVENT_COLUMNS, EnrichmentSchema, type EventColumn } from '@vigil/core'
import { clickHouseToRfc3339 } from './time-format.js'

type Kind = 'time' | 'ip' | 'int64' | 'plain'

function kindOf(type: string): Kind {
  if (type.includes('DateTime64')) return 'time'
  if (type.includes('IPv6') || type.includes('IPv4')) return 'ip'
  // 64-bit integers arrive quoted (output_format_json_quote_64bit_integers); the values
  // here (byte counts) fit a double, so they are shown as numbers.
  if (/U?Int64/.test(type)) return 'int64'
  return 'plain'
}

const ENRICHMENT = new Set(Object.keys(EnrichmentSchema.properties))

interface ViewColumn extends EventColumn {
  kind: Kind
  /** The name the value has in a result row. */
  field: string
}

/**
 * Rendered columns get their own alias: in ClickHouse an alias shadows the column of the
 * same name everywhere in the query, so `toString(ts) AS ts` would turn `WHERE ts >= …`
 * and the keyset comparison into string comparisons.
 */
const renderedName = (name: string) => `${name}__text`

/** Event fields first, in schema order, then what ingest added. */
const VIEW_COLUMNS: readonly ViewColumn[] = [
  ...EVENT_COLUMNS.filter((c) => !ENRICHMENT.has(c.path[0] as string)),
  ...EVENT_COLUMNS.filter((c) => ENRICHMENT.has(c.path[0] as string)),
].map((c) => {
  const kind = kindOf(c.type)
  return { ...c, kind, field: kind === 'time' || kind === 'ip' ? renderedName(c.name) : c.name }
})

const quote = (name: string) => `\`${name.replaceAll('`', '')}\``

/**
 * The SELECT list for `events`. Times and addresses are rendered by ClickHouse as text
 * (nanoseconds and IPv6 survive no JSON number), everything else as stored.
 */
export const EVENT_SELECT_LIST = VIEW_COLUMNS.map((c) =>
  c.field === c.name ? quote(c.name) : `toString(${quote(c.name)}) AS ${quote(c.field)}`,
).join(', ')

/** Where a result row holds the text of a rendered column, e.g. `ts` → `ts__text`. */
export function rowField(column: string): string {
  return VIEW_COLUMNS.find((c) => c.name === column)?.field ?? column
}

/** `::ffff:203.0.113.9` → `203.0.113.9`; IPv6 `::` is the column default, i.e. no address. */
export function displayIp(text: string): string | undefined {
  if (text === '' || text === '::') return undefined
  const mapped = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i.exec(text)
  return mapped ? mapped[1] : text
}

function isEmpty(value: unknown): boolean {
  if (value === null || value === undefined || value === '') return true
  if (Array.isArray(value)) return value.length === 0
  if (typeof value === 'object') return Object.keys(value).length === 0
  return false
}

function present(value: unknown, kind: Kind): unknown {
  if (isEmpty(value)) return undefined
  switch (kind) {
    case 'time':
      return typeof value === 'string' ? clickHouseToRfc3339(value) : undefined
    case 'ip':
      return typeof value === 'string' ? displayIp(value) : undefined
    case 'int64':
      return typeof value === 'string' ? Number(value) : value
    case 'plain':
      return value
  }
}

/** One event as shown: nested objects rebuilt, empty and null fields left out. */
export type EventView = Record<string, unknown>

export function toEventView(row: Record<string, unknown>): EventView {
  const out: EventView = {}
  for (const c of VIEW_COLUMNS) {
    const value = present(row[c.field], c.kind)
    if (value === undefined) continue
    let node = out
    for (const key of c.path.slice(0, -1)) {
      const next = node[key]
      if (typeof next === 'object' && next !== null) node = next as EventView
      else node = node[key] = {}
    }
    node[c.path[c.path.length - 1] as string] = value
  }
  return out
}
