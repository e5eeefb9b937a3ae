import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { spawn } from 'node:child_process'
import { chmodSync, existsSync, lstatSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { createServer } from 'node:net'
import { loadMasterKey, type VigilError } from '@vigil/core'
import { createSourceRegistry, type SourceRegistry } from '@vigil/ingest'
import { ADMIN_OPERATIONS, type AdminContext, type AdminInput, type AdminOperation } from './admin-commands.js'
import { startAdminSocket, type AdminSocket } from './admin-socket.js'
import { adminSocketPath } from './admin-shapes.js'
import { callAdminSocket } from './admin-socket-client.js'
import { captureLogger, openTestStore, type TestStore } from './test-support.js'

let t: TestStore
let sources: SourceRegistry
let ctx: AdminContext
let sock: string
const { logger, lines } = captureLogger()

beforeAll(async () => {
  t = await openTestStore()
  sources = createSourceRegistry({ store: t.store, masterKey: loadMasterKey(t.config), config: t.config, refreshMs: 3_600_000 })
  ctx = { store: t.store, sources }
  sock = adminSocketPath(t.config)
}, 60_000)
afterAll(async () => {
  sources?.close()
  await t?.cleanup()
})

const start = () => startAdminSocket({ config: t.config, logger, store: t.store, sources })

/** A raw request, for what the CLI never sends. */
function post(path: string, body: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: sock, method: 'POST', path, agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = ''
      res.on('data', (c: Buffer) => (text += c.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** Leaves a socket file nobody serves, as a `vigil up` killed with SIGKILL does. */
async function leaveStaleSocket(): Promise<void> {
  const child = spawn(process.execPath, ['-e', "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))", sock])
  await new Promise((resolve) => child.on('exit', resolve))
  expect(lstatSync(sock).isSocket()).toBe(true)
}

describe('admin socket', () => {
  let served: AdminSocket | undefined
  afterAll(async () => {
    await served?.close()
  })

  it('replaces a stale socket left by a crash, which the client treats as nobody there', async () => {
    await leaveStaleSocket()
    expect(await callAdminSocket(sock, 'sources/list', {})).toBeUndefined()
    served = await start()
    expect(served?.path).toBe(sock)
  })

  it('is a socket only its owner may open', () => {
    const st = statSync(sock)
    expect(st.isSocket()).toBe(true)
    expect(st.mode & 0o777).toBe(0o600)
    expect(statSync(t.dir).mode & 0o777).toBe(0o700)
  })

  it('runs changes in this process, records who made them, and the registry sees them at once', async () => {
    const added = await callAdminSocket(sock, 'sources/add', { id: 'desk-a', by: 'cli:alice' })
    expect(added).toEqual({ id: 'desk-a', secret: expect.stringMatching(/^vgs_/) })
    expect(await sources.secretsFor('desk-a')).toEqual([added!.secret])
    const rotated = await callAdminSocket(sock, 'sources/rotate', { id: 'desk-a', by: 'cli:bob' })
    expect(rotated).toEqual({ id: 'desk-a', secret: expect.stringMatching(/^vgs_/), previous_valid_until: expect.stringMatching(/Z$/) })
    expect(await sources.secretsFor('desk-a')).toEqual([rotated!.secret, added!.secret])

    const token = await callAdminSocket(sock, 'tokens/create', { role: 'viewer', name: 'n', ttl: '1h', by: 'cli:carol' })
    expect(token).toMatchObject({ id: expect.stringMatching(/^tok_/), token: expect.stringMatching(/^vgt_/), role: 'viewer', name: 'n' })
    const revoked = await callAdminSocket(sock, 'tokens/revoke', { id: token!.id, by: 'cli:dave' })
    expect(revoked).toEqual({ id: token!.id, status: 'revoked', revoked_at: expect.stringMatching(/Z$/) })

    const sourceBy = await t.store.query<{ changed_by: string }>(`SELECT changed_by FROM source_changes WHERE id = 'desk-a' ORDER BY version`)
    expect(sourceBy.map((r) => r.changed_by)).toEqual(['cli:alice', 'cli:bob'])
    const tokenBy = await t.store.query<{ changed_by: string }>(`SELECT changed_by FROM api_token_changes WHERE id = {id:String} ORDER BY version`, { id: token!.id })
    expect(tokenBy.map((r) => r.changed_by)).toEqual(['cli:carol', 'cli:dave'])
    // Logged with who asked; the answers, which carry secrets, are not.
    const logged = lines.join('')
    expect(logged).toContain('"by":"cli:alice"')
    expect(logged).not.toContain(added!.secret)
    expect(logged).not.toContain(token!.token)
  })

  it('answers exactly what the operation run here answers, key order included', async () => {
    for (const op of ['sources/list', 'tokens/list'] as const) {
      const direct = await ADMIN_OPERATIONS[op](ctx, {})
      expect(JSON.stringify(await callAdminSocket(sock, op, {}))).toBe(JSON.stringify(direct))
    }
    const shapeOf = (o: object | undefined) => JSON.stringify(o, (k, v: unknown) => (k === '' ? v : typeof v))
    const viaSocket = await callAdminSocket(sock, 'tokens/create', { role: 'viewer', name: 'n', ttl: '1h', by: 'cli:x' })
    const here = await ADMIN_OPERATIONS['tokens/create'](ctx, { role: 'viewer', name: 'n', ttl: '1h', by: 'cli:x' })
    expect(shapeOf(viaSocket)).toBe(shapeOf(here))
    const rotatedViaSocket = await callAdminSocket(sock, 'sources/rotate', { id: 'desk-a', by: 'cli:x' })
    const rotatedHere = await ADMIN_OPERATIONS['sources/rotate'](ctx, { id: 'desk-a', by: 'cli:x' })
    expect(shapeOf(rotatedViaSocket)).toBe(shapeOf(rotatedHere))
  })

  it('fails with the same registry error, message included, as the operation run here', async () => {
    const cases: Array<{ [K in AdminOperation]: [K, AdminInput<K>] }[AdminOperation]> = [
      ['sources/add', { id: 'desk-a', by: 'cli:x' }],
      ['sources/add', { id: 'no spaces!', by: 'cli:x' }],
      ['sources/rotate', { id: 'nope', by: 'cli:x' }],
      ['tokens/create', { role: 'root', name: 'n', ttl: '1h', by: 'cli:x' }],
      ['tokens/create', { role: 'viewer', name: '', ttl: '1h', by: 'cli:x' }],
      ['tokens/create', { role: 'viewer', name: 'n', ttl: 'forever', by: 'cli:x' }],
      ['tokens/revoke', { id: 'tok_missing', by: 'cli:x' }],
    ]
    const shape = (e: VigilError) => ({ errName: e.errName, code: e.code, statusCode: e.statusCode, message: e.message })
    for (const [op, input] of cases) {
      const run = ADMIN_OPERATIONS[op] as (c: AdminContext, i: typeof input) => Promise<unknown>
      const direct = (await run(ctx, input).catch((e: unknown) => e)) as VigilError
      const remote = (await callAdminSocket(sock, op, input).catch((e: unknown) => e)) as VigilError
      expect(direct.errName, `${op} ${JSON.stringify(input)}`).toBeDefined()
      expect(shape(remote)).toEqual(shape(direct))
    }
  })

  it('refuses malformed requests and unknown operations in the contract shape', async () => {
    expect(await post('/v1/admin/sources/add', '{"id":"x"}')).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } })
    expect(await post('/v1/admin/sources/add', '{')).toMatchObject({ status: 400, body: { error: { code: 'malformed_body' } } })
    expect(await post('/v1/admin/users/delete', '{}')).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } })
  })

  it('removes its socket on close; the client then finds nobody', async () => {
    await served!.close()
    expect(existsSync(sock)).toBe(false)
    expect(await callAdminSocket(sock, 'sources/list', {})).toBeUndefined()
  })
})

describe('admin socket refusals', () => {
  it('is not served in a data dir open to group or others, and says why', async () => {
    chmodSync(t.dir, 0o755)
    try {
      expect(await start()).toBeUndefined()
      expect(existsSync(sock)).toBe(false)
      expect(lines.join('')).toMatch(/admin socket not served.*open to group or others \(mode 0755\)/)
    } finally {
      chmodSync(t.dir, 0o700)
    }
  })

  it('leaves alone a socket another process serves, and a file that is not a socket', async () => {
    const other = createServer()
    await new Promise<void>((resolve) => other.listen(sock, resolve))
    try {
      expect(await start()).toBeUndefined()
      expect(lines.join('')).toContain('another process already serves')
    } finally {
      await new Promise((resolve) => other.close(resolve))
    }
    writeFileSync(sock, 'not a socket')
    try {
      expect(await start()).toBeUndefined()
      expect(lines.join('')).toContain('exists and is not a socket')
      expect(existsSync(sock)).toBe(true)
      // Nor does the client take it for a Vigil.
      expect(await callAdminSocket(sock, 'sources/list', {})).toBeUndefined()
    } finally {
      rmSync(sock, { force: true })
    }
  })
})
