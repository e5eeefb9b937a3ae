/**
 * Server-Sent Events over fetch: the API wants an Authorization header, which EventSource
 * cannot send. Reconnects with `Last-Event-ID` after a drop, backing off up to 10 s.
 */
import { apiFetch } from './client.js'

export interface SseMessage {
  event: string
  id?: string
  data: string
}

export interface StreamOptions {
  onMessage: (msg: SseMessage) => void
  onStatus?: (status: 'connecting' | 'live' | 'retrying' | 'stopped') => void
  signal: AbortSignal
}

/** Splits an SSE byte stream into messages (WHATWG "event stream interpretation"). */
export function createSseParser(onMessage: (msg: SseMessage) => void): (chunk: string) => void {
  let buffer = ''
  let event = ''
  let id: string | undefined
  let data: string[] = []
  return (chunk) => {
    buffer += chunk
    let nl: number
    while ((nl = buffer.search(/\r\n|\n|\r/)) >= 0) {
      // A chunk that ends in CR may be half of a CRLF: wait for the next byte.
      if (buffer[nl] === '\r' && nl === buffer.length - 1) break
      const line = buffer.slice(0, nl)
      buffer = buffer.slice(nl + (buffer[nl] === '\r' && buffer[nl + 1] === '\n' ? 2 : 1))
      if (line === '') {
        if (data.length > 0) onMessage({ event: event || 'message', id, data: data.join('\n') })
        event = ''
        data = []
        continue
      }
      if (line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
      if (field === 'event') event = value
      else if (field === 'data') data.push(value)
      else if (field === 'id') id = value
    }
  }
}

export async function streamEvents(path: string, opts: StreamOptions): Promise<void> {
  let lastId: string | undefined
  let delay = 500
  while (!opts.signal.aborted) {
    opts.onStatus?.('connecting')
    try {
      const res = await apiFetch(path, { signal: opts.signal, headers: lastId ? { 'last-event-id': lastId } : undefined })
      if (res.status === 400 && lastId !== undefined) {
        // The resume point is no longer known (e.g. older than the server keeps): start afresh;
        // what changed meanwhile shows at the list's next read (Refresh).
        lastId = undefined
        throw new Error('resume point refused')
      }
      if (res.status === 401 || res.status === 403) {
        // Signed out or not allowed: retrying cannot help; the session handling takes over.
        opts.onStatus?.('stopped')
        return
      }
      if (!res.ok || !res.body) throw new Error(`stream answered ${res.status}`)
      opts.onStatus?.('live')
      delay = 500
      const parse = createSseParser((msg) => {
        if (msg.id) lastId = msg.id
        opts.onMessage(msg)
      })
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        parse(value)
      }
    } catch {
      if (opts.signal.aborted) return
    }
    opts.onStatus?.('retrying')
    await new Promise((r) => setTimeout(r, delay))
    delay = Math.min(delay * 2, 10_000)
  }
}
