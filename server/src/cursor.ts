/**
 * Opaque list cursors (CONTRACT §4: every list answers `{"items", "next"}`).
 *
 * Relied on by: operator API clients, which must treat `next` as opaque and pass it back
 * unchanged. A cursor is base64url of a 16-byte MAC followed by the JSON position; the
 * MAC (HMAC-SHA256 under a key derived from the master key) makes `bad_cursor` mean what
 * its message says — "not one this server issued" — and keeps clients from depending on
 * the position's format, which may change.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { VigilError } from '@vigil/core'

const MAC_BYTES = 16
/** Bounds the work a hostile cursor can cause before it is rejected. */
const MAX_CURSOR_CHARS = 2048
const BASE64URL = /^[A-Za-z0-9_-]+$/

/** The cursor key for a master key; stable across restarts so a paging client survives one. */
export function deriveCursorKey(masterKey: Buffer): Buffer {
  return createHmac('sha256', masterKey).update('vigil/list-cursor/v1').digest()
}

/** For tests and tools without a master key: cursors then die with the process. */
export function ephemeralCursorKey(): Buffer {
  return randomBytes(32)
}

export interface CursorCodec {
  /** `kind` binds a cursor to one list so an events cursor cannot page alerts. */
  encode(kind: string, position: readonly string[]): string
  /** The position, or throws `VIGIL_ERR_API_BAD_CURSOR`. */
  decode(kind: string, cursor: string, arity: number): string[]
}

export function createCursorCodec(key: Buffer): CursorCodec {
  const mac = (kind: string, json: Buffer) => createHmac('sha256', key).update(`${kind}\n`).update(json).digest().subarray(0, MAC_BYTES)
  return {
    encode(kind, position) {
      const json = Buffer.from(JSON.stringify(position), 'utf8')
      return Buffer.concat([mac(kind, json), json]).toString('base64url')
    },
    decode(kind, cursor, arity) {
      const bad = () => new VigilError('VIGIL_ERR_API_BAD_CURSOR')
      if (cursor.length > MAX_CURSOR_CHARS || !BASE64URL.test(cursor)) throw bad()
      const raw = Buffer.from(cursor, 'base64url')
      if (raw.length <= MAC_BYTES) throw bad()
      const json = raw.subarray(MAC_BYTES)
      if (!timingSafeEqual(raw.subarray(0, MAC_BYTES), mac(kind, json))) throw bad()
      let position: unknown
      try {
        position = JSON.parse(json.toString('utf8'))
      } catch {
        throw bad()
      }
      if (!Array.isArray(position) || position.length !== arity || !position.every((p) => typeof p === 'string')) throw bad()
      return position as string[]
    },
  }
}
