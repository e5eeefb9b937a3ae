import { describe, expect, it } from 'vitest'
import { SseParser, type SseMessage } from './sse-parser.js'

const bytes = (s: string) => new TextEncoder().encode(s)

function feedInPieces(text: string, size: number): SseMessage[] {
  const p = new SseParser()
  const b = bytes(text)
  const out: SseMessage[] = []
  for (let i = 0; i < b.length; i += size) out.push(...p.push(b.subarray(i, i + size)))
  return out
}

describe('SseParser', () => {
  const stream =
    ': keep-alive\n\n' +
    'id: 7\nevent: delta\ndata: {"version":7,"reason":"fraude détectée €"}\n\n' +
    'id: 8\r\nevent: delta\r\ndata: {"a":\r\ndata: 1}\r\n\r\n' +
    'id:9\revent:delta\rdata:x\r\r' +
    'data: no event\n\n' +
    'event: lonely\n\n'

  it('reads id, event, multi-line data, CRLF/CR/LF endings and skips comments and empty messages', () => {
    expect(feedInPieces(stream, 1 << 20)).toEqual([
      { event: 'delta', id: '7', data: '{"version":7,"reason":"fraude détectée €"}' },
      { event: 'delta', id: '8', data: '{"a":\n1}' },
      { event: 'delta', id: '9', data: 'x' },
      { event: 'message', id: '9', data: 'no event' },
    ])
  })

  it('gives the same messages whatever the chunk boundaries (a split CRLF or UTF-8 character included)', () => {
    const whole = feedInPieces(stream, 1 << 20)
    for (const size of [1, 2, 3, 5, 7, 13]) expect(feedInPieces(stream, size)).toEqual(whole)
  })

  it('refuses a line past its limit instead of growing without end', () => {
    const p = new SseParser(64)
    expect(() => p.push(bytes('data: ' + 'x'.repeat(100)))).toThrow(/too long/)
  })

  it('ignores an id holding NUL and unknown fields', () => {
    const p = new SseParser()
    expect(p.push(bytes('id: 1\n\nid: a\u0000b\nretry: 10\nfoo: bar\ndata: d\n\n'))).toEqual([{ event: 'message', id: '1', data: 'd' }])
  })
})
