/**
 * People's passwords: argon2id hashes (@node-rs/argon2) and the minimum strength a new one
 * must have.
 *
 * Relied on by: users.ts (add, and any later password change) and the sign-in route. The
 * hash string is persisted in `user_changes.password_hash` in argon2's PHC form
 * (`$argon2id$v=19$m=…`), so its parameters travel with it and can be raised later without
 * a migration. A refusal names the rule that failed and never the password.
 */
import { randomBytes } from 'node:crypto'
import { hash, verify, type Algorithm } from '@node-rs/argon2'
import { VigilError } from '@vigil/core'

/** Shortest password accepted. NIST SP 800-63B asks for 8; a tool that can stop trading asks for more. */
export const MIN_PASSWORD_LENGTH = 12
/** Longest accepted: argon2 would take more, but a megabyte "password" is an attack, not a secret. */
export const MAX_PASSWORD_LENGTH = 256

// `Algorithm` is a const enum, which isolated modules cannot read: 2 is Argon2id.
const ARGON2ID = 2 as Algorithm
/** OWASP's argon2id recommendation (19 MiB, 2 passes, 1 lane). */
const HASH_OPTIONS = { algorithm: ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 }

/**
 * Passwords and stems seen most often in breach corpora (the head of the published
 * top-lists, lower-cased). A password is refused when, stripped of digits and symbols at
 * its ends, it is one of these or one of these repeated; that catches "Password123!" and
 * "qwertyqwerty" as well as the bare words.
 */
const BREACHED_STEMS = new Set([
  'password', 'passw0rd', 'p@ssw0rd', 'p@ssword', 'pass', 'passwort', 'motdepasse', 'contrasena',
  'qwerty', 'qwertyuiop', 'qwertz', 'azerty', 'asdf', 'asdfgh', 'asdfghjkl', 'zxcvbn', 'zxcvbnm', 'qazwsx', '1q2w3e4r', '1qaz2wsx',
  'letmein', 'welcome', 'admin', 'administrator', 'root', 'login', 'master', 'secret', 'changeme', 'default', 'guest', 'test', 'user',
  'iloveyou', 'monkey', 'dragon', 'football', 'baseball', 'soccer', 'hockey', 'basketball', 'superman', 'batman', 'starwars',
  'princess', 'sunshine', 'shadow', 'michael', 'jennifer', 'jordan', 'hunter', 'trustno', 'whatever', 'freedom', 'abc', 'abcdef',
  'computer', 'internet', 'summer', 'winter', 'spring', 'autumn', 'charlie', 'donald', 'mustang', 'access', 'killer', 'pokemon',
  'lovely', 'flower', 'hello', 'hellothere', 'ninja', 'cheese', 'chocolate', 'matrix', 'security', 'trading', 'vigil', 'company',
])

/** Whole passwords on the top breached lists that the stem rule alone would miss. */
const BREACHED_EXACT = new Set(['1234567890ab', '123456789012', '1q2w3e4r5t6y', '1qaz2wsx3edc', 'qwerty123456', 'password1234', 'zaq12wsxcde3'])

const KEYBOARD_ROWS = ['1234567890', 'qwertyuiop', 'asdfghjkl', 'zxcvbnm', 'abcdefghijklmnopqrstuvwxyz']

function weak(why: string): VigilError {
  return new VigilError('VIGIL_ERR_USER_WEAK_PASSWORD', why)
}

/** True when `s` is one short unit repeated (aaaa…, abcabc…, 1212…). */
function isRepetition(s: string): boolean {
  for (let unit = 1; unit <= Math.floor(s.length / 2); unit++) {
    if (s.length % unit !== 0) continue
    if (s.slice(0, unit).repeat(s.length / unit) === s) return true
  }
  return false
}

/** True when every character follows the previous by +1 or −1 (abcdef, 987654), or walks a keyboard row. */
function isSequence(s: string): boolean {
  if (s.length < 4) return false
  const step = s.charCodeAt(1) - s.charCodeAt(0)
  if (Math.abs(step) === 1 && [...s].every((c, i) => i === 0 || c.charCodeAt(0) - s.charCodeAt(i - 1) === step)) return true
  return KEYBOARD_ROWS.some((row) => row.includes(s) || [...row].reverse().join('').includes(s))
}

