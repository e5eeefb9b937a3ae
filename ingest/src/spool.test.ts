import { describe, it, expect, afterEach } from 'vitest'
import { readdirSync } from 'node:fs'
import path from 'node:path'
import { startHarness, send, ndjson, event, countStored, type Harness } from './test-support.js'
import { ROW_COLUMNS } from './normalize.js'

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

  it('hands every stored row on once (onDurable): a live batch when inserted, a spooled one only when replayed', async () => {
    const handed: Array<{ ids: string[]; at: 'live' | 'outage'; columns: readonly string[] }> = []
    let phase: 'live' | 'outage' = 'live'
    h = await startHarness({ VIGIL_INGEST_FLUSH_MS: '20' }, {
      onDurable: (batch) => handed.push({ ids: batch.rows.map((r) => r[batch.columns.indexOf('id')] as string), at: phase, columns: batch.columns }),
    })
    const post = async (evs: Array<Record<string, unknown>>) => expect((await send(h!, ndjson(evs))).statusCode).toBe(202)
    const live = Array.from({ length: 50 }, () => event())
    await post(live)
    // A retry of the same ids is a duplicate: stored once, handed on once.
    await post(live.slice(0, 10))
    await h.ingest.flush()
    expect(handed.flatMap((b) => b.ids).sort()).toEqual(live.map((e) => e.id as string).sort())

    phase = 'outage'
    await h.store.command('DETACH TABLE events')
    const spooled = Array.from({ length: 30 }, () => event())
    await post(spooled)
    expect(h.ingest.status().storage).toBe('spooling')
    expect(handed.filter((b) => b.at === 'outage')).toEqual([])
    await h.store.command('ATTACH TABLE events')
    await until(async () => h!.ingest.status().storage === 'ok')
    // Replayed from the spool file (its lines parsed back into values), with every column.
    const replayed = handed.filter((b) => b.at === 'outage').flatMap((b) => b.ids)
    expect(replayed.sort()).toEqual(spooled.map((e) => e.id as string).sort())
    expect(handed.flatMap((b) => b.ids)).toHaveLength(live.length + spooled.length)
    for (const b of handed) expect(b.columns).toEqual(ROW_COLUMNS)
  })

  it('stores a batch whose onDurable listener throws, and keeps answering', async () => {
    h = await startHarness({ VIGIL_INGEST_FLUSH_MS: '10' }, {
      onDurable: () => {
        throw new Error('listener broke')
      },
    })
    const evs = Array.from({ length: 20 }, () => event())
    expect((await send(h, ndjson(evs))).statusCode).toBe(202)
    expect((await send(h, ndjson([event()]))).statusCode).toBe(202)
    await h.ingest.flush()
    expect(await countStored(h.store, h.source)).toBe(21)
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
