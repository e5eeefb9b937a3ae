import { describe, it, expect } from 'vitest'
import { isVigilError } from '@vigil/core'
import { checkPasswordStrength, generateInitialPassword, hashPassword, verifyPassword } from './passwords.js'

const email = 'alice.smith@example.com'

function refusal(password: string): string | undefined {
  try {
    checkPasswordStrength(password, email)
    return undefined
  } catch (err) {
    expect(isVigilError(err) && err.code).toBe('weak_password')
    // The refusal names the rule, never the password.
    expect((err as Error).message).not.toContain(password)
    return (err as Error).message
  }
}

describe('password strength', () => {
  it.each([
    ['short', 'Tr0ub4dor&3', /at least 12/],
    ['breached word with decoration', 'Password123!', /breached/],
    ['breached word repeated', 'qwertyqwerty', /breached/],
    ['breached word in another case', 'LETMEIN2024!!', /breached/],
    ['top-list exact', '1q2w3e4r5t6y', /breached/],
    ['the email local part', 'alice.smith2026', /email/],
    ['a part of the local part with digits', '1999alice1999', /email/],
    ['the domain name', '!!example!!42', /email/],
    ['one character repeated', 'zzzzzzzzzzzzzz', /repeats/],
    ['a short unit repeated', 'x7!x7!x7!x7!', /repeats/],
    ['an ascending sequence', 'abcdefghijklm', /sequence/],
    ['a descending sequence', '9876543210987', /sequence|run/],
    ['a keyboard walk', 'qwertyuiop', /at least 12/],
    ['mostly a keyboard row', 'asdfghjkl;zx', /keyboard/],
    ['mostly one run', 'Zq1234567890x', /run/],
    ['too few distinct characters', 'abababbaabab', /different characters|repeats/],
    ['over-long', 'x'.repeat(300), /at most 256/],
  ])('refuses %s', (_name, password, why) => {
    expect(refusal(password)).toMatch(why)
  })

  it('accepts a long passphrase and a random string', () => {
    expect(refusal('correct horse battery staple')).toBeUndefined()
    expect(refusal('v9#Lq2!mZt8@Rw')).toBeUndefined()
  })

  it('generates initial passwords that pass its own rules and differ', () => {
    const a = generateInitialPassword(email)
    const b = generateInitialPassword(email)
    expect(refusal(a)).toBeUndefined()
    expect(a).not.toBe(b)
    expect(a.length).toBeGreaterThanOrEqual(24)
  })
})

describe('password hashing', () => {
  it('stores argon2id and verifies only the right password', async () => {
    const stored = await hashPassword('correct horse battery staple')
    expect(stored).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
    expect(stored).not.toContain('horse')
    expect(await verifyPassword(stored, 'correct horse battery staple')).toBe(true)
    expect(await verifyPassword(stored, 'correct horse battery stapl')).toBe(false)
    expect(await verifyPassword('not a hash', 'anything at all')).toBe(false)
  })

  it('answers false, after the same work, for a person who does not exist', async () => {
    expect(await verifyPassword(undefined, 'correct horse battery staple')).toBe(false)
  })
})
