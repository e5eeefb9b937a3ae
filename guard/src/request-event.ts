/**
 * The one CONTRACT §1 event a guarded request produces, built from what the plugin learned
 * about it. Nothing here reads a header other than `user-agent` and `content-length`: the
 * signing headers, cookies and `authorization` never reach an event.
 */
import type { TLSSocket } from 'node:tls'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { eventId, eventTs } from './event-fields.js'
import type { GuardRefusal } from './refusals.js'
import type { GuardEvent, GuardKey } from './seams.js'

/** What a handler may add to its request's event (`request.guard.annotate`). */
export interface EventAnnotation {
  /** A reason from the CONTRACT §1 catalogue when the handler did not succeed, e.g. `risk_rejected`. */
  reason?: string
  outcome?: GuardEvent['outcome']
  order?: GuardEvent['order']
  attrs?: Record<string, string>
}

/** What the plugin knows about one guarded request. */
export interface RequestState {
  action: string
  startMs: number
  startPerf: number
  /** The key id the client claimed (a public id; set once its shape is valid). */
  claimedKeyId: string | undefined
  key: GuardKey | undefined
  refusal: GuardRefusal | undefined
  refusalAttrs: Record<string, string>
  bodySha256: string | undefined
  bytesIn: number | undefined
  order: GuardEvent['order'] | undefined
  annotation: EventAnnotation
  emitted: boolean
}

const CLIENT_ERROR_INVALID = new Set([400, 411, 413, 414, 415, 422, 431])

function cap(s: string, n: number): string {
  return s.length > n ? s.slice(0, n) : s
}

function outcomeOf(st: RequestState, status: number, aborted: boolean): Pick<GuardEvent, 'outcome' | 'reason'> {
  if (st.refusal) return { outcome: 'denied', reason: st.refusal.reason }
  const a = st.annotation
  if (a.outcome || a.reason) {
    const outcome = a.outcome ?? (status >= 500 ? 'error' : 'failure')
    return a.reason ? { outcome, reason: a.reason } : { outcome }
  }
  if (aborted) return { outcome: 'failure' }
  if (status >= 500) return { outcome: 'error', reason: 'internal_error' }
  if (status >= 400) return CLIENT_ERROR_INVALID.has(status) ? { outcome: 'failure', reason: 'invalid_request' } : { outcome: 'failure' }
  return { outcome: 'success' }
}

function numberHeader(v: unknown): number | undefined {
  const n = typeof v === 'string' ? Number(v) : typeof v === 'number' ? v : NaN
  return Number.isInteger(n) && n >= 0 ? n : undefined
}

function tlsOf(request: FastifyRequest): GuardEvent['tls'] | undefined {
  const socket = request.raw.socket as Partial<TLSSocket> | undefined
  if (!socket || socket.encrypted !== true || typeof socket.getProtocol !== 'function') return undefined
  const version = socket.getProtocol()
  const cipher = socket.getCipher?.()
  return { ...(version ? { version } : {}), ...(cipher ? { cipher: cipher.name } : {}) }
}

/** `reply` absent: the client went away before the response (status 499, as nginx logs it). */
export function buildRequestEvent(request: FastifyRequest, reply: Pick<FastifyReply, 'statusCode' | 'getHeader'> | undefined, st: RequestState): GuardEvent {
  const aborted = reply === undefined
  const status = reply ? reply.statusCode : 499
  const key = st.key
  const apiKeyId = key?.id ?? st.claimedKeyId
  const ua = request.headers['user-agent']
  const bytesIn = st.bytesIn ?? numberHeader(request.headers['content-length'])
  const bytesOut = numberHeader(reply?.getHeader('content-length'))
  const order = st.annotation.order ? { ...st.order, ...st.annotation.order } : st.order
  const attrs = { ...st.refusalAttrs, ...st.annotation.attrs, ...(aborted ? { aborted: 'true' } : {}) }
  const tls = tlsOf(request)
  return {
    id: eventId(),
    ts: eventTs(st.startMs),
    action: st.action,
    ...outcomeOf(st, status, aborted),
    ...(apiKeyId !== undefined ? { api_key_id: apiKeyId } : {}),
    ...(key ? { account_id: key.account_id } : {}),
    ...(key?.user_id !== undefined ? { user_id: key.user_id } : {}),
    client_ip: request.ip,
    ...(typeof ua === 'string' ? { user_agent: cap(ua, 512) } : {}),
    ...(key ? { scopes: key.scopes.slice(0, 32) } : {}),
    http: {
      method: request.method,
      path: cap(request.url, 2048),
      status,
      latency_ms: Math.round((performance.now() - st.startPerf) * 1000) / 1000,
      ...(bytesIn !== undefined ? { bytes_in: bytesIn } : {}),
      ...(bytesOut !== undefined ? { bytes_out: bytesOut } : {}),
      request_id: cap(String(request.id), 128),
    },
    ...(tls ? { tls } : {}),
    ...(order && Object.keys(order).length > 0 ? { order } : {}),
    ...(Object.keys(attrs).length > 0 ? { attrs } : {}),
  }
}
