import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import Fastify, { type FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { VigilError, isVigilError, signPayload } from '@vigil/core'
import { startRespondHarness, type RespondHarness } from './test-support.js'
import { createControlLog, type ControlLog } from './control-log.js'
import { controlRoutes, type ControlRoutesDeps } from './control-routes.js'

const SECRET = 'vgs_test_secret_0123456789abcdef'
const OLD_SECRET = 'vgs_old_secret_0123456789abcdef'

let h: RespondHarness
let n = 0
let control: ControlLog
let apps: FastifyInstance[] = []
/** Subscriptions open now, counted through a wrapper so a test can see a disconnect release one. */
let live = 0

beforeAll(async () => {
  h = await startRespondHarness()
})
afterAll(async () => {
  for (const a of apps) await a.close()
  await control.close()
  await h.close()
})
beforeEach(async () => {
  for (const a of apps) await a.close()
  apps = []
  if (control) await control.close()
  await h.store.command('TRUNCATE TABLE control_log')
  control = createControlLog({ store: h.store, redis: h.redis, keyPrefix: `${h.prefix}:${++n}:` })
})

async function start(opts: Partial<ControlRoutesDeps> = {}): Promise<string> {
  const counted: ControlLog = {
    ...control,
    async subscribe(fn) {
      const off = await control.subscribe(fn)
      live += 1
      return () => {
        live -= 1
        off()
      }
    },
  }
  const app = Fastify({ logger: false })
  app.setErrorHandler((err, _req, reply) => {
    const e = isVigilError(err) ? err : new VigilError('VIGIL_ERR_INTERNAL')
    return reply.code(e.statusCode).headers(e.headers).send(e.toBody())
  })
  await app.register(
    controlRoutes({
      control: counted,
      secretsFor: async (source) => (source === 'desk-1' ? [SECRET, OLD_SECRET] : undefined),
      toleranceSec: 300,
      logger: pino({ level: 'silent' }),
      ...opts,
    }),
  )
  await app.listen({ port: 0, host: '127.0.0.1' })
  apps.push(app)
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

function signed(secret = SECRET, ts = Math.floor(Date.now() / 1000), source = 'desk-1'): Record<string, string> {
  return { 'vigil-source': source, 'vigil-timestamp': String(ts), 'vigil-signature': signPayload(secret, ts, '') }
}

async function getJson(url: string, headers: Record<string, string>): Promise<{ status: number; body: unknown; headers: Headers }> {
  const res = await fetch(url, { headers })
  return { status: res.status, body: await res.json(), headers: res.headers }
}

interface Sse {
  events: Array<{ id?: string; event?: string; data?: string }>
  comments: number
  ended: Promise<void>
  close(): void
  status: Promise<number>
}

function openStream(url: string, headers: Record<string, string>): Sse {
  let resolveStatus!: (n: number) => void
  const status = new Promise<number>((r) => (resolveStatus = r))
  const sse: Sse = { events: [], comments: 0, ended: Promise.resolve(), close: () => undefined, status }
  let buf = ''
  sse.ended = new Promise<void>((resolve) => {
    const req = http.get(url, { headers }, (res) => {
      resolveStatus(res.statusCode ?? 0)
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        buf += chunk
        let i: number
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i)
          buf = buf.slice(i + 2)
          if (block.startsWith(':')) {
            sse.comments += 1
            continue
          }
          const ev: { id?: string; event?: string; data?: string } = {}
          for (const line of block.split('\n')) {
            const j = line.indexOf(': ')
            const k = line.slice(0, j)
            if (k === 'id' || k === 'event' || k === 'data') ev[k] = line.slice(j + 2)
          }
          sse.events.push(ev)
        }
      })
      res.on('end', () => resolve())
      res.on('close', () => resolve())
    })
    req.on('error', () => resolve())
    sse.close = () => req.destroy()
  })
  return sse
}

const versionsOf = (sse: Sse) => sse.events.filter((e) => e.event === 'delta').map((e) => Number(e.id))
const revoke = (i: number) => control.append({ kind: 'key_revoked', apiKeyId: `k_${i}`, by: { reason: `r${i}`, actor: 'playbook:p' } })

