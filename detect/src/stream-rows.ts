/**
 * Rows of `events` as ingest wrote them → the events the detectors judge, exactly as the engine
 * would read them back from `detect_stream` (engine.ts `STREAM_SQL`). `vigil up` hands each batch
 * ingest made durable to the engine this way (`DetectionEngine.offer`), so the engine does not
 * wait for its next read of the stream, nor parse the rows again.
 *
 * Exact, because a detector must reach the same findings from either path (detector.ts), and the
 * conformance test (stream-rows.test.ts) compares both for the same rows:
 * - times: the row's ClickHouse text (any number of fractional digits) gives the same ISO text
 *   and epoch ms as the stored DateTime64(9) read back (which prints nine digits, kept unless all
 *   are zero);
 * - `client_ip`: as ClickHouse prints the stored IPv6 (compressed, lower case), IPv4 and
 *   IPv4-mapped addresses dotted, '' for none;
 * - `geo_lat`/`geo_lon`: the column is Float32, so the value is rounded to a float32 and printed
 *   as its shortest decimal, as ClickHouse prints it;
 * - columns absent from the row take their column's default ('', null, 0, {}).
 */
import { isIPv4 } from 'node:net'
import type { StreamEvent } from './detector.js'
import { chToIso } from './alerts.js'
import { chTimeToMs } from './engine.js'

/** Rows positional in `columns`, as ingest's batch writer hands them on (ingest `DurableRows`). */
export interface EventRows {
  columns: readonly string[]
  rows: ReadonlyArray<readonly unknown[]>
}

const STRING_FIELDS = [
  'source',
  'id',
  'action',
  'outcome',
  'reason',
  'api_key_id',
  'account_id',
  'user_id',
  'http_path',
  'order_symbol',
  'order_currency',
  'geo_country',
  'geo_city',
] as const

/** The events of `batch`, in its order; rows without an id or a time are left out. */
export function streamEventsOf(batch: EventRows): StreamEvent[] {
  const at = (name: string) => batch.columns.indexOf(name)
  const strings = STRING_FIELDS.map((f) => [f, at(f)] as const)
  const iReceived = at('received_at')
  const iTs = at('ts')
  const iIp = at('client_ip')
  const iAttrs = at('attrs')
  const iQty = at('order_qty')
  const iNotional = at('order_notional')
  const iLat = at('geo_lat')
  const iLon = at('geo_lon')
  const iSkew = at('clock_skew_ms')
  const out: StreamEvent[] = []
  for (const row of batch.rows) {
    const received = row[iReceived]
    const ts = row[iTs]
    if (typeof received !== 'string' || typeof ts !== 'string') continue
    const e = {
      receivedAt: chToIso(nineDigits(received)),
      tsMs: chTimeToMs(ts),
      ts: chToIso(nineDigits(ts)),
      client_ip: ipText(row[iIp]),
      attrs: attrsOf(row[iAttrs]),
      order_qty: numberOrNull(row[iQty]),
      order_notional: numberOrNull(row[iNotional]),
      geo_lat: float32OrNull(row[iLat]),
      geo_lon: float32OrNull(row[iLon]),
      clock_skew_ms: typeof row[iSkew] === 'number' ? (row[iSkew] as number) : 0,
    } as StreamEvent
    for (const [f, i] of strings) {
      const v = row[i]
      ;(e as unknown as Record<string, string>)[f] = typeof v === 'string' ? v : ''
    }
    if (e.id === '') continue
    out.push(e)
  }
  return out
}

/** ClickHouse time text as DateTime64(9) prints it: nine fractional digits. */
function nineDigits(t: string): string {
  const dot = t.indexOf('.')
  if (dot < 0) return `${t}.000000000`
  return t.length - dot - 1 >= 9 ? t.slice(0, dot + 10) : t + '0'.repeat(9 - (t.length - dot - 1))
}

function numberOrNull(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null
}

function attrsOf(v: unknown): Record<string, string> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return {}
  const out: Record<string, string> = {}
  for (const [k, s] of Object.entries(v as Record<string, unknown>)) if (typeof s === 'string') out[k] = s
  return out
}

const float32Text = new Map<number, number>()

/** A Float32 column's value as ClickHouse prints it: the float32's shortest decimal that reads back to it. */
export function float32OrNull(v: unknown): number | null {
  if (typeof v !== 'number' || !Number.isFinite(v)) return null
  const known = float32Text.get(v)
  if (known !== undefined) return known
  const f = Math.fround(v)
  let shortest = f
  for (let p = 1; p <= 9; p++) {
    const s = Number(f.toPrecision(p))
    if (Math.fround(s) === f) {
      shortest = s
      break
    }
  }
  // Coordinates come from a small table (geoip), so this stays small; bounded all the same.
  if (float32Text.size > 100_000) float32Text.clear()
  float32Text.set(v, shortest)
  return shortest
}

/** An address as the stream prints the stored IPv6: '' for none, IPv4 (and IPv4-mapped) dotted, else compressed lower case. */
export function ipText(v: unknown): string {
  if (typeof v !== 'string' || v === '' || v === '::') return ''
  if (isIPv4(v)) return v
  let host: string
  try {
    host = new URL(`http://[${v}]/`).hostname.slice(1, -1)
  } catch {
    return v
  }
  if (host === '::') return ''
  // IPv4-mapped: the URL form is ::ffff:a00:1, ClickHouse's ::ffff:10.0.0.1, the stream's 10.0.0.1.
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host)
  if (mapped) {
    const hi = parseInt(mapped[1] as string, 16)
    const lo = parseInt(mapped[2] as string, 16)
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`
  }
  return host
}
