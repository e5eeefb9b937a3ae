/**
 * Issue 4 end to end, on a real `vigil up` with its own private Redis: a sustained
 * brute-force campaign on one key is detected, escalated to critical, and the default
 * playbook revokes the key — which a trading API sees on the signed control stream — with
 * an incident carrying the alert and a timeline of every step. Then people act through the
 * operator API: restore the key, trip a kill-switch and reset it with four eyes; the audit
 * chain verifies from the CLI while Vigil runs.
 */
import { describe, it, expect, afterAll } from 'vitest'
import { rmSync } from 'node:fs'
import { signPayload } from '@vigil/core'
import { exited, freePort, signedPost, startUp, tempDataDir, vigilJson, type Running } from './vigil-process.js'

const dataDir = tempDataDir()
let up: Running | undefined
afterAll(async () => {
  up?.child.kill('SIGTERM')
  if (up) await exited(up.child)
  rmSync(dataDir, { recursive: true, force: true })
})

interface Delta {
  version: number
  type: string
  api_key_id?: string
  killswitch?: { id: string }
  killswitch_id?: string
}

function signedHeaders(source: string, secret: string): Record<string, string> {
  const ts = String(Math.floor(Date.now() / 1000))
  return { 'vigil-source': source, 'vigil-timestamp': ts, 'vigil-signature': signPayload(secret, ts, '') }
}

/** A guard's view of the control stream: every delta as it arrives. */
async function openControlStream(url: string, source: string, secret: string, since?: number) {
  const abort = new AbortController()
  const res = await fetch(`${url}/v1/control/stream${since === undefined ? '' : `?since=${since}`}`, { headers: signedHeaders(source, secret), signal: abort.signal })
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
  const deltas: Array<Delta & { receivedAt: number }> = []
  let hello: number | undefined
  const reading = (async () => {
    const decoder = new TextDecoder()
    let buf = ''
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true })
        let end: number
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const message = buf.slice(0, end)
          buf = buf.slice(end + 2)
          const event = /^event: (.*)$/m.exec(message)?.[1]
          const data = /^data: (.*)$/m.exec(message)?.[1]
          if (!data) continue
          if (event === 'hello') hello = (JSON.parse(data) as { version: number }).version
          if (event === 'delta') deltas.push({ ...(JSON.parse(data) as Delta), receivedAt: Date.now() })
        }
      }
    } catch {
      // aborted at the end of the test
    }
  })()
  return {
    deltas,
    hello: () => hello,
    async waitFor(pred: (d: Delta) => boolean, ms = 30_000): Promise<Delta & { receivedAt: number }> {
      const end = Date.now() + ms
      for (;;) {
        const found = deltas.find(pred)
        if (found) return found
        if (Date.now() > end) throw new Error(`no such delta in ${ms} ms; got ${JSON.stringify(deltas)}`)
        await new Promise((r) => setTimeout(r, 50))
      }
    },
    async close() {
      abort.abort()
      await reading
    },
  }
}

