import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { Readable } from 'node:stream'
import { Redis } from 'ioredis'
import { createSourceRegistry, type SourceRegistry } from '@vigil/ingest'
import { createAuditLog } from '@vigil/respond'
import { startAdminSocket, type AdminSocket } from './admin-socket.js'
import { main } from './cli.js'
import { createPeople, type OwnEvent, type People } from './people.js'
import { verifyPassword } from './passwords.js'
import { captureLogger, openTestStore, type TestStore } from './test-support.js'

// `vigil users …` as an operator runs it while `vigil up` holds the data dir: the real CLI
// entry point, over the real admin socket, into People on a real chDB store and Redis.
let t: TestStore
let redis: Redis
let sources: SourceRegistry
let socket: AdminSocket | undefined
let people: People
const ownEvents: OwnEvent[] = []
const keyPrefix = `cli${Date.now()}:`

beforeAll(async () => {
  t = await openTestStore()
  redis = new Redis(process.env.REDIS_URL as string, { maxRetriesPerRequest: 1 })
  const masterKey = Buffer.from(t.config.masterKey as string, 'hex')
  sources = createSourceRegistry({ store: t.store, masterKey, config: t.config })
  const { logger } = captureLogger()
  people = createPeople({
    store: t.store,
    redis,
    keyPrefix,
    masterKey,
    auth: t.config.auth,
    audit: createAuditLog({ store: t.store, redis, keyPrefix }),
    // Recorded here: the route tests check these reach the events table through ingest.
    ownEvents: async (events) => void ownEvents.push(...events),
    logger,
  })
  socket = await startAdminSocket({ config: t.config, logger, store: t.store, sources, redis, people: () => people })
  expect(socket).toBeDefined()
})
afterAll(async () => {
  await socket?.close()
  sources?.close()
  redis?.disconnect()
  await t?.cleanup()
})

async function vigil(args: string[], stdin?: string): Promise<{ code: number | undefined; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const code = await main(['node', 'vigil', ...args], {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: { VIGIL_DATA_DIR: t.dir, VIGIL_MASTER_KEY: t.config.masterKey as string, VIGIL_LOG_LEVEL: 'silent' },
    ...(stdin !== undefined ? { stdin: Readable.from([stdin]) } : {}),
  })
  return { code, stdout, stderr }
}

const json = (s: string) => JSON.parse(s) as Record<string, unknown>

