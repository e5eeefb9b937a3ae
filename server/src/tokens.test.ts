import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { hashToken } from '@vigil/core'
import { createToken, verifyToken, revokeToken, listTokens, parseTtl } from './tokens.js'
import { openTestStore, type TestStore } from './test-support.js'

let t: TestStore

beforeAll(async () => {
  t = await openTestStore()
})
afterAll(async () => {
  await t.cleanup()
})

describe('parseTtl', () => {
  it('reads s, m, h and d', () => {
    expect(parseTtl('30s')).toBe(30_000)
    expect(parseTtl('30m')).toBe(1_800_000)
    expect(parseTtl('1h')).toBe(3_600_000)
    expect(parseTtl('7d')).toBe(7 * 86_400_000)
  })

  it.each(['', '1', 'h', '1w', '-1h', '1.5h', '0m', '400d', '1h ; drop'])('rejects %j as bad_ttl', (ttl) => {
    expect(() => parseTtl(ttl)).toThrow(expect.objectContaining({ code: 'bad_ttl', statusCode: 400 }))
  })
})

describe('operator tokens', () => {
  it('creates a vgt_ token, stores only its hash, and verifies it', async () => {
    const created = await createToken(t.store, { role: 'analyst', name: 'alice laptop', ttl: '1h' })
    expect(created.token).toMatch(/^vgt_/)
    expect(created).toMatchObject({ role: 'analyst', name: 'alice laptop' })
    expect(Date.parse(created.expires_at) - Date.now()).toBeGreaterThan(3_500_000)

    const rows = await t.store.query<Record<string, string>>('SELECT * FROM api_token_changes WHERE id = {id:String}', { id: created.id })
    expect(rows).toHaveLength(1)
    expect(rows[0]!.token_hash).toBe(hashToken(created.token))
    expect(JSON.stringify(rows)).not.toContain(created.token)

    expect(await verifyToken(t.store, created.token)).toEqual({ id: created.id, role: 'analyst', name: 'alice laptop' })
  })

  it('defaults the ttl to 24h', async () => {
    const created = await createToken(t.store, { role: 'viewer', name: 'default ttl' })
    const ms = Date.parse(created.expires_at) - Date.now()
    expect(ms).toBeGreaterThan(23.9 * 3_600_000)
    expect(ms).toBeLessThanOrEqual(24 * 3_600_000)
  })

  it('rejects unknown roles and bad names', async () => {
    await expect(createToken(t.store, { role: 'root', name: 'x' })).rejects.toMatchObject({ code: 'bad_role' })
    await expect(createToken(t.store, { role: 'admin', name: '' })).rejects.toMatchObject({ code: 'bad_token_name' })
    await expect(createToken(t.store, { role: 'admin', name: 'a\u0000b' })).rejects.toMatchObject({ code: 'bad_token_name' })
    await expect(createToken(t.store, { role: 'admin', name: 'x', ttl: '1y' })).rejects.toMatchObject({ code: 'bad_ttl' })
  })

  it('answers null for unknown, malformed and almost-right tokens', async () => {
    const created = await createToken(t.store, { role: 'admin', name: 'real' })
    expect(await verifyToken(t.store, 'vgt_' + 'A'.repeat(43))).toBeNull()
    expect(await verifyToken(t.store, '')).toBeNull()
    expect(await verifyToken(t.store, 'Bearer ' + created.token)).toBeNull()
    expect(await verifyToken(t.store, created.token.slice(0, -1) + (created.token.endsWith('A') ? 'B' : 'A'))).toBeNull()
    expect(await verifyToken(t.store, hashToken(created.token))).toBeNull()
  })

  it('stops honouring a token once it expires', async () => {
    const created = await createToken(t.store, { role: 'viewer', name: 'short', ttl: '1s' })
    const remaining = Date.parse(created.expires_at) - Date.now()
    if (remaining > 100) expect(await verifyToken(t.store, created.token)).not.toBeNull()
    await new Promise((r) => setTimeout(r, Math.max(0, remaining) + 50))
    // The cache holds the answer, but not past the token's own expiry.
    expect(await verifyToken(t.store, created.token)).toBeNull()
    const listed = (await listTokens(t.store)).find((x) => x.id === created.id)
    expect(listed?.status).toBe('expired')
  })

  it('revokes: the same process stops honouring it at once, and the log keeps both rows', async () => {
    const created = await createToken(t.store, { role: 'responder', name: 'pager' })
    expect(await verifyToken(t.store, created.token)).not.toBeNull()
    const info = await revokeToken(t.store, created.id, { by: 'test' })
    expect(info).toMatchObject({ id: created.id, status: 'revoked', role: 'responder' })
    expect(info.revoked_at).toMatch(/Z$/)
    expect(await verifyToken(t.store, created.token)).toBeNull()
    // Revoking again is harmless and does not add a row.
    await revokeToken(t.store, created.id)
    const rows = await t.store.query<{ change: string; version: string }>(
      'SELECT change, version FROM api_token_changes WHERE id = {id:String} ORDER BY version',
      { id: created.id },
    )
    expect(rows.map((r) => [r.change, Number(r.version)])).toEqual([
      ['create', 1],
      ['revoke', 2],
    ])
  })

  it('refuses to revoke an unknown id', async () => {
    await expect(revokeToken(t.store, 'tok_nope')).rejects.toMatchObject({ code: 'token_not_found', statusCode: 404 })
  })

  it('lists tokens without hashes or tokens', async () => {
    const created = await createToken(t.store, { role: 'regulator', name: 'auditor' })
    const list = await listTokens(t.store)
    const mine = list.find((x) => x.id === created.id)
    expect(mine).toEqual({
      id: created.id,
      role: 'regulator',
      name: 'auditor',
      status: 'active',
      created_at: expect.stringMatching(/Z$/),
      expires_at: created.expires_at,
      revoked_at: null,
    })
    const text = JSON.stringify(list)
    expect(text).not.toContain(created.token)
    expect(text).not.toContain(hashToken(created.token))
  })
})
