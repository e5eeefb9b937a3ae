import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startRespondHarness, type RespondHarness } from './test-support.js'
import { AUDIT_GENESIS_HASH, auditHash, createAuditLog, type AuditLogStore } from './audit-log.js'

let h: RespondHarness
let n = 0
/** A fresh chain per test: the table is emptied and the Redis keys are new. */
let audit: AuditLogStore
let keyPrefix: string

beforeAll(async () => {
  h = await startRespondHarness()
})
afterAll(async () => {
  await h.close()
})
beforeEach(async () => {
  await h.store.command('TRUNCATE TABLE audit_log')
  keyPrefix = `${h.prefix}:${++n}:`
  audit = createAuditLog({ store: h.store, redis: h.redis, keyPrefix })
})

const entry = (i: number) => ({ actor: 'operator:tok_1', action: 'key.revoke', subject: `k_${i}`, detail: { reason: `r${i}`, n: i } })

async function appendMany(count: number, log: AuditLogStore = audit): Promise<void> {
  for (let i = 1; i <= count; i++) await log.append(entry(i))
}

describe('audit chain', () => {
  it('chains each row to the one before and verifies clean', async () => {
    const a = await audit.append(entry(1))
    const b = await audit.append(entry(2))
    expect(a.seq).toBe(1)
    expect(b.seq).toBe(2)
    const rows = await audit.list({ limit: 10 })
    expect(rows.map((r) => r.seq)).toEqual([2, 1])
    expect(rows[1]?.prev_hash).toBe(AUDIT_GENESIS_HASH)
    expect(rows[0]?.prev_hash).toBe(a.hash)
    expect(rows[0]?.hash).toBe(b.hash)
    expect(rows[0]?.at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/)
    const v = await audit.verify()
    expect(v).toEqual({ ok: true, rows: 2, head: { seq: 2, hash: b.hash }, problems: [] })
  })

  it('hashes what anyone can recompute from the table alone', async () => {
    await audit.append(entry(1))
    const [r] = await h.store.query<{ seq: string; at: string; actor: string; action: string; subject: string; detail: string; prev_hash: string; hash: string }>(
      'SELECT * FROM audit_log',
    )
    expect(r).toBeDefined()
    if (!r) return
    expect(auditHash({ ...r, seq: Number(r.seq) })).toBe(r.hash)
    expect(r.detail).toBe('{"n":1,"reason":"r1"}')
  })

  it('masks secrets in the detail before hashing and storing them', async () => {
    await audit.append({
      actor: 'operator:tok_1',
      action: 'token.create',
      subject: 'tok_2',
      detail: { password: 'hunter2hunter2', note: 'Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123456789', nested: { api_secret: 'sk_live_0123456789abcdefghijklmnop' } },
    })
    const [r] = await h.store.query<{ detail: string }>('SELECT detail FROM audit_log')
    expect(r?.detail).not.toContain('hunter2')
    expect(r?.detail).not.toContain('abcdefghijklmnopqrstuvwxyz0123456789')
    expect(r?.detail).not.toContain('sk_live_0123456789')
    expect((await audit.verify()).ok).toBe(true)
  })

  it('chains 200 appends made at once from two AuditLog objects (two "processes")', async () => {
    const other = createAuditLog({ store: h.store, redis: h.redis, keyPrefix })
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? audit : other).append(entry(i))))
    const seqs = results.map((r) => r.seq).sort((x, y) => x - y)
    expect(seqs).toEqual(Array.from({ length: 200 }, (_, i) => i + 1))
    // group commit: far fewer inserts than appends shows as far fewer distinct `at` values
    const [parts] = await h.store.query<{ n: string }>('SELECT count(DISTINCT at) AS n FROM audit_log')
    expect(Number(parts?.n)).toBeLessThan(100)
    const v = await audit.verify()
    expect(v.problems).toEqual([])
    expect(v.rows).toBe(200)
  })

  it('finds an edited row', async () => {
    await appendMany(6)
    await h.store.command(`ALTER TABLE audit_log UPDATE detail = '{"n":3,"reason":"nothing to see"}' WHERE seq = 3 SETTINGS mutations_sync = 1`)
    const v = await audit.verify()
    expect(v.ok).toBe(false)
    expect(v.problems).toEqual([{ seq: 3, problem: 'edited', detail: expect.any(String) }])
  })

  it('finds an edited row whose hash was recomputed to match (the next row no longer chains)', async () => {
    await appendMany(5)
    const [r] = await h.store.query<{ seq: string; at: string; actor: string; action: string; subject: string; detail: string; prev_hash: string }>(
      'SELECT seq, at, actor, action, subject, detail, prev_hash FROM audit_log WHERE seq = 2',
    )
    if (!r) throw new Error('row 2 missing')
    const forged = { ...r, seq: 2, actor: 'operator:someone_else' }
    await h.store.command(`ALTER TABLE audit_log UPDATE actor = {a:String}, hash = {h:String} WHERE seq = 2 SETTINGS mutations_sync = 1`, {
      a: forged.actor,
      h: auditHash(forged),
    })
    const v = await audit.verify()
    expect(v.ok).toBe(false)
    expect(v.problems.map((p) => [p.seq, p.problem])).toEqual([[3, 'missing']])
  })

  it('finds a deleted row', async () => {
    await appendMany(5)
    await h.store.command('ALTER TABLE audit_log DELETE WHERE seq = 2 SETTINGS mutations_sync = 1')
    const v = await audit.verify()
    expect(v.problems).toEqual([{ seq: 2, problem: 'missing', detail: 'row 2 is absent' }])
  })

  it('finds a cut tail through the head kept in Redis', async () => {
    await appendMany(5)
    await h.store.command('ALTER TABLE audit_log DELETE WHERE seq >= 4 SETTINGS mutations_sync = 1')
    const v = await audit.verify()
    expect(v.problems.map((p) => [p.seq, p.problem])).toEqual([[4, 'truncated']])
    // and the next append does not paper over the cut: it continues after the recorded head
    await audit.append(entry(6))
    const again = await audit.verify()
    expect(again.ok).toBe(false)
    expect(again.problems.map((p) => p.problem)).toContain('missing')
  })

  it('finds rows put back in a different order', async () => {
    await appendMany(5)
    const rows = await h.store.query<Record<string, string>>('SELECT * FROM audit_log WHERE seq IN (3, 4) ORDER BY seq')
    await h.store.command('ALTER TABLE audit_log DELETE WHERE seq IN (3, 4) SETTINGS mutations_sync = 1')
    const swapped = [
      { ...rows[1], seq: 3 },
      { ...rows[0], seq: 4 },
    ]
    await h.store.insertNdjson('audit_log', ['seq', 'at', 'actor', 'action', 'subject', 'detail', 'prev_hash', 'hash'], swapped.map((r) => `${JSON.stringify(r)}\n`).join(''))
    const v = await audit.verify()
    expect(v.ok).toBe(false)
    expect(v.problems.map((p) => p.problem)).toContain('reordered')
  })

  it('rebuilds a lost head from ClickHouse and keeps chaining', async () => {
    await appendMany(3)
    await h.redis.del(`${keyPrefix}audit:head`)
    const fresh = createAuditLog({ store: h.store, redis: h.redis, keyPrefix })
    const r = await fresh.append(entry(4))
    expect(r.seq).toBe(4)
    expect((await fresh.verify()).ok).toBe(true)
  })

  it('verifies in pages', async () => {
    const paged = createAuditLog({ store: h.store, redis: h.redis, keyPrefix, pageSize: 7 })
    await Promise.all(Array.from({ length: 50 }, (_, i) => paged.append(entry(i))))
    const v = await paged.verify()
    expect(v).toMatchObject({ ok: true, rows: 50, head: { seq: 50 } })
    await h.store.command('ALTER TABLE audit_log DELETE WHERE seq IN (7, 8, 30) SETTINGS mutations_sync = 1')
    const broken = await paged.verify()
    expect(broken.problems.map((p) => [p.seq, p.problem])).toEqual([
      [7, 'missing'],
      [30, 'missing'],
    ])
  })
})
