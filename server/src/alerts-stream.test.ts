/**
 * GET /v1/alerts/stream over a real listening socket (SSE cannot be injected): the whole app
 * with its access check and security headers, alerts stored through a second AlertStore on
 * the same ClickHouse, as another vigil process's detector would store them.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { AlertStore, alertsRoutes, type Finding } from '@vigil/detect'
import { createCursorCodec } from './cursor.js'
import { openTestStore, startTestApp, type TestApp, type TestStore } from './test-support.js'

let t: TestStore
let h: TestApp
let other: AlertStore
let base: string

beforeAll(async () => {
  t = await openTestStore()
  h = await startTestApp(t)
  other = new AlertStore(t.store)
  await h.app.listen({ host: '127.0.0.1', port: 0 })
  base = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`
})
afterAll(async () => {
  await h?.close()
  await t?.cleanup()
})

let n = 0
function finding(over: Partial<Finding> = {}): Finding {
  n += 1
  const at = Date.now() - 60_000 + n
  return {
    rule: 'auth.brute_force',
    severity: 'high',
    score: 50,
    entity: { type: 'api_key', id: `stream-key-${n}` },
    api_key_id: `stream-key-${n}`,
    account_id: 'acct-s',
    firstSeenMs: at,
    lastSeenMs: at + 100,
    windowStartMs: at,
    count: 2,
    summary: `stream finding ${n}`,
    evidence: { value: 5, threshold: 3 },
    ...over,
  }
}

interface SseMessage {
  event: string
  id?: string
  data: string
}

/** An open stream: its status and headers, the messages parsed so far, a way to wait for more. */
interface Client {
  status: number
  ended: Promise<void>
  headers: http.IncomingHttpHeaders
  messages: SseMessage[]
  comments: string[]
  body: string
  waitFor(pred: (m: SseMessage[]) => boolean, what: string): Promise<SseMessage[]>
  close(): void
}

function connect(token: string, lastEventId?: string, at = base): Promise<Client> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      `${at}/v1/alerts/stream`,
      { headers: { authorization: `Bearer ${token}`, ...(lastEventId !== undefined ? { 'last-event-id': lastEventId } : {}) } },
      (res) => {
        const client: Client = {
          status: res.statusCode ?? 0,
          ended: new Promise((ok) => res.on('end', () => ok())),
          headers: res.headers,
          messages: [],
          comments: [],
          body: '',
          waitFor: (pred, what) =>
            new Promise((ok, fail) => {
              // A hang guard, not a timing assertion: the poller runs every 500 ms.
              const guard = setTimeout(() => fail(new Error(`timed out waiting for ${what}; got ${JSON.stringify(client.messages.map((m) => m.event))}`)), 20_000)
              const check = () => {
                if (pred(client.messages)) {
                  clearTimeout(guard)
                  res.off('data', check)
                  ok(client.messages)
                }
              }
              res.on('data', check)
              setImmediate(check)
            }),
          close: () => req.destroy(),
        }
        let buf = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          client.body += chunk
          buf += chunk
          let end: number
          while ((end = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, end)
            buf = buf.slice(end + 2)
            const m: SseMessage = { event: 'message', data: '' }
            let isComment = true
            for (const line of block.split('\n')) {
              if (line.startsWith(':')) {
                client.comments.push(line)
                continue
              }
              isComment = false
              const i = line.indexOf(': ')
              const [k, v] = i >= 0 ? [line.slice(0, i), line.slice(i + 2)] : [line, '']
              if (k === 'event') m.event = v
              else if (k === 'id') m.id = v
              else if (k === 'data') m.data += v
            }
            if (!isComment) client.messages.push(m)
          }
        })
        res.on('error', () => {})
        resolve(client)
      },
    )
    req.on('error', reject)
  })
}

const alertsIn = (ms: SseMessage[]) => ms.filter((m) => m.event === 'alert').map((m) => ({ id: m.id, alert: JSON.parse(m.data) as Record<string, unknown> }))

