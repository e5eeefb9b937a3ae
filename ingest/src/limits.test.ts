import { describe, it, expect, afterEach } from 'vitest'
import { startHarness, send, ndjson, event, type Harness } from './test-support.js'

let h: Harness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

describe('per-source rate limit', () => {
  it('answers 429 rate_limited with Retry-After once a source exceeds its events per second', async () => {
    h = await startHarness({ VIGIL_INGEST_RATE_LIMIT: '100' })
    const first = await send(h, ndjson(Array.from({ length: 100 }, () => event())))
    expect(first.statusCode).toBe(202)
    const over = await send(h, ndjson(Array.from({ length: 50 }, () => event())))
    expect(over.statusCode).toBe(429)
    expect(over.json().error.code).toBe('rate_limited')
    expect(Number(over.headers['retry-after'])).toBeGreaterThanOrEqual(1)
    // Another source has its own allowance.
    const other = await h.sources.add(`other-${Date.now()}`)
    const res = await send(h, ndjson([event()]), { source: other.id, secret: other.secret })
    expect(res.statusCode).toBe(202)
    // The allowance comes back with time.
    await new Promise((r) => setTimeout(r, 1100))
    expect((await send(h, ndjson(Array.from({ length: 10 }, () => event())))).statusCode).toBe(202)
  })
})

describe('source secret rotation', () => {
  it('drops the previous secret once the grace period is over', async () => {
    h = await startHarness({ VIGIL_SOURCE_ROTATION_GRACE: '1' })
    const src = `grace-${Date.now()}`
    const { secret: oldSecret } = await h.sources.add(src)
    const { secret: newSecret } = await h.sources.rotate(src)
    expect((await send(h, ndjson([event()]), { source: src, secret: oldSecret })).statusCode).toBe(202)
    await new Promise((r) => setTimeout(r, 1300))
    const late = await send(h, ndjson([event()]), { source: src, secret: oldSecret })
    expect(late.statusCode).toBe(401)
    expect(late.json().error.code).toBe('bad_signature')
    expect((await send(h, ndjson([event()]), { source: src, secret: newSecret })).statusCode).toBe(202)
    expect((await h.sources.list()).find((s) => s.id === src)?.previous_valid_until).toBeNull()
  })

  it('refuses bad, duplicate and unknown source ids with registry errors', async () => {
    h = await startHarness()
    await expect(h.sources.add('bad id!')).rejects.toMatchObject({ code: 'bad_source_id' })
    await expect(h.sources.add(h.source)).rejects.toMatchObject({ code: 'source_exists' })
    await expect(h.sources.rotate('no-such-source')).rejects.toMatchObject({ code: 'source_not_found' })
  })
})

describe('masking before storage', () => {
  it('stores no secret that slipped into the event, and keeps ordinary values', async () => {
    h = await startHarness()
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ'
    const e = event({
      user_agent: `curl/8.0 Authorization: Bearer ${jwt}`,
      http: { method: 'GET', path: '/v1/login?user=alice&password=hunter2&symbol=BRK.B', status: 401 },
      attrs: { card: '4111 1111 1111 1111', note: 'api secret sk_live_abcdefghijklmnopqrstuvwx', cursor: '2026-11-24T09:30:00Z' },
      order_ref: 'token=abc123def456',
    })
    expect((await send(h, ndjson([e]))).json().accepted).toBe(1)
    const [row] = await h.store.query<Record<string, unknown>>('SELECT * FROM events WHERE id = {id:String}', { id: e.id })
    const stored = JSON.stringify(row)
    for (const secret of [jwt, 'hunter2', '4111 1111 1111 1111', '4111111111111111', 'sk_live_abcdefghijklmnopqrstuvwx', 'abc123def456']) {
      expect(stored).not.toContain(secret)
    }
    expect(stored).toContain('symbol=BRK.B')
    expect(stored).toContain('2026-11-24T09:30:00Z')
    expect(stored).toContain('1111') // the card's last four stay for investigators
  })
})
