import { createHmac, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createControlClient, type ControlChange, type ControlClient, type ControlClientOptions, type ControlDelta, type ControlState } from './control-client.js'
import type { ActiveKillSwitch, GuardEvent, KillSwitchScopeType } from './seams.js'

const SOURCE = 'desk-eu-1'
const SECRET = 'whsec_control-test-secret-9931'

/**
 * A stand-in for Vigil's control channel speaking CONTRACT §3 as respond/control-routes.ts
 * does: signed GETs (HMAC over "<ts>."), the state, and an SSE stream that resumes from
 * Last-Event-ID with exactly the later deltas, answers 410 version_gone past its version,
 * and sends `: keep-alive` comments.
 */
class ControlStandIn {
  state: ControlState = { version: 0, revoked_keys: [], killswitches: [] }
  readonly log: ControlDelta[] = []
  readonly requests: Array<{ path: string; lastEventId: string | undefined }> = []
  /** Overrides: answer the stream or the state with this status instead. */
  streamStatus: number | undefined
  stateStatus: number | undefined
  readonly #streams = new Set<ServerResponse>()
  #server: Server | undefined
  port = 0

  async start(port = 0): Promise<void> {
    const server = createServer((req, res) => this.#handle(req, res))
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
    this.port = (server.address() as AddressInfo).port
    this.#server = server
  }

  async stop(): Promise<void> {
    const s = this.#server
    this.#server = undefined
    if (!s) return
    this.dropStreams()
    s.closeAllConnections()
    await new Promise<void>((resolve) => s.close(() => resolve()))
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  get streams(): number {
    return this.#streams.size
  }

  /** Records a change, applies it to the state and sends it to every open stream. */
  publish(change: DistributiveOmit<ControlDelta, 'version'>): ControlDelta {
    const d = { ...change, version: this.state.version + 1 } as ControlDelta
    this.#apply(d)
    this.log.push(d)
    for (const res of this.#streams) res.write(message(d))
    return d
  }

  /** A change the stream never carries (a pub/sub loss): the state moves on, the log skips it. */
  lose(change: DistributiveOmit<ControlDelta, 'version'>): void {
    const d = { ...change, version: this.state.version + 1 } as ControlDelta
    this.#apply(d)
    this.log.push(d)
  }

  /** Writes raw bytes to every open stream (hostile or oddly chunked input). */
  raw(text: string | Buffer): void {
    for (const res of this.#streams) res.write(text)
  }

  dropStreams(): void {
    for (const res of this.#streams) res.destroy()
    this.#streams.clear()
  }

  /** Vigil's log was reset: a fresh state at a lower version, no history. */
  reset(state: ControlState): void {
    this.state = state
    this.log.length = 0
  }

  #apply(d: ControlDelta): void {
    const s = this.state
    s.version = d.version
    if (d.type === 'key_revoked') s.revoked_keys.push({ api_key_id: d.api_key_id, revoked_at: d.revoked_at, reason: d.reason })
    if (d.type === 'key_restored') s.revoked_keys = s.revoked_keys.filter((k) => k.api_key_id !== d.api_key_id)
    if (d.type === 'killswitch_tripped') s.killswitches.push(d.killswitch)
    if (d.type === 'killswitch_reset') s.killswitches = s.killswitches.filter((k) => k.id !== d.killswitch_id)
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '').split('?')[0] ?? ''
    const lastEventId = typeof req.headers['last-event-id'] === 'string' ? req.headers['last-event-id'] : undefined
    this.requests.push({ path, lastEventId })
    const err = (status: number, code: string) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { code, message: code } }))
    }
    if (req.headers['vigil-source'] !== SOURCE) return err(401, 'unauthorized')
    const ts = String(req.headers['vigil-timestamp'] ?? '')
    if (!/^\d+$/.test(ts) || Math.abs(Date.now() / 1000 - Number(ts)) > 300) return err(401, 'stale_timestamp')
    const sig = String(req.headers['vigil-signature'] ?? '')
    const expected = createHmac('sha256', SECRET).update(`${ts}.`).digest()
    const given = Buffer.from(sig.replace(/^v1=/, ''), 'hex')
    if (!sig.startsWith('v1=') || given.length !== expected.length || !timingSafeEqual(given, expected)) return err(401, 'bad_signature')