describe('control channel authentication', () => {
  it('answers the state to a signed request, with no-store', async () => {
    const base = await start()
    await revoke(1)
    const r = await getJson(`${base}/v1/control/state`, signed())
    expect(r.status).toBe(200)
    expect(r.headers.get('cache-control')).toBe('no-store')
    expect(r.body).toEqual({ version: 1, revoked_keys: [{ api_key_id: 'k_1', revoked_at: expect.any(String), reason: 'r1' }], killswitches: [] })
    // a rotating source may still sign with its old secret
    expect((await getJson(`${base}/v1/control/state`, signed(OLD_SECRET))).status).toBe(200)
  })

  it('refuses missing, unknown, stale, forged and body-signed requests', async () => {
    const base = await start()
    const now = Math.floor(Date.now() / 1000)
    const cases: Array<[Record<string, string>, number, string]> = [
      [{}, 401, 'unauthorized'],
      [signed(SECRET, now, 'desk-unknown'), 401, 'unauthorized'],
      [signed(SECRET, now - 310), 401, 'stale_timestamp'],
      [signed(SECRET, now + 320), 401, 'stale_timestamp'],
      [{ ...signed(), 'vigil-timestamp': 'yesterday' }, 401, 'stale_timestamp'],
      [signed('vgs_wrong_secret_0123456789abcdef'), 401, 'bad_signature'],
      [{ ...signed(), 'vigil-signature': '' }, 401, 'bad_signature'],
      [{ ...signed(), 'vigil-signature': 'v1=zz' }, 401, 'bad_signature'],
      [{ ...signed(), 'vigil-signature': `v1=${signPayload(SECRET, now, '{}').slice(3)}` }, 401, 'bad_signature'],
      // a signature is bound to its timestamp
      [{ ...signed(SECRET, now - 10), 'vigil-timestamp': String(now) }, 401, 'bad_signature'],
    ]
    for (const [headers, status, code] of cases) {
      for (const path of ['/v1/control/state', '/v1/control/stream']) {
        const r = await getJson(`${base}${path}`, headers)
        expect([path, r.status, (r.body as { error: { code: string } }).error.code]).toEqual([path, status, code])
      }
    }
  })
})

