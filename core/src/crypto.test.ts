import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { loadConfig, type VigilConfig } from './config.js'
import { isVigilError } from './errors.js'
import {
  decryptSecret,
  encryptSecret,
  generateSecret,
  hashToken,
  loadMasterKey,
  safeEqual,
  signPayload,
  verifySignature,
} from './crypto.js'

const SECRET = 'vgs_known-vector-secret'
const TS = '1764000000'
const BODY = '{"id":"e1","ts":"2026-11-24T09:30:00.123456Z","action":"order.new","outcome":"success"}'

function thrownBy(fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  throw new Error('expected a throw')
}

describe('signPayload', () => {
  // Computed once, independently of this code, with:
  //   printf '%s' '1764000000.<BODY>' | openssl dgst -sha256 -hmac 'vgs_known-vector-secret'
  //   printf '1764000000.caf\xc3\xa9\n' | openssl dgst -sha256 -hmac 'vgs_known-vector-secret'
  it('matches openssl on known vectors, for strings and Buffers alike', () => {
    const expected = 'v1=a2057c71b05636fea9aad6352ddf66384d1d399c3bb73a7807c2d6e82d4aa043'
    expect(signPayload(SECRET, TS, BODY)).toBe(expected)
    expect(signPayload(SECRET, 1764000000, Buffer.from(BODY))).toBe(expected)
    const utf8 = 'v1=7b81d8aff14e224d935baab760c69adb68456705aff5fd89bf4407fe1167755c'
    expect(signPayload(SECRET, TS, 'café\n')).toBe(utf8)
    expect(signPayload(SECRET, TS, Buffer.from([0x63, 0x61, 0x66, 0xc3, 0xa9, 0x0a]))).toBe(utf8)
  })
})

describe('verifySignature', () => {
  const body = Buffer.from(BODY)
  const good = signPayload(SECRET, TS, body)

  it('accepts the right signature and rejects another secret', () => {
    expect(verifySignature([SECRET], TS, body, good)).toBe(true)
    expect(verifySignature(['vgs_other'], TS, body, good)).toBe(false)
    expect(verifySignature([], TS, body, good)).toBe(false)
  })

  it('binds the timestamp: a signature made for another timestamp fails', () => {
    const stale = signPayload(SECRET, '1763999000', body)
    expect(verifySignature([SECRET], TS, body, stale)).toBe(false)
  })

  it('rejects a tampered body, even by one byte', () => {
    const tampered = Buffer.from(body)
    tampered[tampered.length - 2]! ^= 1
    expect(verifySignature([SECRET], TS, tampered, good)).toBe(false)
    expect(verifySignature([SECRET], TS, Buffer.concat([body, Buffer.from('\n')]), good)).toBe(false)
  })

  it('accepts any of several v1= values, with whitespace, skipping other schemes', () => {
    const other = signPayload('vgs_old', TS, body)
    expect(verifySignature([SECRET], TS, body, `${other},${good}`)).toBe(true)
    expect(verifySignature([SECRET], TS, body, ` v0=abcd , ${good} `)).toBe(true)
    expect(verifySignature([SECRET], TS, body, `v2=${good.slice(3)}`)).toBe(false)
    expect(verifySignature([SECRET], TS, body, good.toUpperCase().replace('V1=', 'v1='))).toBe(true)
  })

  it('accepts either secret while one is rotated', () => {
    const next = 'vgs_next'
    expect(verifySignature([SECRET, next], TS, body, signPayload(SECRET, TS, body))).toBe(true)
    expect(verifySignature([SECRET, next], TS, body, signPayload(next, TS, body))).toBe(true)
    expect(verifySignature([SECRET, next], TS, body, signPayload('vgs_revoked', TS, body))).toBe(false)
  })

  it('returns false without throwing on non-hex, short, long or empty values', () => {
    const hex = good.slice(3)
    for (const header of ['', ',', 'v1=', 'v1=zz', `v1=${hex.slice(0, 62)}zz`, `v1=${hex.slice(0, 63)}`, `v1=${hex}00`, `v1=${hex.slice(0, 32)}`, 'garbage']) {
      expect(verifySignature([SECRET], TS, body, header)).toBe(false)
    }
  })

  it('considers at most 8 values: a header with 20 finds the good one only among the first 8', () => {
    const junk = Array.from({ length: 19 }, (_, i) => signPayload(`vgs_junk${i}`, TS, body))
    expect(verifySignature([SECRET], TS, body, [...junk.slice(0, 7), good, ...junk.slice(7)].join(','))).toBe(true)
    expect(verifySignature([SECRET], TS, body, [...junk, good].join(','))).toBe(false)
  })
})

