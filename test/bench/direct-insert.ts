/**
 * The ceiling of the ingest benchmark: the same rows Vigil stored, read back as
 * JSONCompactEachRow (the batch writer's format) and inserted straight into a fresh copy of the events table on embedded
 * chDB, in batches of the writer's size. Run as its own process (chDB is one engine per
 * process). Prints one JSON line.
 */
import { loadConfig, openStore } from '@vigil/core'

const [dataDir, limitS, batchS] = process.argv.slice(2)
if (!dataDir) throw new Error('usage: direct-insert <dataDir> [rows] [batch]')
const limit = Number(limitS ?? 500_000)
const batch = Number(batchS ?? 10_000)

const store = await openStore(loadConfig({ VIGIL_DATA_DIR: dataDir }, { cwd: dataDir }))
// The writer's own format: positional rows, basic time format.
const cols = await store.query<{ name: string }>("SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'events' ORDER BY position")
const columns = cols.map((c) => c.name)
const rs = await store.client.query({ query: `SELECT * FROM events LIMIT ${limit}`, format: 'JSONCompactEachRow' })
const text = await rs.text()
const lines = text.split('\n').filter(Boolean)
await store.command('DROP TABLE IF EXISTS events_ceiling')
await store.command('CREATE TABLE events_ceiling AS events')
const chunks: string[] = []
for (let i = 0; i < lines.length; i += batch) chunks.push(lines.slice(i, i + batch).join('\n') + '\n')
const t0 = performance.now()
for (const c of chunks) await store.insertRaw('events_ceiling', columns, Buffer.from(c), { format: 'JSONCompactEachRow', settings: { throw_on_max_partitions_per_insert_block: 0 } })
const seconds = (performance.now() - t0) / 1000
await store.command('DROP TABLE events_ceiling')
await store.close()
process.stdout.write(JSON.stringify({ rows: lines.length, seconds, rowsPerSec: lines.length / seconds, batch }) + '\n')
