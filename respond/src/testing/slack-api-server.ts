/**
 * A local HTTP server that speaks enough of Slack's Web API for `chat.postMessage` and
 * `chat.update`, for tests: point `@slack/web-api`'s `slackApiUrl` (or SLACK_API_URL) at
 * `server.apiUrl`. It records every call and can be told to answer the next calls with
 * Slack's rate limit (HTTP 429 + `Retry-After`) or with another error.
 *
 * Test support, not a mock of Vigil's code: it stands in for Slack. Relied on by the
 * notify_slack tests and the playbook engine's tests; import it by relative path (it is
 * not exported from index.ts).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface RecordedSlackCall {
  /** The Web API method, e.g. `chat.postMessage`. */
  method: string
  /** Parsed body: form fields, with JSON-looking values (`blocks`, `metadata`) parsed. */
  body: Record<string, unknown>
  headers: IncomingHttpHeaders
  /** What the server answered. */
  status: number
  answer: Record<string, unknown>
  at: number
}

export interface SlackFailure {
  /** HTTP status. @defaultValue `200` (Slack answers most errors 200 with `ok: false`) */
  status?: number
  /** Slack error string for `{ok: false, error}`. @defaultValue `internal_error` */
  error?: string
  /** Close the connection without answering. */
  hangUp?: boolean
}

export interface SlackApiServer {
  /** `http://127.0.0.1:<port>/api/`, for `slackApiUrl`. */
  readonly apiUrl: string
  readonly calls: RecordedSlackCall[]
  /** Calls of one method that Slack accepted (`ok: true`). */
  accepted(method?: string): RecordedSlackCall[]
  /** The next `n` calls answer HTTP 429 with `Retry-After: retryAfterSec` and `{ok:false, error:'ratelimited'}`. */
  rateLimitNext(n: number, retryAfterSec: number): void
  /** The next `n` calls fail as described. */
  failNext(n: number, failure: SlackFailure): void
  /** Every post to `channel` answers `{ok: false, error}` (e.g. `is_archived`), until reset. */
  refuseChannel(channel: string, error: string): void
  /** Forget recorded calls and queued failures. */
  reset(): void
  close(): Promise<void>
}

const MAX_BODY = 1024 * 1024

type Planned = { kind: 'ratelimit'; retryAfterSec: number } | { kind: 'fail'; failure: SlackFailure }

function parseBody(raw: string, contentType: string | undefined): Record<string, unknown> {
  if (raw === '') return {}
  if (contentType?.includes('application/json')) {
    const v: unknown = JSON.parse(raw)
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : { _: v }
  }
  const out: Record<string, unknown> = {}
  for (const [k, v] of new URLSearchParams(raw)) {
    const looksJson = (v.startsWith('[') && v.endsWith(']')) || (v.startsWith('{') && v.endsWith('}'))
    if (looksJson) {
      try {
        out[k] = JSON.parse(v)
        continue
      } catch {
        // not JSON after all: keep the string
      }
    }
    out[k] = v
  }
  return out
}

/**
 * Starts the server on 127.0.0.1 and a random port.
 * @param opts.token when set, calls without `Authorization: Bearer <token>` answer `invalid_auth`.
 */
export async function startSlackApiServer(opts: { token?: string } = {}): Promise<SlackApiServer> {
  const calls: RecordedSlackCall[] = []
  let plan: Planned[] = []
  const refused = new Map<string, string>()
  let seq = 0

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size <= MAX_BODY) chunks.push(c)
    })
    req.on('end', () => {
      const method = (req.url ?? '').replace(/^\/api\//, '').split('?')[0] ?? ''
      let body: Record<string, unknown>
      try {
        body = parseBody(Buffer.concat(chunks).toString('utf8'), req.headers['content-type'])
      } catch {
        body = { _unparsable: true }
      }
      const planned = plan.shift()
      const send = (status: number, answer: Record<string, unknown>, headers: Record<string, string> = {}) => {
        calls.push({ method, body, headers: req.headers, status, answer, at: Date.now() })
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers })
        res.end(JSON.stringify(answer))
      }
      if (planned?.kind === 'ratelimit') {
        return send(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(planned.retryAfterSec) })
      }
      if (planned?.kind === 'fail') {
        if (planned.failure.hangUp) {
          calls.push({ method, body, headers: req.headers, status: 0, answer: {}, at: Date.now() })
          req.socket.destroy()
          return
        }
        return send(planned.failure.status ?? 200, { ok: false, error: planned.failure.error ?? 'internal_error' })
      }
      if (opts.token !== undefined && req.headers.authorization !== `Bearer ${opts.token}`) {
        return send(200, { ok: false, error: 'invalid_auth' })
      }
      const channel = typeof body.channel === 'string' ? body.channel : undefined
      const refusal = channel === undefined ? undefined : refused.get(channel)
      if (refusal !== undefined) return send(200, { ok: false, error: refusal })
      if (method === 'chat.postMessage') {
        if (!channel) return send(200, { ok: false, error: 'channel_not_found' })
        seq += 1
        const ts = `${Math.floor(Date.now() / 1000)}.${String(seq).padStart(6, '0')}`
        return send(200, { ok: true, channel, ts, message: { text: body.text, blocks: body.blocks, ts } })
      }
      if (method === 'chat.update') {
        if (!channel || typeof body.ts !== 'string') return send(200, { ok: false, error: 'message_not_found' })
        return send(200, { ok: true, channel, ts: body.ts, text: body.text })
      }
      if (method === 'auth.test') return send(200, { ok: true, user_id: 'UVIGIL', team_id: 'TVIGIL' })
      return send(200, { ok: false, error: 'unknown_method' })
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    apiUrl: `http://127.0.0.1:${port}/api/`,
    calls,
    accepted(method) {
      return calls.filter((c) => c.answer.ok === true && (method === undefined || c.method === method))
    },
    rateLimitNext(n, retryAfterSec) {
      for (let i = 0; i < n; i++) plan.push({ kind: 'ratelimit', retryAfterSec })
    },
    failNext(n, failure) {
      for (let i = 0; i < n; i++) plan.push({ kind: 'fail', failure })
    },
    refuseChannel(channel, error) {
      refused.set(channel, error)
    },
    reset() {
      calls.length = 0
      plan = []
      refused.clear()
    },
    close() {
      return new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
    },
  }
}