describe('vigil users', () => {
  it('adds a person with a one-time generated password, and prints it once', async () => {
    const r = await vigil(['users', 'add', 'Ann.Operator@Example.com', '--role', 'responder', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const added = json(r.stdout)
    expect(added).toEqual({
      email: 'ann.operator@example.com',
      role: 'responder',
      status: 'active',
      mfa_enrolled: false,
      recovery_codes_left: 0,
      created_at: expect.any(String),
      updated_at: expect.any(String),
      initial_password: expect.stringMatching(/^[A-Za-z0-9_-]{24}$/),
    })
    const stored = await people.users.get('ann.operator@example.com')
    expect(await verifyPassword(stored?.password_hash, added.initial_password as string)).toBe(true)
    const human = await vigil(['users', 'add', 'bob@example.com', '--role', 'viewer'])
    expect(human.stdout).toMatch(/bob@example\.com added with role viewer\. Initial password:\n\n {2}\S{24}\n/)
    expect(human.stdout).toMatch(/will not be shown again/)
  })

  it('takes the password from stdin, and refuses a weak one', async () => {
    const ok = await vigil(['users', 'add', 'carol@example.com', '--role', 'analyst', '--password-stdin', '--json'], 'plum orchard 9 lantern\n')
    expect(ok.code, ok.stderr).toBe(0)
    expect(json(ok.stdout).initial_password).toBeNull()
    const stored = await people.users.get('carol@example.com')
    expect(await verifyPassword(stored?.password_hash, 'plum orchard 9 lantern')).toBe(true)

    const weak = await vigil(['users', 'add', 'dave@example.com', '--role', 'analyst', '--password-stdin', '--json'], 'Password123!\n')
    expect(weak.code).toBe(2)
    expect(json(weak.stderr)).toEqual({ error: { code: 'weak_password', message: expect.stringContaining('breached') } })
    expect(weak.stderr).not.toContain('Password123!')
    const empty = await vigil(['users', 'add', 'dave@example.com', '--role', 'analyst', '--password-stdin'], '')
    expect(empty.stderr).toMatch(/^vigil: usage: --password-stdin: nothing on stdin/)
  })

  it('refuses a bad email, an unknown role and a duplicate with stable codes', async () => {
    const bad = await vigil(['users', 'add', 'not-an-email', '--role', 'viewer', '--json'])
    expect([bad.code, json(bad.stderr)]).toEqual([2, { error: { code: 'bad_email', message: expect.any(String) } }])
    const role = await vigil(['users', 'add', 'erin@example.com', '--role', 'superuser', '--json'])
    expect([role.code, (json(role.stderr).error as { code: string }).code]).toEqual([2, 'bad_role'])
    const dup = await vigil(['users', 'add', 'ANN.operator@example.com', '--role', 'viewer', '--json'])
    expect([dup.code, (json(dup.stderr).error as { code: string }).code]).toEqual([1, 'user_exists'])
    const missing = await vigil(['users', 'add', 'erin@example.com'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/^vigil: usage: required option '--role <role>'/)
  })

  it('changes a role, disables, lists, and signs out everywhere', async () => {
    const set = await vigil(['users', 'set-role', 'bob@example.com', 'analyst', '--json'])
    expect(json(set.stdout)).toMatchObject({ email: 'bob@example.com', role: 'analyst' })
    const badRole = await vigil(['users', 'set-role', 'bob@example.com', 'god', '--json'])
    expect((json(badRole.stderr).error as { code: string }).code).toBe('bad_role')
    const unknown = await vigil(['users', 'set-role', 'nobody@example.com', 'viewer', '--json'])
    expect([unknown.code, (json(unknown.stderr).error as { code: string }).code]).toEqual([1, 'user_not_found'])

    const s = await people.sessions.start('bob@example.com', 'analyst', 'full', Date.now())
    const revoked = await vigil(['users', 'revoke-sessions', 'bob@example.com', '--json'])
    expect(json(revoked.stdout)).toEqual({ email: 'bob@example.com', sessions_ended: 1 })
    expect(await people.verifyAccess(s.access_token)).toBeNull()

    const s2 = await people.sessions.start('bob@example.com', 'analyst', 'full', Date.now())
    const disabled = await vigil(['users', 'disable', 'bob@example.com'])
    expect(disabled.stdout).toBe('bob@example.com disabled; their sessions are ended.\n')
    expect(await people.verifyAccess(s2.access_token)).toBeNull()

    const reset = await vigil(['users', 'reset-mfa', 'carol@example.com', '--json'])
    expect(json(reset.stdout)).toMatchObject({ email: 'carol@example.com', mfa_enrolled: false })

    const listed = await vigil(['users', 'list', '--json'])
    const items = json(listed.stdout).items as Array<Record<string, unknown>>
    expect(items.map((u) => [u.email, u.role, u.status])).toEqual([
      ['ann.operator@example.com', 'responder', 'active'],
      ['bob@example.com', 'analyst', 'disabled'],
      ['carol@example.com', 'analyst', 'active'],
    ])
    expect(listed.stdout).not.toMatch(/argon2|password|totp_secret|recovery_hashes/)
    const table = await vigil(['users', 'list'])
    expect(table.stdout.split('\n')[0]).toMatch(/^EMAIL\s+ROLE\s+STATUS\s+MFA\s+CREATED$/)
  })

  it('audits every change and emits it as an own event', async () => {
    const audit = createAuditLog({ store: t.store, redis, keyPrefix })
    const actions = (await audit.list({ limit: 100 })).map((r) => `${r.action} ${r.subject}`)
    expect(actions).toEqual(
      expect.arrayContaining([
        'user.add ann.operator@example.com',
        'user.set_role bob@example.com',
        'user.sessions_revoke bob@example.com',
        'user.disable bob@example.com',
        'mfa.reset carol@example.com',
      ]),
    )
    expect((await audit.list({ action: 'user.add', limit: 10 }))[0]?.actor).toMatch(/^cli:/)
    expect(ownEvents.map((e) => `${e.action} ${String(e.user_id)} ${(e.attrs as Record<string, string>).change ?? ''}`)).toEqual(
      expect.arrayContaining([
        'admin.config_change ann.operator@example.com user.add',
        'admin.config_change bob@example.com user.set_role',
        'session.revoke bob@example.com ',
        'admin.config_change bob@example.com user.disable',
      ]),
    )
  })
})
