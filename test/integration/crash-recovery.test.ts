/**
 * Issue 2: the process killed with SIGKILL mid-load → every acknowledged event is present
 * after restart. Runs the built `vigil up` as a real process on embedded ClickHouse.
 */
import { describe, it, expect, afterAll } from 'vitest'
import { rmSync } from 'node:fs'
import { loadConfig, openStore } from '@vigil/core'
import { exited, freePort, signedPost, startUp, tempDataDir, vigilJson } from './vigil-process.js'

const dataDir = tempDataDir()
afterAll(() => rmSync(dataDir, { recursive: true, force: true }))


describe('crash recovery', () => {
  it('keeps every acknowledged event when vigil is killed with SIGKILL mid-load', async () => {
    const env = { ...process.env, VIGIL_DATA_DIR: dataDir, VIGIL_LOG_LEVEL: 'warn', VIGIL_INGEST_FLUSH_MS: '50' }
    const { secret } = vigilJson(['sources', 'add', 'crash'], env) as { secret: string }
    const up = await startUp(env, await freePort())

    const acked: string[] = []
    let seq = 0
    let stop = false
    const worker = async () => {
      while (!stop) {
        const ids = Array.from({ length: 250 }, () => `crash-${seq++}`)
        const ts = new Date().toISOString()
        const body = ids.map((id) => JSON.stringify({ id, ts, action: 'order.new', outcome: 'success', api_key_id: 'k1', client_ip: '81.2.69.142' })).join('\n')
        try {
          const res = await signedPost(up.url, 'crash', secret, body)
          if (res.status === 202) acked.push(...ids)
        } catch {
          // the connection died with the process: these ids were never acknowledged
        }
      }
    }
    const workers = [worker(), worker(), worker(), worker()]
    while (acked.length < 5_000) await new Promise((r) => setTimeout(r, 20))
    up.child.kill('SIGKILL')
    stop = true
    await Promise.all(workers)
    await exited(up.child)
    expect(acked.length).toBeGreaterThanOrEqual(5_000)

    // Restart on the same data dir: recovery (spool replay, parts check) runs at start-up.
    const again = await startUp(env, await freePort())
    again.child.kill('SIGTERM')
    expect(await exited(again.child)).toBe(0)

    const store = await openStore(loadConfig({ VIGIL_DATA_DIR: dataDir }, { cwd: dataDir }))
    try {
      const rows = await store.query<{ n: string }>('SELECT count() AS n FROM events FINAL WHERE source = {s:String} AND id IN {ids:Array(String)}', {
        s: 'crash',
        ids: acked,
      })
      expect(Number(rows[0]!.n)).toBe(acked.length)
    } finally {
      await store.close()
    }
  }, 180_000)
})