describe('safeEqual, hashToken, generateSecret', () => {
  it('compares strings', () => {
    expect(safeEqual('abc', 'abc')).toBe(true)
    expect(safeEqual('abc', 'abd')).toBe(false)
    expect(safeEqual('abc', 'abcd')).toBe(false)
    expect(safeEqual('', '')).toBe(true)
  })

  it('hashes tokens as hex SHA-256', () => {
    // printf '%s' abc | sha256sum
    expect(hashToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  })

  it('generates prefixed 32-byte secrets that differ', () => {
    const a = generateSecret('vgs')
    const b = generateSecret('vgs')
    expect(a).toMatch(/^vgs_[A-Za-z0-9_-]{43}$/)
    expect(generateSecret('vgt')).toMatch(/^vgt_[A-Za-z0-9_-]{43}$/)
    expect(a).not.toBe(b)
    expect(Buffer.from(a.slice(4), 'base64url')).toHaveLength(32)
  })
})

describe('loadMasterKey', () => {
  let dir: string
  let config: VigilConfig
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'vigil-crypto-'))
    config = loadConfig({ VIGIL_DATA_DIR: path.join(dir, 'data') }, { cwd: dir })
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('creates a 0600 key file in a 0700 data dir on first run and reuses it', () => {
    const key = loadMasterKey(config)
    expect(key).toHaveLength(32)
    const file = path.join(config.dataDir, 'master.key')
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(statSync(config.dataDir).mode & 0o777).toBe(0o700)
    expect(readFileSync(file, 'utf8')).toBe(`${key.toString('hex')}\n`)
    expect(loadMasterKey(config).equals(key)).toBe(true)
  })

  it('refuses a key file that group or others can read, without showing the key', () => {
    const key = loadMasterKey(config)
    const file = path.join(config.dataDir, 'master.key')
    chmodSync(file, 0o644)
    const err = thrownBy(() => loadMasterKey(config))
    expect(isVigilError(err) && err.errName).toBe('VIGIL_ERR_CRYPTO_MASTER_KEY')
    expect((err as Error).message).toContain('chmod 600')
    expect((err as Error).message).not.toContain(key.toString('hex'))
  })

  it('refuses a malformed key file', () => {
    const file = path.join(config.dataDir, 'master.key')
    loadMasterKey(config)
    writeFileSync(file, 'not a key\n')
    const err = thrownBy(() => loadMasterKey(config))
    expect(isVigilError(err) && err.errName).toBe('VIGIL_ERR_CRYPTO_MASTER_KEY')
    expect((err as Error).message).toContain('64 hex characters')
    expect((err as Error).message).not.toContain('not a key')
  })

  it('takes VIGIL_MASTER_KEY as hex or base64 and writes no file', () => {
    const raw = Buffer.alloc(32, 7)
    const hexCfg = loadConfig({ VIGIL_DATA_DIR: config.dataDir, VIGIL_MASTER_KEY: raw.toString('hex') }, { cwd: dir })
    expect(loadMasterKey(hexCfg).equals(raw)).toBe(true)
    const b64Cfg = loadConfig({ VIGIL_DATA_DIR: config.dataDir, VIGIL_MASTER_KEY: raw.toString('base64') }, { cwd: dir })
    expect(loadMasterKey(b64Cfg).equals(raw)).toBe(true)
    expect(() => statSync(path.join(config.dataDir, 'master.key'))).toThrow()
  })

  it('refuses a malformed VIGIL_MASTER_KEY, without echoing it', () => {
    // Not clean base64 (Buffer.from would skip the "!"): config refuses it, and so does
    // loadMasterKey when handed such a value some other way.
    const sloppy = `${'A'.repeat(43)}!`
    expect(() => loadConfig({ VIGIL_DATA_DIR: config.dataDir, VIGIL_MASTER_KEY: sloppy }, { cwd: dir })).toThrow(/VIGIL_MASTER_KEY/)
    for (const c of [{ ...config, masterKey: sloppy }, { ...config, masterKey: 'abcd' }, { ...config, masterKey: 'ab'.repeat(31) }]) {
      const err = thrownBy(() => loadMasterKey(c))
      expect(isVigilError(err) && err.errName).toBe('VIGIL_ERR_CRYPTO_MASTER_KEY')
      expect((err as Error).message).toContain('VIGIL_MASTER_KEY')
      expect((err as Error).message).not.toContain(c.masterKey)
    }
  })
})

