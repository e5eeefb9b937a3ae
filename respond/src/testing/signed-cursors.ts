/**
 * A list-cursor codec with the server's contract (server/src/cursor.ts: base64url of a 16-byte
 * HMAC then the JSON position, bound to the list's kind; decode throws bad_cursor). respond may
 * not import server, so its tests sign their own: a forged or edited cursor must be refused.
 *
 * Test support: import it by relative path from tests (it is not exported from index.ts).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { VigilError } from '@vigil/core'
import type { ListCursor } from '../list-query.js'

/** A codec under a fresh random key. */
export function signedCursors(): ListCursor {
  const key = randomBytes(32)
  const mac = (kind: string, json: Buffer) => createHmac('sha256', key).update(`${kind}\n`).update(json).digest().subarray(0, 16)
  const bad = () => new VigilError('VIGIL_ERR_API_BAD_CURSOR')
  return {
    encode(kind, position) {
      const json = Buffer.from(JSON.stringify(position))
      return Buffer.concat([mac(kind, json), json]).toString('base64url')
    },
    decode(kind, cursor, arity) {
      const raw = Buffer.from(cursor, 'base64url')
      const json = raw.subarray(16)
      if (raw.length <= 16 || !timingSafeEqual(raw.subarray(0, 16), mac(kind, json))) throw bad()
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