describe('control stream', () => {
  it('opens with hello carrying the current version, then sends live deltas', async () => {
    const base = await start()
    await revoke(1)
    await revoke(2)
    const sse = openStream(`${base}/v1/control/stream`, signed())
    expect(await sse.status).toBe(200)
    await expect.poll(() => sse.events.length).toBe(1)
    expect(sse.events[0]).toEqual({ id: '2', event: 'hello', data: '{"version":2}' })
    await control.append({ kind: 'killswitch_tripped', id: 'ks_1', scope: { type: 'global', id: '*' }, by: { reason: 'halt', actor: 'operator:a' } })
    await expect.poll(() => sse.events.length).toBe(2)
    expect(sse.events[1]?.id).toBe('3')
    expect(JSON.parse(sse.events[1]?.data ?? '')).toEqual({
      version: 3,
      type: 'killswitch_tripped',
      killswitch: { id: 'ks_1', scope: { type: 'global', id: '*' }, tripped_at: expect.any(String), reason: 'halt' },
    })
    sse.close()
  })

  it('resumes from ?since with exactly the missed deltas, then live ones, none twice, while changes keep coming', async () => {
    const base = await start()
    await Promise.all(Array.from({ length: 30 }, (_, i) => revoke(i + 1)))
    // changes are driven while the stream connects and reads its backlog
    const writing = (async () => {
      for (let i = 31; i <= 130; i += 5) {
        await Promise.all([0, 1, 2, 3, 4].map((j) => revoke(i + j)))
        await new Promise((r) => setTimeout(r, 2))
      }
    })()
    const sse = openStream(`${base}/v1/control/stream?since=12`, signed())
    await writing
    await expect.poll(() => versionsOf(sse).at(-1), { timeout: 10_000 }).toBe(130)
    expect(versionsOf(sse)).toEqual(Array.from({ length: 118 }, (_, i) => i + 13))
    expect(sse.events.some((e) => e.event === 'hello')).toBe(false)
    const d = JSON.parse(sse.events[0]?.data ?? '') as { type: string; api_key_id: string }
    expect(d).toMatchObject({ version: 13, type: 'key_revoked', api_key_id: expect.stringMatching(/^k_\d+$/) })
    sse.close()
  })

  it('resumes from Last-Event-ID, as EventSource sends it', async () => {
    const base = await start()
    for (let i = 1; i <= 5; i++) await revoke(i)
    const sse = openStream(`${base}/v1/control/stream`, { ...signed(), 'last-event-id': '3' })
    await expect.poll(() => versionsOf(sse)).toEqual([4, 5])
    await revoke(6)
    await expect.poll(() => versionsOf(sse)).toEqual([4, 5, 6])
    sse.close()
  })

  it('answers the response head at once when resuming with nothing to catch up on', async () => {
    const base = await start({ keepAliveMs: 60_000 })
    await revoke(1)
    const sse = openStream(`${base}/v1/control/stream`, { ...signed(), 'last-event-id': '1' })
    const status = await Promise.race([sse.status, new Promise<number>((r) => setTimeout(() => r(-1), 2_000))])
    expect(status).toBe(200)
    await revoke(2)
    await expect.poll(() => versionsOf(sse)).toEqual([2])
    sse.close()
  })

  it('refuses a resume point that is not a version, or one it never issued', async () => {
    const base = await start()
    await revoke(1)
    for (const q of ['since=-1', 'since=abc', 'since=1.5', 'since=99999999999999999999', 'since=']) {
      const r = await getJson(`${base}/v1/control/stream?${q}`, signed())
      expect([q, r.status, (r.body as { error: { code: string } }).error.code]).toEqual([q, 400, 'bad_version'])
    }
    const bad = await getJson(`${base}/v1/control/stream`, { ...signed(), 'last-event-id': 'x1' })
    expect(bad.status).toBe(400)
    const gone = await getJson(`${base}/v1/control/stream?since=5`, signed())
    expect([gone.status, (gone.body as { error: { code: string } }).error.code]).toEqual([410, 'version_gone'])
  })

  it('sends keep-alive comments', async () => {
    const base = await start({ keepAliveMs: 30 })
    const sse = openStream(`${base}/v1/control/stream`, signed())
    await expect.poll(() => sse.comments).toBeGreaterThanOrEqual(2)
    sse.close()
  })

  it('drops its subscription when the client goes away', async () => {
    const base = await start()
    const before = live
    const sse = openStream(`${base}/v1/control/stream`, signed())
    await expect.poll(() => sse.events.length).toBe(1)
    expect(live).toBe(before + 1)
    sse.close()
    await expect.poll(() => live).toBe(before)
  })

  it('closes a connection that falls too far behind; resuming from its last id loses nothing', async () => {
    // a one-row backlog page makes the catch-up slow, so live deltas pile up meanwhile
    const base = await start({ maxQueued: 3, backlogPage: 1 })
    await Promise.all(Array.from({ length: 150 }, (_, i) => revoke(i + 1)))
    const sse = openStream(`${base}/v1/control/stream?since=0`, signed())
    await expect.poll(() => versionsOf(sse).length).toBeGreaterThan(0)
    await Promise.all(Array.from({ length: 20 }, (_, i) => revoke(151 + i)))
    // the server ends the stream (the test never closes this one)
    await sse.ended
    const got = versionsOf(sse)
    expect(got).toEqual(Array.from({ length: got.length }, (_, i) => i + 1))
    await revoke(171)
    const again = openStream(`${base}/v1/control/stream`, { ...signed(), 'last-event-id': String(got.at(-1)) })
    await expect.poll(() => versionsOf(again).at(-1), { timeout: 10_000 }).toBe(171)
    expect([...got, ...versionsOf(again)]).toEqual(Array.from({ length: 171 }, (_, i) => i + 1))
    again.close()
  })
})
