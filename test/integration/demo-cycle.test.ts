/**
 * The live demo's cycle repeats (issue 5): against an in-process Vigil, a short cycle runs
 * twice, each time on fresh keys (`ak_ids1_…`, then `ak_ids2_…`), with the same background
 * keys replanned; every request reaches Vigil as a guard event of the source, and stop()
 * ends the traffic and delivers what the shipper holds.
 */
import { describe, it, expect, afterAll } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { loadConfig } from '@vigil/core'
import { startLiveDemo } from '@vigil/demo'
import { startVigil, type VigilHandle } from '@vigil/server'

const dir = mkdtempSync(path.join(tmpdir(), 'vigil-demo-cycle-'))
const outbox = mkdtempSync(path.join(tmpdir(), 'vigil-demo-cycle-outbox-'))
const quiet = new Writable({ write: (_c, _e, done) => done() })
let vigil: VigilHandle | undefined

afterAll(async () => {
  await vigil?.close()
  rmSync(dir, { recursive: true, force: true })
  rmSync(outbox, { recursive: true, force: true })
})

describe('live demo cycle', () => {
  it('runs its attacks again on fresh keys each cycle and stops cleanly', async () => {
    vigil = await startVigil(loadConfig({ VIGIL_DATA_DIR: dir, VIGIL_PORT: '0', REDIS_URL: process.env.REDIS_URL as string, VIGIL_LOG_LEVEL: 'warn' }, { cwd: dir }), { logDestination: quiet })
    const { secret } = await vigil.sources.add('demo-cycle', { by: 'test' })
    const logged: string[] = []
    const demo = await startLiveDemo({
      vigilUrl: vigil.url,
      source: 'demo-cycle',
      secret,
      dataDir: outbox,
      keys: 6,
      // The shortest attack (15 s, five requests): the cycle, not the attack, is under test.
      cycle: [{ scenario: 'ids.injection', atMs: 200 }],
      // Shorter than the scenario: a cycle lasts as long as its longest run.
      cycleMs: 5_000,
      logger: { info: (_o, msg) => logged.push(msg), warn: (_o, msg) => logged.push(`warn: ${msg}`) },
    })
    expect(demo.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const end = Date.now() + 120_000
    while (demo.stats().cycles < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 500))
    await demo.stop()
    const stats = demo.stats()
    expect(stats.cycles).toBeGreaterThanOrEqual(2)
    expect(stats.attacks['ids.injection']).toBeGreaterThanOrEqual(2)
    expect(logged.filter((m) => m.startsWith('warn'))).toEqual([])

    await vigil.ingest.flush()
    const rows = await vigil.store.query<{ api_key_id: string; n: string }>(
      "SELECT api_key_id, count(DISTINCT id) AS n FROM events WHERE source = 'demo-cycle' AND startsWith(user_agent, 'sqlmap/') GROUP BY api_key_id ORDER BY api_key_id",
    )
    // Each cycle: the scenario's five probes, on that cycle's own key.
    expect(rows.map((r) => [r.api_key_id, Number(r.n)])).toEqual(expect.arrayContaining([['ak_ids1_001', 5], ['ak_ids2_001', 5]]))
    const requests = await vigil.store.query<{ n: string }>("SELECT count(DISTINCT id) AS n FROM events WHERE source = 'demo-cycle' AND http_status > 0")
    expect(Number(requests[0]!.n)).toBe(Object.values(stats.byCode).reduce((a, b) => a + b, 0))
  }, 180_000)
})
