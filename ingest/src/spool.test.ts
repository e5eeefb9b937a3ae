import { describe, it, expect, afterEach } from 'vitest'
import { readdirSync } from 'node:fs'
import path from 'node:path'
import { startHarness, send, ndjson, event, countStored, type Harness } from './test-support.js'

let h: Harness | undefined

afterEach(async () => {
  await h?.close()
  h = undefined
})

async function until(cond: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe('ClickHouse unavailable mid-stream', () => {
  it('spools accepted batches while the table is gone and replays them in order, counts exact', async () => {
    h = await startHarness({ VIGIL_INGEST_FLUSH_MS: '20' })
    const sent: string[] = []
    const post = async (n: number) => {
      const evs = Array.from({ length: n }, () => event())
      const res = await send(h!, ndjson(evs))
      expect(res.statusCode).toBe(202)
      expect(res.json().accepted).toBe(n)
      sent.push(...evs.map((e) => e.id as string))
    }
    await post(100)
    expect(h.ingest.status().storage).toBe('ok')

    // The outage: the table disappears under the writer, as on a failed disk or a dropped replica.
    await h.store.command('DETACH TABLE events')
    for (let i = 0; i < 5; i++) await post(200)
    expect(h.ingest.status().storage).toBe('spooling')
    expect(h.ingest.status().spoolBytes).toBeGreaterThan(0)
    expect(readdirSync(path.join(h.dir, 'spool')).filter((f) => f.endsWith('.ndjson')).length).toBeGreaterThan(0)

    await h.store.command('ATTACH TABLE events')
    await until(async () => h!.ingest.status().storage === 'ok')
    await post(50)
    await h.ingest.flush()
    expect(await countStored(h.store, h.source)).toBe(sent.length)
    const rows = await h.store.query<{ n: string; d: string }>(
      'SELECT count() AS n, uniqExact(id) AS d FROM events WHERE source = {s:String}',
      { s: h.source },
    )
    expect(Number(rows[0]!.n)).toBe(sent.length)
    expect(Number(rows[0]!.d)).toBe(sent.length)
  })

  it('answers 503 unavailable with Retry-After when the spool is full, and loses nothing it accepted', async () => {
    h = await startHarness({ VIGIL_SPOOL_MAX_BYTES: '20000', VIGIL_INGEST_FLUSH_MS: '10' })
    const accepted: string[] = []
    const ok = Array.from({ length: 20 }, () => event())
    expect((await send(h, ndjson(ok))).statusCode).toBe(202)
    accepted.push(...ok.map((e) => e.id as string))

    await h.store.command('DETACH TABLE events')
    let refused = 0
    for (let i = 0; i < 10; i++) {
      const evs = Array.from({ length: 10 }, () => event())
      const res = await send(h, ndjson(evs))
      if (res.statusCode === 202) accepted.push(...evs.map((e) => e.id as string))
      else {
        expect(res.statusCode).toBe(503)
        expect(res.json().error.code).toBe('unavailable')
        expect(Number(res.headers['retry-after'])).toBeGreaterThan(0)
        refused++
      }
    }
    expect(refused).toBeGreaterThan(0)
    expect(accepted.length).toBeGreaterThan(20)

    await h.store.command('ATTACH TABLE events')
    await until(async () => h!.ingest.status().storage === 'ok')
    expect(await countStored(h.store, h.source)).toBe(accepted.length)
  })

  it('replays a spool left by a previous process on start', async () => {
    h = await startHarness({ VIGIL_INGEST_FLUSH_MS: '10' })
    await h.store.command('DETACH TABLE events')
    const evs = Array.from({ length: 30 }, () => event())
    expect((await send(h, ndjson(evs))).statusCode).toBe(202)
    await h.ingest.close()
    await h.store.command('ATTACH TABLE events')
    expect(await countStored(h.store, h.source)).toBe(0)
    // A new writer over the same data dir finds the spool and drains it.
    const { createIngest } = await import('./ingest.js')
    const again = await createIngest({ config: h.config, store: h.store, redis: h.redis, logger: h.logger, sources: h.sources })
    await until(async () => again.status().storage === 'ok')
    expect(await countStored(h.store, h.source)).toBe(30)
    await again.close()
  })
})
