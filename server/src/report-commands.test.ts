/**
 * The `reports/generate` admin operation both ways `vigil reports generate` reaches it: in a
 * running `vigil up` (its response side's report store, as over the admin socket) and on a
 * store the CLI opened itself (its own audit chain handle on Redis, the data dir's reports/).
 */
import { existsSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_OPERATIONS } from './admin-commands.js'
import { ADMIN_SHAPES } from './admin-shapes.js'
import { openTestStore, startTestApp, type TestApp, type TestStore } from './test-support.js'

let t: TestStore
let h: TestApp
beforeAll(async () => {
  t = await openTestStore()
  h = await startTestApp(t)
})
afterAll(async () => {
  await h?.close()
  await t?.cleanup()
})

const input = { type: 'pretrade-breaches', from: '2026-11-01T00:00:00Z', to: '2026-11-02T00:00:00Z', format: 'csv', incident_id: '', by: 'cli:alice' }

describe('reports/generate', () => {
  it('uses the running response side when there is one', async () => {
    const r = await ADMIN_OPERATIONS['reports/generate']({ store: t.store, sources: h.sources, response: () => h.respond }, input)
    expect(Object.keys(r)).toEqual(ADMIN_SHAPES['reports/generate'].answers)
    expect(r.file).toBe(path.join(t.config.dataDir, 'reports', `${r.id}.csv`))
    expect(existsSync(r.file)).toBe(true)
    expect(await h.respond.reports.get(r.id)).toMatchObject({ created_by: 'cli:alice', sha256: r.sha256 })
  })

  it('without vigil up, stores under the data dir and audits on the chain in Redis', async () => {
    const r = await ADMIN_OPERATIONS['reports/generate']({ store: t.store, sources: h.sources, redis: h.redis, dataDir: t.config.dataDir }, { ...input, type: 'clock-sync', format: 'json' })
    expect(existsSync(r.file)).toBe(true)
    await h.respond.audit.idle()
    expect(await h.respond.audit.list({ action: 'report.compile', subject: r.id, limit: 2 })).toHaveLength(1)
    expect((await h.respond.audit.verify()).ok).toBe(true)
  })

  it('says what is missing without Redis or a data dir, and checks the request first', async () => {
    await expect(ADMIN_OPERATIONS['reports/generate']({ store: t.store, sources: h.sources, dataDir: t.config.dataDir }, input)).rejects.toMatchObject({ code: 'redis_unavailable' })
    await expect(ADMIN_OPERATIONS['reports/generate']({ store: t.store, sources: h.sources, redis: h.redis }, input)).rejects.toMatchObject({ code: 'unavailable' })
    await expect(ADMIN_OPERATIONS['reports/generate']({ store: t.store, sources: h.sources }, { ...input, type: 'dora-incident' })).rejects.toMatchObject({ code: 'incident_required' })
  })
})