describe('response end to end', () => {
  it('revokes a key under a critical brute force, visible on the control stream, with an incident and an audit trail', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, VIGIL_DATA_DIR: dataDir, VIGIL_LOG_LEVEL: 'warn' }
    // Its own private Redis: the test run's shared one carries other tests' `alerts` queues.
    delete env.REDIS_URL
    const { secret } = vigilJson(['sources', 'add', 'desk'], env) as { secret: string }
    const alice = (vigilJson(['tokens', 'create', '--role', 'responder', '--name', 'alice'], env) as { token: string }).token
    const bob = (vigilJson(['tokens', 'create', '--role', 'responder', '--name', 'bob'], env) as { token: string }).token
    const viewer = (vigilJson(['tokens', 'create', '--role', 'viewer', '--name', 'eve'], env) as { token: string }).token
    up = await startUp(env, await freePort())
    const api = (pathname: string, token: string, init: RequestInit = {}) =>
      fetch(`${up!.url}${pathname}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers ?? {}) } })

    // A guard connects first; it is told where the log stands.
    const guard = await openControlStream(up.url, 'desk', secret)
    const start = Date.now()
    while (guard.hello() === undefined && Date.now() - start < 10_000) await new Promise((r) => setTimeout(r, 50))
    expect(guard.hello()).toBe(0)

    // 60 forged signatures on one key from one host: brute force, escalated to critical.
    const now = Date.now()
    const burst = Array.from({ length: 60 }, (_, i) => ({
      id: `bf-${now}-${i}`,
      ts: new Date(now - 60_000 + i * 1000).toISOString(),
      action: 'api.request',
      outcome: 'failure',
      reason: 'bad_signature',
      api_key_id: 'ak_e2e_victim',
      account_id: 'acc_e2e',
      client_ip: '203.0.113.45',
      http: { method: 'POST', path: '/v1/orders', status: 401 },
    }))
    const sent = Date.now()
    expect((await signedPost(up.url, 'desk', secret, burst.map((e) => JSON.stringify(e)).join('\n'))).status).toBe(202)

    const revoked = await guard.waitFor((d) => d.type === 'key_revoked' && d.api_key_id === 'ak_e2e_victim')
    expect(revoked.version).toBe(1)
    // Seen by the guard seconds after the events were sent (detection tick + playbook + channel).
    expect(revoked.receivedAt - sent).toBeLessThan(30_000)

    // The control state a reconnecting guard would fetch says the same.
    const state = (await (await fetch(`${up.url}/v1/control/state`, { headers: signedHeaders('desk', secret) })).json()) as {
      version: number
      revoked_keys: Array<{ api_key_id: string; reason: string }>
    }
    expect(state.version).toBeGreaterThanOrEqual(1)
    expect(state.revoked_keys.map((k) => k.api_key_id)).toContain('ak_e2e_victim')
    // Unsigned, it is refused.
    expect((await fetch(`${up.url}/v1/control/state`)).status).toBe(401)

    // Revoked when the alert was picked up, before the run opened its incident: the key names
    // the incident once it exists.
    type KeyView = { status: string; incident_id: string | null; reason: string }
    let key = (await (await api('/v1/keys/ak_e2e_victim', viewer)).json()) as KeyView
    for (const end = Date.now() + 30_000; !key.incident_id && Date.now() < end; ) {
      await new Promise((r) => setTimeout(r, 100))
      key = (await (await api('/v1/keys/ak_e2e_victim', viewer)).json()) as KeyView
    }
    expect(key.status).toBe('revoked')
    expect(key.incident_id).toMatch(/^in_/)

    // The alert, critical, points at the incident; the incident carries the alert and its timeline.
    const alerts = (await (await api('/v1/alerts?rule=auth.brute_force', viewer)).json()) as { items: Array<{ id: string; severity: string; incident_id: string | null }> }
    expect(alerts.items).toHaveLength(1)
    expect(alerts.items[0]!.severity).toBe('critical')
    let incident: { id: string; alert_ids: string[]; timeline: Array<{ kind: string; step: string | null; outcome: string | null }> } | undefined
    const until = Date.now() + 30_000
    for (;;) {
      incident = (await (await api(`/v1/incidents/${key.incident_id}`, viewer)).json()) as typeof incident
      // Slack and email are not configured here: their steps end `skipped`, still on the timeline.
      const finished = incident!.timeline.filter((t) => t.kind === 'step_done' || t.kind === 'step_skipped' || t.outcome === 'skipped')
      if (finished.length >= 3 || Date.now() > until) break
      await new Promise((r) => setTimeout(r, 200))
    }
    expect(incident!.alert_ids).toContain(alerts.items[0]!.id)
    const kinds = incident!.timeline.map((t) => t.kind)
    expect(kinds).toContain('step_attempt')
    expect(incident!.timeline.some((t) => t.step === 'revoke_key' || t.outcome === 'done')).toBe(true)
    const alert = (await (await api(`/v1/alerts/${alerts.items[0]!.id}`, viewer)).json()) as { incident_id: string | null }
    expect(alert.incident_id).toBe(key.incident_id)

    // A viewer may not restore; a responder may, and the guard hears of it.
    expect((await api('/v1/keys/ak_e2e_victim/restore', viewer, { method: 'POST', body: JSON.stringify({ reason: 'x' }) })).status).toBe(403)
    const restore = await api('/v1/keys/ak_e2e_victim/restore', alice, { method: 'POST', body: JSON.stringify({ reason: 'owner rotated the secret' }) })
    expect(restore.status).toBe(200)
    await guard.waitFor((d) => d.type === 'key_restored' && d.api_key_id === 'ak_e2e_victim')

    // Kill-switch on an account: tripped by alice, reset only with a second person.
    const trip = await api('/v1/killswitches', alice, { method: 'POST', body: JSON.stringify({ scope: { type: 'account', id: 'acc_e2e' }, reason: 'runaway algo' }) })
    expect(trip.status).toBe(201)
    const ks = (await trip.json()) as { id: string; status: string }
    await guard.waitFor((d) => d.type === 'killswitch_tripped' && d.killswitch?.id === ks.id)
    const first = await api(`/v1/killswitches/${ks.id}/reset`, alice, { method: 'POST', body: JSON.stringify({ reason: 'algo fixed' }) })
    expect(first.status).toBe(202)
    const again = await api(`/v1/killswitches/${ks.id}/reset`, alice, { method: 'POST', body: JSON.stringify({ reason: 'algo fixed' }) })
    expect([again.status, ((await again.json()) as { error: { code: string } }).error.code]).toEqual([409, 'four_eyes_required'])
    const second = await api(`/v1/killswitches/${ks.id}/reset`, bob, { method: 'POST', body: JSON.stringify({ reason: 'checked with desk head' }) })
    expect(second.status).toBe(200)
    await guard.waitFor((d) => d.type === 'killswitch_reset' && d.killswitch_id === ks.id)

    // A guard that reconnects from version 1 gets exactly what it missed, in order.
    await guard.close()
    const late = await openControlStream(up.url, 'desk', secret, 1)
    await late.waitFor((d) => d.type === 'killswitch_reset')
    expect(late.deltas.map((d) => d.version)).toEqual([2, 3, 4])
    await late.close()

    // The audit chain verifies while Vigil runs (over the admin socket).
    const audit = vigilJson(['audit', 'verify'], env) as { ok: boolean; rows: number }
    expect(audit.ok).toBe(true)
    expect(audit.rows).toBeGreaterThanOrEqual(5)
  }, 180_000)
})