describe('GET /v1/alerts/stream', () => {
  it('says hello, then sends an alert stored by another process and its status change as an update', async () => {
    const c = await connect(h.tokens.viewer)
    expect(c.status).toBe(200)
    expect(c.headers['content-type']).toMatch(/^text\/event-stream/)
    expect(c.headers['cache-control']).toBe('no-store')
    // The app's security headers are copied onto the hijacked answer.
    expect(c.headers['x-content-type-options']).toBe('nosniff')
    const hello = (await c.waitFor((ms) => ms.length >= 1, 'hello'))[0] as SseMessage
    expect(hello.event).toBe('hello')
    expect(hello.id).toMatch(/^\d+\.\d+\./)
    expect(Date.parse((JSON.parse(hello.data) as { at: string }).at)).not.toBeNaN()

    const created = (await other.upsert(finding(), 60_000)).alert
    await c.waitFor((ms) => alertsIn(ms).some((a) => a.alert.id === created.id), 'the new alert')
    const first = alertsIn(c.messages).find((a) => a.alert.id === created.id)
    // The same shape as GET /v1/alerts/:id without history.
    const one = (await h.app.inject({ url: `/v1/alerts/${created.id}`, headers: { authorization: `Bearer ${h.tokens.viewer}` } })).json() as Record<string, unknown>
    const { history: _history, ...withoutHistory } = one
    expect(first?.alert).toEqual(withoutHistory)

    await other.setStatus(created.id, 'acknowledged', 'looking', 'someone')
    await c.waitFor((ms) => alertsIn(ms).some((a) => a.alert.id === created.id && a.alert.status === 'acknowledged'), 'the status change')
    const updates = alertsIn(c.messages).filter((a) => a.alert.id === created.id)
    expect(updates.map((u) => u.alert.status)).toEqual(['open', 'acknowledged'])
    // Ids only move forward.
    expect(updates[1]?.id).not.toBe(updates[0]?.id)
    c.close()
  })

  it('resumes with Last-Event-ID with exactly what was missed', async () => {
    const c = await connect(h.tokens.analyst)
    const seenAlert = (await other.upsert(finding(), 60_000)).alert
    await c.waitFor((ms) => alertsIn(ms).some((a) => a.alert.id === seenAlert.id), 'the first alert')
    const lastId = alertsIn(c.messages).at(-1)?.id as string
    c.close()

    // Missed while away: two new alerts and a change to the one already seen.
    const missedA = (await other.upsert(finding(), 60_000)).alert
    const missedB = (await other.upsert(finding(), 60_000)).alert
    await other.setStatus(seenAlert.id, 'resolved', 'done', 'someone')

    const r = await connect(h.tokens.analyst, lastId)
    expect(r.status).toBe(200)
    await r.waitFor((ms) => alertsIn(ms).length >= 3, 'the backlog')
    // Then something live, after the backlog.
    const live = (await other.upsert(finding(), 60_000)).alert
    await r.waitFor((ms) => alertsIn(ms).some((a) => a.alert.id === live.id), 'a live alert after the backlog')
    expect(r.messages.some((m) => m.event === 'hello')).toBe(false)
    const got = alertsIn(r.messages)
    expect(got.map((a) => a.alert.id)).toEqual([missedA.id, missedB.id, seenAlert.id, live.id])
    expect(got[2]?.alert.status).toBe('resolved')
    r.close()
  })

  it('sends the incident link when an analyst opens an incident from the alert', async () => {
    const c = await connect(h.tokens.analyst)
    await c.waitFor((ms) => ms.length >= 1, 'hello')
    const alert = (await other.upsert(finding(), 60_000)).alert
    await c.waitFor((ms) => alertsIn(ms).some((a) => a.alert.id === alert.id), 'the alert')
    const opened = await h.app.inject({
      method: 'POST',
      url: '/v1/incidents',
      headers: { authorization: `Bearer ${h.tokens.analyst}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ alert_id: alert.id }),
    })
    expect(opened.statusCode).toBe(201)
    const incidentId = (opened.json() as { id: string }).id
    await c.waitFor((ms) => alertsIn(ms).some((a) => a.alert.id === alert.id && a.alert.incident_id === incidentId), 'the incident link')
    c.close()
  })

  it('answers HEAD with the stream headers and no stream', async () => {
    const res = await h.app.inject({ method: 'HEAD', url: '/v1/alerts/stream', headers: { authorization: `Bearer ${h.tokens.viewer}` } })
    expect([res.statusCode, res.headers['content-type'], res.body]).toEqual([200, 'text/event-stream; charset=utf-8', ''])
  })

  it('answers a bad Last-Event-ID with 400 bad_last_event_id before the stream starts', async () => {
    for (const bad of ['garbage', '12', '1.2.id with spaces', `${'9'.repeat(20)}.1.x`]) {
      const res = await h.app.inject({ url: '/v1/alerts/stream', headers: { authorization: `Bearer ${h.tokens.viewer}`, 'last-event-id': bad } })
      expect([res.statusCode, res.json()], bad).toEqual([400, { error: { code: 'bad_last_event_id', message: expect.any(String) } }])
    }
    const regulator = await h.app.inject({ url: '/v1/alerts/stream', headers: { authorization: `Bearer ${h.tokens.regulator}` } })
    expect(regulator.statusCode).toBe(403)
    const anonymous = await h.app.inject({ url: '/v1/alerts/stream' })
    expect(anonymous.statusCode).toBe(401)
  })

  it('lets go of a connection when the client disconnects', async () => {
    const connections = async () => new Promise<number>((ok, fail) => h.app.server.getConnections((err, count) => (err ? fail(err) : ok(count))))
    const c = await connect(h.tokens.viewer)
    await c.waitFor((ms) => ms.length >= 1, 'hello')
    expect(await connections()).toBeGreaterThanOrEqual(1)
    c.close()
    // The server side closes too; then stored alerts are no longer written anywhere.
    for (let i = 0; i < 200 && (await connections()) > 0; i++) await new Promise((r) => setTimeout(r, 50))
    expect(await connections()).toBe(0)
    // Still serving: a new client gets its hello and the next alert.
    const again = await connect(h.tokens.viewer)
    await again.waitFor((ms) => ms.length >= 1, 'hello again')
    const next = (await other.upsert(finding(), 60_000)).alert
    await again.waitFor((ms) => alertsIn(ms).some((a) => a.alert.id === next.id), 'an alert after a disconnect')
    again.close()
  })
})

describe('GET /v1/alerts/stream, bounds', () => {
  let small: string
  beforeAll(async () => {
    // Its own routes with tight bounds: a poll every 2 s, one alert may wait, keep-alive every 50 ms.
    const routes = alertsRoutes({ alerts: new AlertStore(t.store), cursors: createCursorCodec(Buffer.alloc(32, 7)), stream: { pollMs: 2000, maxQueued: 1, keepAliveMs: 50 } })
    const app = await h.extraApp({ plugins: [routes] })
    await app.listen({ host: '127.0.0.1', port: 0 })
    small = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  })

  it('sends keep-alive comments while nothing happens', async () => {
    const c = await connect(h.tokens.viewer, undefined, small)
    await c.waitFor((ms) => ms.length >= 1, 'hello')
    for (let i = 0; i < 200 && c.comments.length < 2; i++) await new Promise((r) => setTimeout(r, 25))
    expect(c.comments.slice(0, 2)).toEqual([': keep-alive', ': keep-alive'])
    c.close()
  })

  it('closes a connection with more alerts waiting than it may hold; resuming loses nothing', async () => {
    const c = await connect(h.tokens.viewer, undefined, small)
    const hello = (await c.waitFor((ms) => ms.length >= 1, 'hello'))[0] as SseMessage
    // Three alerts land in one poll: more than the one this connection may queue.
    const stored = [(await other.upsert(finding(), 60_000)).alert, (await other.upsert(finding(), 60_000)).alert, (await other.upsert(finding(), 60_000)).alert]
    await c.ended
    // Usually none got through; if a poll fell between two of the stores, the first did.
    const before = alertsIn(c.messages)
    expect(before.length).toBeLessThan(3)
    const r = await connect(h.tokens.viewer, before.at(-1)?.id ?? hello.id, base)
    const rest = stored.slice(before.length)
    await r.waitFor((ms) => rest.every((a) => alertsIn(ms).some((m) => m.alert.id === a.id)), 'the rest on resume')
    expect([...before, ...alertsIn(r.messages)].map((m) => m.alert.id)).toEqual(stored.map((a) => a.id))
    r.close()
  })
})
