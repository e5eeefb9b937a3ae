/**
 * A Server-Sent Events reader (the WHATWG event-stream grammar) for the control stream:
 * bytes in, whole messages out, whatever the chunk boundaries — a line, a field, a CRLF or a
 * multi-byte UTF-8 character may be split between two chunks. Relied on by control-client.ts.
 */

export interface SseMessage {
  /** `event:` field; `message` when absent. */
  event: string
  /** `data:` lines joined with `\n`. */
  data: string
  /** The last `id:` seen on the stream so far (the SSE "last event ID"), undefined before any. */
  id: string | undefined
}

export class SseParser {
  readonly #decoder = new TextDecoder('utf-8')
  #buffer = ''
  /** A chunk ended with `\r`: a `\n` opening the next chunk belongs to the same line end. */
  #pendingCr = false
  #event = ''
  #data: string[] = []
  #id: string | undefined
  /** Bytes of the current incomplete line are bounded: a hostile stream cannot grow memory without end. */
  readonly #maxLine: number

  constructor(maxLineChars = 1_048_576) {
    this.#maxLine = maxLineChars
  }

  /** Feeds a chunk; returns the messages it completed, in order. Throws when a line exceeds the limit. */
  push(chunk: Uint8Array): SseMessage[] {
    let text = this.#decoder.decode(chunk, { stream: true })
    if (this.#pendingCr) {
      if (text.startsWith('\n')) text = text.slice(1)
      this.#pendingCr = false
    }
    this.#buffer += text
    const out: SseMessage[] = []
    let start = 0
    for (;;) {
      const cr = this.#buffer.indexOf('\r', start)
      const lf = this.#buffer.indexOf('\n', start)
      if (cr === -1 && lf === -1) break
      let end: number
      let next: number
      if (cr !== -1 && (lf === -1 || cr < lf)) {
        end = cr
        if (cr + 1 < this.#buffer.length) next = this.#buffer[cr + 1] === '\n' ? cr + 2 : cr + 1
        else {
          next = cr + 1
          this.#pendingCr = true
        }
      } else {
        end = lf
        next = lf + 1
      }
      const message = this.#line(this.#buffer.slice(start, end))
      if (message) out.push(message)
      start = next
    }
    this.#buffer = this.#buffer.slice(start)
    if (this.#buffer.length > this.#maxLine) throw new Error('event-stream line too long')
    return out
  }

  #line(line: string): SseMessage | undefined {
    if (line === '') {
      // A blank line dispatches; a message with no data is dropped (the spec's rule).
      const data = this.#data
      const event = this.#event
      this.#data = []
      this.#event = ''
      if (data.length === 0) return undefined
      return { event: event === '' ? 'message' : event, data: data.join('\n'), id: this.#id }
    }
    if (line.startsWith(':')) return undefined
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'data') this.#data.push(value)
    else if (field === 'event') this.#event = value
    else if (field === 'id' && !value.includes('\0')) this.#id = value
    // `retry:` and unknown fields are ignored: reconnect timing is the client's own policy.
    return undefined
  }
}
