/**
 * Issue 3 end to end: signed events into a real `vigil up`, a brute-force burst becomes one
 * alert on the operator API within seconds, and is handed to the response side once
 * through the BullMQ queue `alerts`.
 */
import { describe, it, expect, afterAll } from 'vitest'
import { rmSync } from 'node:fs'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { exited, freePort, signedPost, startUp, tempDataDir, vigilJson, type Running } from './vigil-process.js'

const dataDir = tempDataDir()
let up: Running | undefined
afterAll(async () => {
  up?.child.kill('SIGTERM')
  if (up) await exited(up.child)
  rmSync(dataDir, { recursive: true, force: true })
})


describe('detection end to end', () => {
  it('turns a brute-force burst into one alert, visible on /v1/alerts and queued once', async () => {
    const env = { ...process.env, VIGIL_DATA_DIR: dataDir, VIGIL_LOG_LEVEL: 'warn' }
    const { secret } = vigilJson(['sources', 'add', 'desk'], env) as { secret: string }
    const { token } = vigilJson(['tokens', 'create', '--role', 'analyst', '--name', 'e2e'], env) as { token: string }
    up = await startUp(env, await freePort())

    const now = Date.now()
    const burst = Array.from({ length: 14 }, (_, i) => ({
      id: `bf-${now}-${i}`,
      ts: new Date(now - 14_000 + i * 1000).toISOString(),
      action: 'api.request',
      outcome: 'failure',
      reason: 'bad_signature',
      api_key_id: 'ak_e2e_target',
      client_ip: '203.0.113.45',
      http: { method: 'POST', path: '/v1/orders', status: 401 },
    }))
    const clean = Array.from({ length: 20 }, (_, i) => ({
      id: `ok-${now}-${i}`,
      ts: new Date(now - 20_000 + i * 1000).toISOString(),
      action: 'order.new',
      outcome: 'success',
      api_key_id: `ak_e2e_clean_${i % 4}`,
      client_ip: '81.2.69.142',
      order: { symbol: 'VOD.L', side: 'buy', type: 'limit', qty: 100, price: 72.5, notional: 7250, currency: 'GBP', venue: 'XLON' },
    }))
    const body = [...clean, ...burst].map((e) => JSON.stringify(e)).join('\n')
    expect((await signedPost(up.url, 'desk', secret, body)).status).toBe(202)

    let alerts: Array<{ id: string; rule: string; entity: { id: string }; count: number }> = []
    const deadline = Date.now() + 20_000
    while (Date.now() < deadline) {
      const res = await fetch(`${up.url}/v1/alerts?rule=auth.brute_force`, { headers: { authorization: `Bearer ${token}` } })
      expect(res.status).toBe(200)
      alerts = ((await res.json()) as { items: typeof alerts }).items
      if (alerts.length > 0) break
      await new Promise((r) => setTimeout(r, 200))
    }
    expect(alerts).toHaveLength(1)
    expect(alerts[0]!.entity.id).toBe('ak_e2e_target')

    // Nothing on the clean keys.
    const all = (await (await fetch(`${up.url}/v1/alerts`, { headers: { authorization: `Bearer ${token}` } })).json()) as { items: Array<{ entity: { id: string } }> }
    expect(all.items.filter((a) => a.entity.id.startsWith('ak_e2e_clean'))).toEqual([])

    // Handed to the response side once: one job, its id the alert's.
    const redis = new Redis(process.env.REDIS_URL as string, { maxRetriesPerRequest: null })
    // The deployment's queues live under `vigil:<deployment id>` (server's queuePrefixOf).
    const [jobKey] = await redis.keys(`vigil:*:alerts:${alerts[0]!.id}`)
    expect(jobKey).toMatch(/^vigil:[^:]+:alerts:/)
    const queue = new Queue('alerts', { connection: redis, prefix: jobKey!.slice(0, jobKey!.indexOf(':alerts:')) })
    try {
      const job = await queue.getJob(alerts[0]!.id)
      expect(job?.data).toMatchObject({ id: alerts[0]!.id, rule: 'auth.brute_force' })
    } finally {
      await queue.close()
      redis.disconnect()
    }

    const metrics = await (await fetch(`${up.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text()
    expect(metrics).toMatch(/vigil_detect_event_to_alert_seconds_count\{rule="auth.brute_force"\} 1/)
  }, 120_000)
})