    if (path === '/v1/control/state') {
      if (this.stateStatus) return err(this.stateStatus, 'unavailable')
      res.writeHead(200, { 'content-type': 'application/json' })
      return void res.end(JSON.stringify(this.state))
    }
    if (path !== '/v1/control/stream') return err(404, 'not_found')
    if (this.streamStatus) return err(this.streamStatus, 'unavailable')
    const since = lastEventId === undefined ? undefined : Number(lastEventId)
    if (since !== undefined && since > this.state.version) return err(410, 'version_gone')
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' })
    if (since === undefined) res.write(`id: ${this.state.version}\nevent: hello\ndata: ${JSON.stringify({ version: this.state.version })}\n\n`)
    else for (const d of this.log) if (d.version > since) res.write(message(d))
    res.write(': keep-alive\n\n')
    this.#streams.add(res)
    res.on('close', () => this.#streams.delete(res))
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never
const message = (d: ControlDelta) => `id: ${d.version}\nevent: delta\ndata: ${JSON.stringify(d)}\n\n`

const ks = (id: string, type: KillSwitchScopeType, scopeId: string): ActiveKillSwitch => ({ id, scope: { type, id: scopeId }, tripped_at: '2026-11-24T09:30:00Z', reason: 'test' })
const revoke = (api_key_id: string) => ({ type: 'key_revoked' as const, api_key_id, revoked_at: '2026-11-24T09:30:00Z', reason: 'brute force' })

const clients: ControlClient[] = []
const standIns: ControlStandIn[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close()
  for (const v of standIns.splice(0)) await v.stop()
})

async function standIn(port = 0): Promise<ControlStandIn> {
  const v = new ControlStandIn()
  await v.start(port)
  standIns.push(v)
  return v
}

function client(vigil: { url: string }, options: Partial<ControlClientOptions> = {}): ControlClient & { changes: ControlChange[]; tripped: string[] } {
  const changes: ControlChange[] = []
  const tripped: string[] = []
  const c = createControlClient({
    vigilUrl: vigil.url,
    source: SOURCE,
    secret: SECRET,
    reconnectBaseMs: 20,
    reconnectMaxMs: 200,
    pollMs: 100,
    timeoutMs: 2000,
    onChange: (ch) => changes.push(ch),
    onKillSwitch: (k) => void tripped.push(k.id),
    ...options,
  })
  clients.push(c)
  return Object.assign(c, { changes, tripped })
}

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('control client', () => {
  it('applies the state, then each delta from the stream; a revoked key is seen within 2 s of the change', async () => {
    const vigil = await standIn()
    vigil.state = { version: 3, revoked_keys: [{ api_key_id: 'k-old', revoked_at: 't', reason: 'r' }], killswitches: [] }
    const c = client(vigil, { pollMs: 60_000 })
    expect(c.version()).toBe(0)
    c.start()
    await c.ready()
    expect(c.version()).toBe(3)
    expect(c.isRevoked('k-old')).toBe(true)
    await until(() => vigil.streams === 1, 'the stream')
    expect(vigil.requests.at(-1)).toEqual({ path: '/v1/control/stream', lastEventId: '3' })

    vigil.publish(revoke('k-stolen'))
    await until(() => c.isRevoked('k-stolen'), 'the revocation', 2000)
    vigil.publish({ type: 'key_restored', api_key_id: 'k-old', restored_at: 't', reason: 'false positive' })
    await until(() => !c.isRevoked('k-old'), 'the restore')
    expect(c.version()).toBe(5)
    expect(c.changes.map((ch) => ch.type)).toEqual(['state', 'key_revoked', 'key_restored'])
    expect(c.stats()).toMatchObject({ streaming: true, degraded: false, stateFetches: 1, deltasApplied: 2, refetches: 0, revokedKeys: 1 })
  })

  it('resumes with Last-Event-ID after the server drops the stream and gets exactly the missed deltas', async () => {
    const vigil = await standIn()
    // No poll here: what arrives must come from the resumed stream alone.
    const c = client(vigil, { pollMs: 60_000 })
    c.start()
    await c.ready()
    await until(() => vigil.streams === 1, 'the stream')
    vigil.publish(revoke('k1'))
    await until(() => c.version() === 1, 'delta 1')
    vigil.streamStatus = 503
    vigil.dropStreams()
    await until(() => !c.stats().streaming, 'the drop')
    vigil.lose(revoke('k2'))
    vigil.lose(revoke('k3'))
    vigil.streamStatus = undefined
    await until(() => c.version() === 3, 'the missed deltas')
    const resumed = vigil.requests.filter((r) => r.path === '/v1/control/stream').map((r) => r.lastEventId)
    expect(resumed[0]).toBe('0')
    expect(resumed.slice(1).every((id) => id === '1')).toBe(true)
    expect(resumed.length).toBeGreaterThan(1)
    expect(c.isRevoked('k2') && c.isRevoked('k3')).toBe(true)
    expect(c.changes.map((ch) => `${ch.type}@${ch.version}`)).toEqual(['state@0', 'key_revoked@1', 'key_revoked@2', 'key_revoked@3'])
    expect(c.stats()).toMatchObject({ stateFetches: 1, refetches: 0 })
  })

  it('a gap in the stream makes it fetch the state again instead of guessing', async () => {
    const vigil = await standIn()
    const c = client(vigil, { pollMs: 60_000 })
    c.start()
    await c.ready()
    await until(() => vigil.streams === 1, 'the stream')
    vigil.lose(revoke('k-missed'))
    vigil.publish(revoke('k-next'))
    await until(() => c.version() === 2, 'the refetch')
    expect(c.isRevoked('k-missed')).toBe(true)
    expect(c.isRevoked('k-next')).toBe(true)
    expect(c.stats()).toMatchObject({ refetches: 1, stateFetches: 2 })
  })

  it('410 version_gone (Vigil log reset) makes it take the new state, even at a lower version', async () => {
    const vigil = await standIn()
    vigil.state = { version: 7, revoked_keys: [{ api_key_id: 'k-a', revoked_at: 't', reason: 'r' }], killswitches: [] }
    const c = client(vigil)
    c.start()
    await c.ready()
    await until(() => vigil.streams === 1, 'the stream')
    vigil.reset({ version: 2, revoked_keys: [{ api_key_id: 'k-b', revoked_at: 't', reason: 'r' }], killswitches: [] })
    vigil.dropStreams()
    await until(() => c.version() === 2, 'the reset state')
    expect(c.isRevoked('k-a')).toBe(false)
    expect(c.isRevoked('k-b')).toBe(true)
    expect(vigil.requests.some((r) => r.path === '/v1/control/stream' && r.lastEventId === '7')).toBe(true)
    await until(() => vigil.streams === 1, 'the stream again')
    expect(vigil.requests.filter((r) => r.path === '/v1/control/stream').at(-1)).toEqual({ path: '/v1/control/stream', lastEventId: '2' })
  })

  it('polls the state while the stream fails, and is not degraded while polls succeed', async () => {
    const vigil = await standIn()
    vigil.streamStatus = 503
    const c = client(vigil, { graceMs: 400, pollMs: 50 })
    c.start()
    await c.ready()
    vigil.lose(revoke('k-polled'))
    await until(() => c.isRevoked('k-polled') && c.stats().lastError !== undefined, 'the poll')
    expect(c.stats().streaming).toBe(false)
    expect(c.stats().lastError).toMatch(/503/)
    await new Promise((r) => setTimeout(r, 600))
    expect(c.degraded()).toBe(false)
    expect(c.stats().stateFetches).toBeGreaterThan(2)
  })

  it('is degraded once the channel is lost for graceMs, and recovers when Vigil is back', async () => {
    const vigil = await standIn()
    const port = vigil.port
    const c = client(vigil, { graceMs: 300 })
    c.start()
    await c.ready()
    expect(c.degraded()).toBe(false)
    await vigil.stop()
    await until(() => c.degraded(), 'degraded')
    const back = await standIn(port)
    back.state = { version: 0, revoked_keys: [], killswitches: [] }
    await until(() => !c.degraded() && c.stats().streaming, 'recovery')
  })

  it('is degraded after the grace when Vigil was never reached, and ready() rejects on close', async () => {
    const vigil = await standIn()
    const port = vigil.port
    await vigil.stop()
    const c = client({ url: `http://127.0.0.1:${port}` }, { graceMs: 200 })
    c.start()
    const ready = c.ready()
    await until(() => c.degraded(), 'degraded')
    expect(c.isRevoked('anything')).toBe(false)
    await c.close()
    await expect(ready).rejects.toThrow(/closed/)
  })

  it('matches kill-switch scopes of every type, and nothing outside them', async () => {
    const vigil = await standIn()
    vigil.state = {
      version: 1,
      revoked_keys: [],
      killswitches: [ks('ks-src', 'source', SOURCE), ks('ks-other-src', 'source', 'desk-us-9'), ks('ks-acct', 'account', 'A1'), ks('ks-key', 'api_key', 'K1'), ks('ks-sym', 'symbol', 'AAPL'), ks('ks-venue', 'venue', 'XNAS')],
    }
    const c = client(vigil)
    c.start()
    await c.ready()
    const base = { source: 'some-other-source' }
    expect(c.killSwitchFor(base)?.id).toBe('ks-src')
    vigil.publish({ type: 'killswitch_reset', killswitch_id: 'ks-src', reset_at: 't', reason: 'r' })
    await until(() => c.version() === 2, 'the reset')
    expect(c.killSwitchFor(base)).toBeUndefined()
    expect(c.killSwitchFor({ source: SOURCE })).toBeUndefined()
    expect(c.killSwitchFor({ source: 'desk-us-9' })?.id).toBe('ks-other-src')
    expect(c.killSwitchFor({ ...base, account_id: 'A1' })?.id).toBe('ks-acct')
    expect(c.killSwitchFor({ ...base, account_id: 'A2' })).toBeUndefined()
    expect(c.killSwitchFor({ ...base, api_key_id: 'K1' })?.id).toBe('ks-key')
    expect(c.killSwitchFor({ ...base, api_key_id: 'K2' })).toBeUndefined()
    expect(c.killSwitchFor({ ...base, symbol: 'AAPL' })?.id).toBe('ks-sym')
    expect(c.killSwitchFor({ ...base, symbol: 'aapl' })).toBeUndefined()
    expect(c.killSwitchFor({ ...base, venue: 'XNAS' })?.id).toBe('ks-venue')
    expect(c.killSwitchFor({ ...base, venue: 'XLON', symbol: 'MSFT', account_id: 'A2', api_key_id: 'K2' })).toBeUndefined()
    // An id from one scope type never matches another: account "AAPL" is not symbol AAPL.
    expect(c.killSwitchFor({ ...base, account_id: 'AAPL' })).toBeUndefined()
    vigil.publish({ type: 'killswitch_tripped', killswitch: ks('ks-all', 'global', '') })
    await until(() => c.version() === 3, 'the global trip')
    expect(c.killSwitchFor(base)?.id).toBe('ks-all')
    expect(c.killSwitchFor({ source: 'x', venue: 'XLON' })?.id).toBe('ks-all')
  })

  it('calls onKillSwitch once per newly tripped switch — not again on reconnect, poll or refetch', async () => {
    const vigil = await standIn()
    vigil.state = { version: 1, revoked_keys: [], killswitches: [ks('ks-1', 'account', 'A1')] }
    const c = client(vigil)
    c.start()
    await c.ready()
    expect(c.tripped).toEqual(['ks-1'])
    await until(() => vigil.streams === 1, 'the stream')
    vigil.publish({ type: 'killswitch_tripped', killswitch: ks('ks-2', 'global', '') })
    await until(() => c.tripped.length === 2, 'the second trip')
    // Reconnect, poll and a gap refetch all show the same switches again.
    vigil.streamStatus = 503
    vigil.dropStreams()
    await until(() => c.stats().stateFetches >= 3, 'polls')
    vigil.streamStatus = undefined
    await until(() => vigil.streams === 1, 'the stream again')
    vigil.lose(revoke('k'))
    vigil.publish(revoke('k2'))
    await until(() => c.stats().refetches === 1 && c.version() === 4, 'the refetch')
    expect(c.tripped).toEqual(['ks-1', 'ks-2'])
    vigil.publish({ type: 'killswitch_reset', killswitch_id: 'ks-2', reset_at: 't', reason: 'r' })
    vigil.publish({ type: 'killswitch_tripped', killswitch: ks('ks-3', 'symbol', 'AAPL') })
    await until(() => c.tripped.length === 3, 'the third trip')
    expect(c.tripped).toEqual(['ks-1', 'ks-2', 'ks-3'])
    expect(c.killSwitchFor({ source: SOURCE, symbol: 'AAPL', account_id: 'A9' })?.id).toBe('ks-3')
  })

  it('a throwing onKillSwitch hook does not stop enforcement', async () => {
    const vigil = await standIn()
    vigil.state = { version: 1, revoked_keys: [], killswitches: [ks('ks-1', 'global', '')] }
    const errors: string[] = []
    const c = client(vigil, {
      onKillSwitch: () => {
        throw new Error('venue gateway down')
      },
      logger: { warn: () => undefined, error: (_o, m) => void errors.push(m) },
    })
    c.start()
    await c.ready()
    expect(c.killSwitchFor({ source: SOURCE })?.id).toBe('ks-1')
    expect(errors).toEqual(['vigil control: onKillSwitch failed'])
  })

  it('reads deltas split at any byte, with CRLF endings and comments; a garbled delta makes it refetch, not misapply', async () => {
    const vigil = await standIn()
    const c = client(vigil, { pollMs: 60_000 })
    c.start()
    await c.ready()
    await until(() => vigil.streams === 1, 'the stream')
    const d = { version: 1, type: 'key_revoked', api_key_id: 'k-é', revoked_at: 't', reason: 'détecté' }
    vigil.lose({ type: 'key_revoked', api_key_id: 'k-é', revoked_at: 't', reason: 'détecté' })
    const text = Buffer.from(`: keep-alive\r\n\r\nid: 1\r\nevent: delta\r\ndata: ${JSON.stringify(d)}\r\n\r\n`)
    for (let i = 0; i < text.length; i++) {
      vigil.raw(text.subarray(i, i + 1))
      if (i % 16 === 0) await new Promise((r) => setTimeout(r, 1))
    }
    await until(() => c.version() === 1, 'the byte-split delta')
    expect(c.isRevoked('k-é')).toBe(true)
    expect(c.stats().stateFetches).toBe(1)

    vigil.lose(revoke('k-garbled'))
    vigil.raw('id: 2\nevent: delta\ndata: {"version":2,"type":"key_revoked"\n\n')
    await until(() => c.stats().refetches === 1 && c.isRevoked('k-garbled'), 'the refetch after a garbled delta')
    vigil.raw('id: 3\nevent: delta\ndata: {"version":3,"type":"key_exploded","api_key_id":"x"}\n\n')
    await new Promise((r) => setTimeout(r, 100))
    expect(c.isRevoked('x')).toBe(false)
  })

  it('signs every request; with a wrong secret it never applies anything and the secret stays out of stats and logs', async () => {
    const vigil = await standIn()
    vigil.state = { version: 1, revoked_keys: [{ api_key_id: 'k', revoked_at: 't', reason: 'r' }], killswitches: [] }
    const wrong = 'whsec_wrong_wrong_wrong'
    const logs: unknown[] = []
    const c = createControlClient({
      vigilUrl: vigil.url,
      source: SOURCE,
      secret: wrong,
      reconnectBaseMs: 20,
      reconnectMaxMs: 50,
      logger: { warn: (o, m) => logs.push([o, m]), error: (o, m) => logs.push([o, m]) },
    })
    clients.push(c)
    c.start()
    await until(() => vigil.requests.length >= 3, 'retries')
    expect(c.version()).toBe(0)
    expect(c.isRevoked('k')).toBe(false)
    expect(c.stats().lastError).toMatch(/401 bad_signature/)
    expect(JSON.stringify([logs, c.stats()])).not.toContain(wrong)
  })

  it('reports to its sink each trip it applies, with the hook\'s count, and each reset, from the stream or a refetched state', async () => {
    const vigil = await standIn()
    vigil.state = { version: 1, revoked_keys: [], killswitches: [ks('ks-start', 'global', '*')] }
    const events: GuardEvent[] = []
    const c = client(vigil, { pollMs: 60_000, sink: { emit: (e) => void events.push(e) }, guardInstance: 'unit-1', onKillSwitch: (k) => (k.id === 'ks-start' ? 4 : undefined) })
    c.start()
    await c.ready()
    await until(() => events.length === 1, 'the trip in force at start-up')
    expect(events[0]).toMatchObject({ action: 'killswitch.trip', outcome: 'success', attrs: { kill_switch_id: 'ks-start', kill_switch_scope: 'global:*', applied_via: 'state', control_version: '1', guard_instance: 'unit-1', cancel_report: 'reported', orders_cancelled: '4' } })
    await until(() => vigil.streams === 1, 'the stream')

    // Another trading API's source switch is not applied here, so not reported.
    vigil.publish({ type: 'killswitch_tripped', killswitch: ks('ks-other', 'source', 'desk-us-9') })
    vigil.publish({ type: 'killswitch_tripped', killswitch: ks('ks-acc', 'account', 'acc-1') })
    await until(() => events.length === 2, 'the account trip')
    expect(events[1]?.attrs).toMatchObject({ kill_switch_id: 'ks-acc', applied_via: 'stream', control_version: '3', cancel_report: 'not_reported' })
    expect(events[1]?.attrs).not.toHaveProperty('orders_cancelled')

    // A reset the stream never carried is learnt from the state fetched after the gap.
    vigil.lose({ type: 'killswitch_reset', killswitch_id: 'ks-start', reset_at: '2026-11-24T10:00:00Z', reason: 'r' })
    vigil.publish(revoke('k-gap'))
    await until(() => events.length === 3, 'the reset from the state')
    expect(events[2]).toMatchObject({ action: 'killswitch.reset', attrs: { kill_switch_id: 'ks-start', applied_via: 'state', control_version: '5' } })
    vigil.publish({ type: 'killswitch_reset', killswitch_id: 'ks-acc', reset_at: '2026-11-24T10:05:00Z', reason: 'r' })
    await until(() => events.length === 4, 'the reset from the stream')
    expect(events[3]?.attrs).toMatchObject({ kill_switch_id: 'ks-acc', kill_switch_scope: 'account:acc-1', applied_via: 'stream', control_version: '6', kill_switch_reset_at: '2026-11-24T10:05:00Z' })
    vigil.publish({ type: 'killswitch_reset', killswitch_id: 'ks-other', reset_at: '2026-11-24T10:06:00Z', reason: 'r' })
    await until(() => c.version() === 7, 'the last delta')
    expect(events.map((e) => `${e.action} ${e.attrs?.kill_switch_id}`)).toEqual(['killswitch.trip ks-start', 'killswitch.trip ks-acc', 'killswitch.reset ks-start', 'killswitch.reset ks-acc'])
  })
})
