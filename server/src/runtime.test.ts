import { describe, it, expect, afterAll, vi } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { randomBytes } from 'node:crypto'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { instanceId, loadConfig, signPayload } from '@vigil/core'
import { AlertStore, DetectionEngine, loadRules, DEFAULT_RULES_DIR } from '@vigil/detect'
import { startVigil, type VigilHandle } from './runtime.js'
import { createToken } from './tokens.js'
import { demoBatch, demoEvent } from './demo-traffic.js'

const dir = mkdtempSync(path.join(tmpdir(), 'vigil-runtime-'))
const quiet = new Writable({ write: (_c, _e, done) => done() })
const config = (port: number) =>
  loadConfig(
    { VIGIL_DATA_DIR: dir, VIGIL_PORT: String(port), REDIS_URL: process.env.REDIS_URL as string, VIGIL_LOG_LEVEL: 'warn' },
    { cwd: dir },
  )

afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

describe('demo events', () => {
  it('are valid, clean and carry µs RFC 3339 times', () => {
    const seen = new Set<string>()
    for (let i = 0; i < 500; i++) {
      const e = demoEvent(Date.now())
      expect(e.ts).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/)
      expect(['order.new', 'order.cancel', 'api.request', 'auth.login']).toContain(e.action)
      expect(e.outcome).toBe('success')
      seen.add(String(e.api_key_id))
    }
    expect(seen.size).toBeGreaterThan(20)
    expect(demoBatch(3, Date.now()).trim().split('\n')).toHaveLength(3)
  })
})

describe('startVigil', () => {
  let handle: VigilHandle | undefined

  it('fails with listen_failed when the port is taken, and releases what it started', async () => {
    const blocker: Server = createServer()
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r))
    const port = (blocker.address() as { port: number }).port
    try {
      await expect(startVigil(config(port), { logDestination: quiet })).rejects.toMatchObject({
        code: 'listen_failed',
        message: expect.stringContaining(`127.0.0.1:${port}: the address is in use`),
      })
    } finally {
      blocker.close()
    }
  })

  it('starts on the same data dir afterwards, ingests demo traffic and lists it', async () => {
    handle = await startVigil(config(0), { demo: true, logDestination: quiet })
    expect(handle.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const { token } = await createToken(handle.store, { role: 'viewer', name: 'runtime test' })
    // The demo trading API's guard ships a request event per request (and lifecycle events,
    // such as its keys being created, which name no client address).
    let request: Record<string, unknown> | undefined
    for (let i = 0; i < 100 && !request; i++) {
      await new Promise((r) => setTimeout(r, 100))
      const res = await fetch(`${handle.url}/v1/events?limit=50&outcome=success`, { headers: { authorization: `Bearer ${token}` } })
      expect(res.status).toBe(200)
      request = ((await res.json()) as { items: Array<Record<string, unknown>> }).items.find((e) => e.http !== undefined)
    }
    expect(request).toMatchObject({ source: 'demo', outcome: 'success', geo: { country: expect.stringMatching(/^[A-Z]{2}$/) } })
    const health = await fetch(`${handle.url}/v1/health`)
    expect(await health.json()).toMatchObject({ status: 'ok' })
  }, 30_000)

  it('hands a stored alert to the response side in process: its key is revoked while the alerts queue is paused', async () => {
    const h = handle!
    const connection = new Redis(process.env.REDIS_URL as string, { maxRetriesPerRequest: null })
    const queue = new Queue('alerts', { connection, prefix: `vigil:${await instanceId(h.store)}` })
    await queue.pause()
    try {
      const rule = loadRules(DEFAULT_RULES_DIR).find((r) => r.id === 'auth.brute_force')!
      const key = `ak_handover_${randomBytes(4).toString('hex')}`
      const now = Date.now()
      const { alert } = await new AlertStore(h.store).upsert(
        {
          rule: rule.id,
          severity: 'critical',
          score: 95,
          entity: { type: 'api_key', id: key },
          api_key_id: key,
          client_ip: '203.0.113.9',
          firstSeenMs: now - 60_000,
          lastSeenMs: now - 1000,
          windowStartMs: Math.floor(now / 300_000) * 300_000,
          count: 40,
          summary: `40 forged signatures on ${key}`,
          evidence: { value: 40, threshold: 10, sample_event_ids: [] },
        },
        rule.suppressionMs,
      )
      await h.handOverAlert(alert, 'created')
      let state = await h.respond.keys.get(key)
      for (let i = 0; i < 100 && state.status !== 'revoked'; i++) {
        await new Promise((r) => setTimeout(r, 100))
        state = await h.respond.keys.get(key)
      }
      expect(state).toMatchObject({ status: 'revoked' })
      // Nobody took the job: the revocation came from the in-process hand-over, not the queue.
      expect(await queue.getJobState(alert.id)).not.toMatch(/active|completed|failed/)
    } finally {
      await queue.resume()
      await queue.close()
      connection.disconnect()
    }
  }, 30_000)

  it('hands each batch ingest made durable to detection in process, which alerts on it', async () => {
    const h = handle!
    const offered: string[] = []
    // Watched, not replaced: every call goes on to the engine's own offer.
    const realOffer = DetectionEngine.prototype.offer
    const spy = vi.spyOn(DetectionEngine.prototype, 'offer').mockImplementation(function (this: DetectionEngine, events) {
      for (const e of events) offered.push(e.id)
      realOffer.call(this, events)
    })
    try {
      const source = `handover-${randomBytes(3).toString('hex')}`
      const { secret } = await h.sources.add(source, { by: 'runtime test' })
      const ip = `198.51.100.${1 + (randomBytes(1)[0] as number) % 200}`
      const id = `ev_${randomBytes(6).toString('hex')}`
      const body = JSON.stringify({ id, ts: new Date().toISOString(), action: 'api.request', outcome: 'failure', reason: 'invalid_request', client_ip: ip, http: { method: 'GET', path: "/v1/orders?symbol=AAPL'%20OR%20'1'='1", status: 400 } }) + '\n'
      const ts = Math.floor(Date.now() / 1000)
      const res = await fetch(`${h.url}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson', 'vigil-source': source, 'vigil-timestamp': String(ts), 'vigil-signature': signPayload(secret, ts, body) },
        body,
      })
      expect(res.status).toBe(202)
      // The 202 means durable, and the hand-over happens right then.
      expect(offered).toContain(id)
      const alerts = new AlertStore(h.store)
      let found = false
      for (let i = 0; i < 100 && !found; i++) {
        found = (await alerts.list({ limit: 50 })).some((a) => a.rule === 'ids.injection' && a.entity.id === ip)
        if (!found) await new Promise((r) => setTimeout(r, 100))
      }
      expect(found).toBe(true)
    } finally {
      spy.mockRestore()
    }
  }, 30_000)

  it('closes once, flushing what ingest accepted', async () => {
    const h = handle!
    await h.ingest.flush()
    const before = await h.store.query<{ n: string }>("SELECT count() AS n FROM events FINAL WHERE source = 'demo'")
    expect(Number(before[0]!.n)).toBeGreaterThan(0)
    await Promise.all([h.close(), h.close()])
    await expect(fetch(`${h.url}/v1/health`)).rejects.toThrow()
  })

  it('reuses the demo source on the next start by rotating it', async () => {
    const again = await startVigil(config(0), { demo: true, logDestination: quiet })
    try {
      const sources = await again.sources.list()
      expect(sources.filter((s) => s.id === 'demo')).toHaveLength(1)
      expect(sources.find((s) => s.id === 'demo')?.rotated_at).not.toBeNull()
    } finally {
      await again.close()
    }
  }, 30_000)
})