describe('encryptSecret / decryptSecret', () => {
  const key = Buffer.alloc(32, 1)

  it('round-trips, with a fresh IV each time', () => {
    const a = encryptSecret(key, 'vgs_secret-ü', 'source-a')
    const b = encryptSecret(key, 'vgs_secret-ü', 'source-a')
    expect(a).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]+$/)
    expect(a).not.toBe(b)
    expect(decryptSecret(key, a, 'source-a')).toBe('vgs_secret-ü')
    expect(decryptSecret(key, encryptSecret(key, ''))).toBe('')
  })

  function expectDecryptError(fn: () => unknown): void {
    const err = thrownBy(fn)
    expect(isVigilError(err) && err.errName).toBe('VIGIL_ERR_CRYPTO_DECRYPT')
  }

  it('fails on the wrong key', () => {
    const blob = encryptSecret(key, 'vgs_secret', 'source-a')
    expectDecryptError(() => decryptSecret(Buffer.alloc(32, 2), blob, 'source-a'))
    expectDecryptError(() => decryptSecret(Buffer.alloc(16, 1), blob, 'source-a'))
  })

  it('fails on the wrong or a missing aad', () => {
    const blob = encryptSecret(key, 'vgs_secret', 'source-a')
    expectDecryptError(() => decryptSecret(key, blob, 'source-b'))
    expectDecryptError(() => decryptSecret(key, blob))
  })

  it('fails on tampered ciphertext, tag or iv', () => {
    const blob = encryptSecret(key, 'vgs_secret', 'source-a')
    const [v, iv, tag, ct] = blob.split('.') as [string, string, string, string]
    const flip = (s: string) => {
      const b = Buffer.from(s, 'base64url')
      b[0]! ^= 1
      return b.toString('base64url')
    }
    expectDecryptError(() => decryptSecret(key, [v, iv, tag, flip(ct)].join('.'), 'source-a'))
    expectDecryptError(() => decryptSecret(key, [v, iv, flip(tag), ct].join('.'), 'source-a'))
    expectDecryptError(() => decryptSecret(key, [v, flip(iv), tag, ct].join('.'), 'source-a'))
  })

  it('fails on malformed blobs', () => {
    const blob = encryptSecret(key, 'vgs_secret')
    for (const bad of ['', 'v1', blob.replace(/^v1/, 'v2'), `${blob}.x`, blob.replace(/\.[^.]+$/, '.***'), blob.split('.').slice(0, 3).join('.')]) {
      expectDecryptError(() => decryptSecret(key, bad))
    }
  })
})