/** The longest stretch of `s` that is a piece of a keyboard row (either way along it). */
function longestKeyboardWalk(s: string): number {
  const rows = [...KEYBOARD_ROWS, ...KEYBOARD_ROWS.map((r) => [...r].reverse().join(''))]
  let longest = 0
  for (let i = 0; i < s.length; i++) {
    for (let j = s.length; j > i + longest; j--) {
      const piece = s.slice(i, j)
      if (rows.some((r) => r.includes(piece))) {
        longest = j - i
        break
      }
    }
  }
  return longest
}

/** The longest run of one character, or of consecutive ascending/descending characters. */
function longestRun(s: string): number {
  let longest = 1
  let same = 1
  let up = 1
  let down = 1
  for (let i = 1; i < s.length; i++) {
    const d = s.charCodeAt(i) - s.charCodeAt(i - 1)
    same = d === 0 ? same + 1 : 1
    up = d === 1 ? up + 1 : 1
    down = d === -1 ? down + 1 : 1
    longest = Math.max(longest, same, up, down)
  }
  return longest
}

/**
 * Throws `weak_password` naming the first rule a password breaks: at least 12 characters
 * (at most 256), not built from the most common breached passwords, not the email's local
 * part or its domain name, not a repetition, a sequence or a keyboard walk, and no more than
 * half of it one run of the same or consecutive characters.
 */
export function checkPasswordStrength(password: string, email: string): void {
  if (typeof password !== 'string' || password.length < MIN_PASSWORD_LENGTH) throw weak(`use at least ${MIN_PASSWORD_LENGTH} characters`)
  if (password.length > MAX_PASSWORD_LENGTH) throw weak(`use at most ${MAX_PASSWORD_LENGTH} characters`)
  const lower = password.toLowerCase()
  // What is left once the decoration people add to meet rules (digits, symbols at the ends) is removed.
  const core = lower.replace(/^[^a-z]+|[^a-z]+$/g, '')
  const letters = lower.replace(/[^a-z]/g, '')
  if (BREACHED_EXACT.has(lower) || (core !== '' && [...BREACHED_STEMS].some((w) => core === w || (core.length % w.length === 0 && core === w.repeat(core.length / w.length))))) {
    throw weak('it is built on one of the most common breached passwords')
  }
  const [local = '', domain = ''] = email.toLowerCase().split('@')
  const names = [local, ...local.split(/[._+-]/), domain.split('.')[0] ?? ''].filter((n) => n.length >= 3)
  if (names.some((n) => core === n || letters === n.replace(/[^a-z]/g, '') || (n.length >= MIN_PASSWORD_LENGTH / 2 && lower.includes(n)))) {
    throw weak('it is made from the email address')
  }
  if (isRepetition(lower)) throw weak('it repeats the same characters')
  if (isSequence(lower)) throw weak('it is a sequence of consecutive characters or keys')
  if (longestRun(lower) > lower.length / 2) throw weak('more than half of it is one run of repeated or consecutive characters')
  if (longestKeyboardWalk(lower) > lower.length / 2) throw weak('more than half of it is one walk along a keyboard row')
  if (new Set(lower).size < 5) throw weak('it uses fewer than 5 different characters')
}

/** An argon2id PHC string for `password`. */
export function hashPassword(password: string): Promise<string> {
  return hash(password, HASH_OPTIONS)
}

// Verified against when the email is unknown, so "no such person" takes as long as "wrong password".
let decoyHash: Promise<string> | undefined

/**
 * True when `password` matches `stored`. With `stored` undefined (no such person) a decoy
 * hash is verified instead and the answer is false: timing does not tell the two apart.
 */
export async function verifyPassword(stored: string | undefined, password: string): Promise<boolean> {
  if (typeof password !== 'string' || password.length > MAX_PASSWORD_LENGTH) return false
  if (!stored) {
    decoyHash ??= hashPassword(randomBytes(24).toString('base64url'))
    await verify(await decoyHash, password).catch(() => false)
    return false
  }
  try {
    return await verify(stored, password)
  } catch {
    return false
  }
}

/** A random initial password, printed once by `vigil users add`: 24 characters, about 143 bits. */
export function generateInitialPassword(email: string): string {
  for (;;) {
    const candidate = randomBytes(18).toString('base64url')
    try {
      checkPasswordStrength(candidate, email)
      return candidate
    } catch {
      // A random draw that happens to look like a pattern: draw again.
    }
  }
}
