import { describe, it, expect } from 'vitest'
import { randomBytes } from 'node:crypto'
import { createCursorCodec, deriveCursorKey } from './cursor.js'

describe('list cursors', () => {
  const codec = createCursorCodec(randomBytes(32))
  const position = ['2026-11-24 09:30:00.123456789', 'api-eu', 'key-a', 'e1']

  it('round-trips a position as one base64url token', () => {
    const c = codec.encode('events', position)
    expect(c).toMatch(/^[A-Za-z0-9_-]+$/)
    expect(codec.decode('events', c, 4)).toEqual(position)
  })

  it('binds a cursor to its list and its key', () => {
    const c = codec.encode('events', position)
    expect(() => codec.decode('alerts', c, 4)).toThrow(expect.objectContaining({ code: 'bad_cursor' }))
    expect(() => createCursorCodec(randomBytes(32)).decode('events', c, 4)).toThrow(expect.objectContaining({ code: 'bad_cursor' }))
    expect(() => codec.decode('events', c, 3)).toThrow(expect.objectContaining({ code: 'bad_cursor' }))
  })

  it('rejects every single-byte change', () => {
    const raw = Buffer.from(codec.encode('events', position), 'base64url')
    for (let i = 0; i < raw.length; i++) {
      const copy = Buffer.from(raw)
      copy[i] = copy[i]! ^ 0x01
      expect(() => codec.decode('events', copy.toString('base64url'), 4)).toThrow(expect.objectContaining({ code: 'bad_cursor', statusCode: 400 }))
    }
  })

  it('derives the same key from the same master key, so cursors survive a restart', () => {
    const master = randomBytes(32)
    const a = createCursorCodec(deriveCursorKey(master))
    const b = createCursorCodec(deriveCursorKey(master))
    expect(b.decode('events', a.encode('events', position), 4)).toEqual(position)
    expect(deriveCursorKey(master).equals(master)).toBe(false)
  })
})
