import { describe, expect, it } from 'vitest'
import { createSseParser, type SseMessage } from './sse.js'

function parseAll(chunks: string[]): SseMessage[] {
  const out: SseMessage[] = []
  const parse = createSseParser((m) => out.push(m))
  for (const c of chunks) parse(c)
  return out
}

describe('createSseParser', () => {
  it('parses events with ids, names and multi-line data, ignoring comments', () => {
    const msgs = parseAll([': keep-alive\n\n', 'event: hello\ndata: {"at":1}\n\n', 'id: 7\nevent: alert\ndata: {"a":\ndata: 1}\n\n'])
    expect(msgs).toEqual([
      { event: 'hello', id: undefined, data: '{"at":1}' },
      { event: 'alert', id: '7', data: '{"a":\n1}' },
    ])
  })

  it('joins messages split across chunks at any byte, and CRLF line ends', () => {
    const text = 'id: 1\r\nevent: alert\r\ndata: x\r\n\r\nid: 2\ndata: y\n\n'
    const whole = parseAll([text])
    for (let cut = 1; cut < text.length; cut++) expect(parseAll([text.slice(0, cut), text.slice(cut)])).toEqual(whole)
    expect(whole.map((m) => [m.id, m.event, m.data])).toEqual([
      ['1', 'alert', 'x'],
      ['2', 'message', 'y'],
    ])
  })

  it('keeps the last id for a message that does not set one (resume point)', () => {
    const msgs = parseAll(['id: 5\ndata: a\n\ndata: b\n\n'])
    expect(msgs[1]?.id).toBe('5')
  })

  it('does not emit a message without data', () => {
    expect(parseAll(['event: ping\n\n'])).toEqual([])
  })
})
