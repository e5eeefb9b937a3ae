import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { loadConfig } from './config.js'
import { embeddedStatementLimit, openStore, type Store } from './store.js'
import { migrate } from './migrate.js'
import { EVENT_COLUMNS } from './event-schema.js'

let dir: string
let store: Store

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'vigil-store-'))
  store = await openStore(loadConfig({ VIGIL_DATA_DIR: dir }, { cwd: dir }))
})
afterAll(async () => {
  await store.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('store on embedded chDB', () => {
  it('applies migrations once and records them', async () => {
    const first = await migrate(store)
    expect(first).toContain('core/001_events')
    const second = await migrate(store)
    expect(second).toEqual([])
    const rows = await store.query<{ n: string }>('SELECT count() AS n FROM vigil_migrations')
    expect(Number(rows[0]!.n)).toBe(first.length)
  })

  it('creates the events table with exactly the columns of the event schema', async () => {
    const cols = await store.query<{ name: string; type: string }>(
      "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = 'events' ORDER BY position",
    )
    expect(cols.map((c) => [c.name, c.type])).toEqual(EVENT_COLUMNS.map((c) => [c.name, c.type.replace(/, /g, ', ')]))
  })

  it('inserts NDJSON rows and reads them back with µs precision and IPv6 addresses', async () => {
    const row = {
      source: 's1',
      received_at: '2026-11-24T09:30:01.000000001Z',
      clock_skew_ms: 1.5,
      id: 'e1',
      ts: '2026-11-24T09:30:00.123456789Z',
      action: 'order.new',
      outcome: 'success',
      api_key_id: 'k1',
      client_ip: '203.0.113.9',
      attrs: { a: 'b' },
    }
    await store.insertNdjson('events', Object.keys(row), JSON.stringify(row) + '\n')
    const rows = await store.query<{ ts: string; ip: string; a: string }>(
      "SELECT toString(ts) AS ts, toString(client_ip) AS ip, attrs['a'] AS a FROM events WHERE id = {id:String}",
      { id: 'e1' },
    )
    expect(rows).toEqual([{ ts: '2026-11-24 09:30:00.123456789', ip: '::ffff:203.0.113.9', a: 'b' }])
  })

  it('answers ping', async () => {
    expect(await store.ping()).toBe(true)
  })

  it('has urgent and prompt views on the same engine and data, each knowing the others', async () => {
    await store.urgent.command('CREATE TABLE lane_probe (n UInt32) ENGINE = MergeTree ORDER BY n')
    await store.prompt.insertNdjson('lane_probe', ['n'], '{"n":1}\n{"n":2}\n')
    // Many normal statements queued at once, urgent and prompt ones among them: all answer correctly.
    const normal = Array.from({ length: 12 }, (_, i) => store.query<{ s: string }>('SELECT sum(n) + {i:UInt32} AS s FROM lane_probe', { i }))
    const urgent = store.urgent.query<{ s: string }>('SELECT sum(n) AS s FROM lane_probe')
    const prompt = store.prompt.query<{ s: string }>('SELECT sum(n) * 2 AS s FROM lane_probe')
    expect((await urgent)[0]!.s).toBe('3')
    expect((await prompt)[0]!.s).toBe('6')
    expect((await Promise.all(normal)).map((r) => Number(r[0]!.s))).toEqual(Array.from({ length: 12 }, (_, i) => 3 + i))
    expect(store.urgent.urgent).toBe(store.urgent)
    expect(store.prompt.urgent).toBe(store.urgent)
    expect(store.urgent.prompt).toBe(store.prompt)
    expect(store.urgent.tiering).toBe(store.tiering)
  })

  it('holds normal statements back while the prompt lane is held, and lets them go on release', async () => {
    const release = store.prompt.hold()
    const done: string[] = []
    // Issued first, but held back (for up to 100 ms, statement-gate.ts) …
    const normal = store.query<{ n: number }>('SELECT 1 AS n').then((r) => (done.push('normal'), r))
    // … while the holder's own statement, issued after it, runs at once.
    const prompt = store.prompt.query<{ n: number }>('SELECT 2 AS n').then((r) => (done.push('prompt'), r))
    expect((await prompt)[0]!.n).toBe(2)
    release()
    expect((await normal)[0]!.n).toBe(1)
    expect(done).toEqual(['prompt', 'normal'])
  })
})

describe('embeddedStatementLimit', () => {
  it('leaves one of libuv\'s worker threads for prompt and urgent statements', () => {
    expect(embeddedStatementLimit({})).toBe(3)
    expect(embeddedStatementLimit({ UV_THREADPOOL_SIZE: '8' })).toBe(7)
    expect(embeddedStatementLimit({ UV_THREADPOOL_SIZE: '1' })).toBe(3)
    expect(embeddedStatementLimit({ UV_THREADPOOL_SIZE: 'lots' })).toBe(3)
  })
})
