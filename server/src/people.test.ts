import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import { backtest, BUILTIN_DETECTORS, loadRules } from '@vigil/detect'
import { ROLES, can, type Role } from './permissions.js'
import { Redis } from 'ioredis'
import { authRoutes, REFRESH_COOKIE } from './auth-routes.js'
import { createPeople } from './people.js'
import { totpCode } from './totp.js'
import { openTestStore, startTestApp, type TestApp, type TestStore } from './test-support.js'

// Sign-in, the enforced second factor, sessions and throttling, through the real routes on a
// real chDB store and Redis. Time is the injected `clock`: nothing here sleeps.
let t: TestStore
let h: TestApp
const START = Date.UTC(2026, 10, 26, 9, 0, 0)
let clock = START
/** The address that failed across many accounts (login throttling), for the detector check. */
let stuffingIp = ''

beforeAll(async () => {
  t = await openTestStore()
  h = await startTestApp(t, { now: () => clock })
})
afterAll(async () => {
  await h?.close()
  await t?.cleanup()
})

const PASSWORD = 'violet tractor 47 umbrella'
/** Every secret handed out in this file, to check none of them reached a log line. */
const secrets = new Set<string>([PASSWORD])

let ipSeq = 0
/** A fresh client address per test, so per-IP throttling in one test does not bleed into another. */
const freshIp = () => `198.51.100.${++ipSeq}`

type Res = LightMyRequestResponse

function post(url: string, body: unknown, opts: { ip?: string; bearer?: string; cookie?: string } = {}): Promise<Res> {
  const req: InjectOptions = {
    method: 'POST',
    url,
    headers: {
      'content-type': 'application/json',
      ...(opts.bearer ? { authorization: `Bearer ${opts.bearer}` } : {}),
      ...(opts.cookie ? { cookie: `${REFRESH_COOKIE}=${opts.cookie}` } : {}),
    },
    payload: JSON.stringify(body ?? {}),
    ...(opts.ip ? { remoteAddress: opts.ip } : {}),
  }
  return h.app.inject(req)
}

function get(url: string, bearer: string): Promise<Res> {
  return h.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${bearer}` } })
}

function refreshCookie(res: Res): string {
  const c = res.cookies.find((x) => x.name === REFRESH_COOKIE)
  expect(c, 'a refresh cookie').toBeDefined()
  secrets.add(c!.value)
  return c!.value
}

function code(res: Res): string | undefined {
  try {
    return (res.json() as { error?: { code: string } }).error?.code
  } catch {
    return undefined // HEAD, 204: no body
  }
}

/** The next time step's code: each sign-in needs a step not used before (replay protection). */
function nextCode(secret: string): string {
  clock += 30_000
  return totpCode(secret, clock)
}

interface Person {
  email: string
  secret: string
  recovery: string[]
}

async function addPerson(email: string, role: Role): Promise<void> {
  await h.people.add(email, { role, password: PASSWORD }, 'test')
}

/** Adds and enrols a person; answers their TOTP secret and recovery codes. */
async function enrolled(email: string, role: Role, ip = freshIp()): Promise<Person & { access: string; cookie: string }> {
  await addPerson(email, role)
  const login = await post('/v1/auth/login', { email, password: PASSWORD }, { ip })
  expect(login.statusCode, login.body).toBe(200)
  const enrolAccess = (login.json() as { access_token: string }).access_token
  const start = await post('/v1/auth/mfa/enrol', {}, { ip, bearer: enrolAccess })
  expect(start.statusCode, start.body).toBe(200)
  const { secret } = start.json() as { secret: string }
  secrets.add(secret)
  const confirm = await post('/v1/auth/mfa/enrol/confirm', { code: nextCode(secret) }, { ip, bearer: enrolAccess })
  expect(confirm.statusCode, confirm.body).toBe(200)
  const body = confirm.json() as { recovery_codes: string[]; access_token: string }
  body.recovery_codes.forEach((c) => secrets.add(c))
  secrets.add(body.access_token)
  return { email, secret, recovery: body.recovery_codes, access: body.access_token, cookie: refreshCookie(confirm) }
}

/** Password then TOTP; answers the full session. */
async function signIn(p: Person, ip = freshIp()): Promise<{ access: string; cookie: string }> {
  const login = await post('/v1/auth/login', { email: p.email, password: PASSWORD }, { ip })
  expect(login.statusCode, login.body).toBe(200)
  const { mfa_token } = login.json() as { mfa_token: string }
  const mfa = await post('/v1/auth/mfa', { mfa_token, code: nextCode(p.secret) }, { ip })
  expect(mfa.statusCode, mfa.body).toBe(200)
  const access = (mfa.json() as { access_token: string }).access_token
  secrets.add(access)
  return { access, cookie: refreshCookie(mfa) }
}

async function mfaToken(email: string, ip: string): Promise<string> {
  const login = await post('/v1/auth/login', { email, password: PASSWORD }, { ip })
  expect(login.statusCode, login.body).toBe(200)
  expect(login.json()).toMatchObject({ next: 'mfa' })
  return (login.json() as { mfa_token: string }).mfa_token
}

async function auditActions(subject: string): Promise<string[]> {
  await h.respond.audit.idle()
  return (await h.respond.audit.list({ subject, limit: 1000 })).map((r) => r.action)
}

describe('enrolment is all a person without a second factor can do', () => {
  it('gives a password-only session that can enrol and nothing else, then a full one', async () => {
    const ip = freshIp()
    await addPerson('enrol.one@example.com', 'analyst')
    const login = await post('/v1/auth/login', { email: 'Enrol.One@Example.com', password: PASSWORD }, { ip })
    expect(login.statusCode).toBe(200)
    expect(login.json()).toMatchObject({ next: 'enrol', token_type: 'Bearer', expires_in: 600 })
    const cookie = login.cookies.find((c) => c.name === REFRESH_COOKIE)
    expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/v1/auth' })
    const access = (login.json() as { access_token: string }).access_token

    for (const url of ['/v1/events', '/v1/alerts', '/v1/killswitches']) {
      const res = await get(url, access)
      expect([res.statusCode, code(res)], url).toEqual([403, 'mfa_enrolment_required'])
    }
    const me = await get('/v1/auth/me', access)
    expect(me.json()).toMatchObject({ kind: 'person', email: 'enrol.one@example.com', role: 'analyst', stage: 'enrol', mfa_enrolled: false, permissions: [] })

    // Confirming before starting says what to do.
    const early = await post('/v1/auth/mfa/enrol/confirm', { code: '123456' }, { ip, bearer: access })
    expect([early.statusCode, code(early)]).toEqual([409, 'mfa_enrolment_not_started'])

    const start = await post('/v1/auth/mfa/enrol', {}, { ip, bearer: access })
    const { otpauth_uri, secret } = start.json() as { otpauth_uri: string; secret: string }
    secrets.add(secret)
    expect(otpauth_uri).toMatch(/^otpauth:\/\/totp\/Vigil:enrol\.one%40example\.com\?/)
    expect(otpauth_uri).toContain(`secret=${secret}`)
    expect(otpauth_uri).toMatch(/period=30/)

    const wrong = await post('/v1/auth/mfa/enrol/confirm', { code: totpCode(secret, clock + 10 * 60_000) }, { ip, bearer: access })
    expect([wrong.statusCode, code(wrong)]).toEqual([401, 'mfa_failed'])

    const confirm = await post('/v1/auth/mfa/enrol/confirm', { code: nextCode(secret) }, { ip, bearer: access })
    expect(confirm.statusCode, confirm.body).toBe(200)
    const body = confirm.json() as { recovery_codes: string[]; access_token: string }
    expect(body.recovery_codes).toHaveLength(10)
    expect(new Set(body.recovery_codes).size).toBe(10)
    body.recovery_codes.forEach((c) => secrets.add(c))
    expect((await get('/v1/events', body.access_token)).statusCode).toBe(200)
    // The old password-only token stays what it was.
    expect(code(await get('/v1/events', access))).toBe('mfa_enrolment_required')
    expect((await get('/v1/auth/me', body.access_token)).json()).toMatchObject({ stage: 'full', mfa_enrolled: true, recovery_codes_left: 10 })

    const again = await post('/v1/auth/mfa/enrol', {}, { ip, bearer: body.access_token })
    expect([again.statusCode, code(again)]).toEqual([409, 'mfa_already_enrolled'])
    // Stored encrypted and hashed: the clear secret and codes are nowhere in the table.
    const rows = await t.store.query<{ totp_secret_enc: string; recovery_hashes: string[] }>(
      "SELECT totp_secret_enc, recovery_hashes FROM user_changes WHERE email = 'enrol.one@example.com' ORDER BY version DESC LIMIT 1",
    )
    expect(rows[0]!.totp_secret_enc).toMatch(/^v1\./)
    expect(JSON.stringify(rows)).not.toContain(secret)
    for (const c of body.recovery_codes) expect(JSON.stringify(rows)).not.toContain(c)

    expect(await auditActions('enrol.one@example.com')).toEqual(expect.arrayContaining(['user.add', 'auth.login.password', 'mfa.enrol_start', 'auth.mfa.failure', 'mfa.enrol']))
  })

  it('ends a password-only session at refresh once the person enrolled elsewhere', async () => {
    await addPerson('enrol.two@example.com', 'viewer')
    const first = await post('/v1/auth/login', { email: 'enrol.two@example.com', password: PASSWORD }, { ip: freshIp() })
    const firstCookie = refreshCookie(first)
    const second = await post('/v1/auth/login', { email: 'enrol.two@example.com', password: PASSWORD }, { ip: freshIp() })
    const access2 = (second.json() as { access_token: string }).access_token
    const { secret } = (await post('/v1/auth/mfa/enrol', {}, { bearer: access2 })).json() as { secret: string }
    secrets.add(secret)
    expect((await post('/v1/auth/mfa/enrol/confirm', { code: nextCode(secret) }, { bearer: access2 })).statusCode).toBe(200)
    const refreshed = await post('/v1/auth/refresh', {}, { cookie: firstCookie })
    expect([refreshed.statusCode, code(refreshed)]).toEqual([401, 'session_invalid'])
  })
})

describe('TOTP', () => {
  let p: Person
  beforeAll(async () => {
    p = await enrolled('totp.window@example.com', 'viewer')
  })

  it('accepts one step either side of now and refuses a used code or one further off', async () => {
    const ip = freshIp()
    clock += 10 * 60_000
    const previous = totpCode(p.secret, clock - 30_000)
    const ok1 = await post('/v1/auth/mfa', { mfa_token: await mfaToken(p.email, ip), code: previous }, { ip })
    expect(ok1.statusCode, ok1.body).toBe(200)

    const replay = await post('/v1/auth/mfa', { mfa_token: await mfaToken(p.email, ip), code: previous }, { ip })
    expect([replay.statusCode, code(replay)]).toEqual([401, 'mfa_failed'])

    const ok2 = await post('/v1/auth/mfa', { mfa_token: await mfaToken(p.email, ip), code: totpCode(p.secret, clock) }, { ip })
    expect(ok2.statusCode).toBe(200)
    const ok3 = await post('/v1/auth/mfa', { mfa_token: await mfaToken(p.email, ip), code: totpCode(p.secret, clock + 30_000) }, { ip })
    expect(ok3.statusCode).toBe(200)
    // Same code again, now from another address: still used.
    const replayElsewhere = await post('/v1/auth/mfa', { mfa_token: await mfaToken(p.email, freshIp()), code: totpCode(p.secret, clock + 30_000) })
    expect(code(replayElsewhere)).toBe('mfa_failed')

    clock += 5 * 60_000
    for (const off of [-60_000, 60_000]) {
      const far = await post('/v1/auth/mfa', { mfa_token: await mfaToken(p.email, ip), code: totpCode(p.secret, clock + off) }, { ip })
      expect([far.statusCode, code(far)], `offset ${off}`).toEqual([401, 'mfa_failed'])
    }
  })

  it('spends each recovery code once, however it is typed', async () => {
    const ip = freshIp()
    const [first, second] = p.recovery as [string, string]
    const used = await post('/v1/auth/mfa', { mfa_token: await mfaToken(p.email, ip), recovery_code: first }, { ip })
    expect(used.statusCode, used.body).toBe(200)
    const again = await post('/v1/auth/mfa', { mfa_token: await mfaToken(p.email, ip), recovery_code: first }, { ip })
    expect([again.statusCode, code(again)]).toEqual([401, 'mfa_failed'])
    const typed = await post('/v1/auth/mfa', { mfa_token: await mfaToken(p.email, ip), recovery_code: ` ${second.toUpperCase().replace('-', '')} ` }, { ip })
    expect(typed.statusCode).toBe(200)
    const me = await get('/v1/auth/me', (typed.json() as { access_token: string }).access_token)
    expect(me.json()).toMatchObject({ recovery_codes_left: 8 })
    expect(await auditActions(p.email)).toEqual(expect.arrayContaining(['mfa.recovery_code_used']))
  })

  it('refuses step 2 without a live ticket, and with both or neither factor', async () => {
    const bogus = await post('/v1/auth/mfa', { mfa_token: `vgm_${'A'.repeat(43)}`, code: '123456' })
    expect([bogus.statusCode, code(bogus)]).toEqual([401, 'session_invalid'])
    const ip = freshIp()
    const token = await mfaToken(p.email, ip)
    const both = await post('/v1/auth/mfa', { mfa_token: token, code: '123456', recovery_code: 'abcde-fghij' }, { ip })
    expect([both.statusCode, code(both)]).toEqual([400, 'bad_request'])
    const neither = await post('/v1/auth/mfa', { mfa_token: token }, { ip })
    expect([neither.statusCode, code(neither)]).toEqual([400, 'bad_request'])
    clock += 6 * 60_000
    const late = await post('/v1/auth/mfa', { mfa_token: token, code: totpCode(p.secret, clock) }, { ip })
    expect([late.statusCode, code(late)]).toEqual([401, 'session_invalid'])
  })
})

describe('sessions', () => {
  let p: Person
  beforeAll(async () => {
    p = await enrolled('sessions@example.com', 'analyst')
  })

  it('rotates the refresh token, and a reused one ends the whole family', async () => {
    const s = await signIn(p)
    const r1 = await post('/v1/auth/refresh', {}, { cookie: s.cookie })
    expect(r1.statusCode, r1.body).toBe(200)
    const c2 = refreshCookie(r1)
    expect(c2).not.toBe(s.cookie)
    const r2 = await post('/v1/auth/refresh', {}, { cookie: c2 })
    const c3 = refreshCookie(r2)
    const access3 = (r2.json() as { access_token: string }).access_token
    expect((await get('/v1/events', access3)).statusCode).toBe(200)

    // The first token again: someone holds a copy. Everything of this family ends.
    const reuse = await post('/v1/auth/refresh', {}, { cookie: s.cookie })
    expect([reuse.statusCode, code(reuse)]).toEqual([401, 'session_invalid'])
    expect(reuse.headers['set-cookie']).toMatch(new RegExp(`${REFRESH_COOKIE}=;`))
    expect(code(await post('/v1/auth/refresh', {}, { cookie: c3 }))).toBe('session_invalid')
    expect((await get('/v1/events', access3)).statusCode).toBe(401)
    expect((await get('/v1/events', s.access)).statusCode).toBe(401)
    expect(await auditActions(p.email)).toContain('session.reuse_detected')
  })

  it('ends a session left idle, and any session at its absolute timeout', async () => {
    const idle = await signIn(p)
    clock += t.config.auth.idleTimeoutSec * 1000 + 1000
    expect(code(await post('/v1/auth/refresh', {}, { cookie: idle.cookie }))).toBe('session_invalid')

    const busy = await signIn(p)
    let cookie = busy.cookie
    const started = clock
    let refreshes = 0
    while (clock - started + (t.config.auth.idleTimeoutSec - 60) * 1000 <= t.config.auth.absoluteTimeoutSec * 1000) {
      clock += (t.config.auth.idleTimeoutSec - 60) * 1000
      const r = await post('/v1/auth/refresh', {}, { cookie })
      expect(r.statusCode, `refresh ${refreshes} at +${(clock - started) / 1000}s`).toBe(200)
      cookie = refreshCookie(r)
      refreshes += 1
    }
    expect(refreshes).toBeGreaterThan(10)
    clock = started + t.config.auth.absoluteTimeoutSec * 1000 + 1000
    expect(code(await post('/v1/auth/refresh', {}, { cookie }))).toBe('session_invalid')
  })

  it('lets an access token live at most 10 minutes', async () => {
    const s = await signIn(p)
    expect((await get('/v1/events', s.access)).statusCode).toBe(200)
    clock += 601_000
    expect((await get('/v1/events', s.access)).statusCode).toBe(401)
    const r = await post('/v1/auth/refresh', {}, { cookie: s.cookie })
    expect((await get('/v1/events', (r.json() as { access_token: string }).access_token)).statusCode).toBe(200)
  })

  it('logs out: the refresh cookie is cleared and its family ended', async () => {
    const s = await signIn(p)
    const out = await post('/v1/auth/logout', {}, { cookie: s.cookie, bearer: s.access })
    expect(out.statusCode).toBe(204)
    expect(out.headers['set-cookie']).toMatch(new RegExp(`${REFRESH_COOKIE}=;`))
    expect(code(await post('/v1/auth/refresh', {}, { cookie: s.cookie }))).toBe('session_invalid')
    expect((await get('/v1/events', s.access)).statusCode).toBe(401)
    expect(await auditActions(p.email)).toContain('auth.logout')
  })

  it('applies a role change at the next refresh, and a disable at once', async () => {
    const q = await enrolled('changes@example.com', 'responder')
    const s = await signIn(q)
    const demoted = await post(`/v1/users/${encodeURIComponent(q.email)}/role`, { role: 'viewer' }, { bearer: h.tokens.admin })
    expect(demoted.json()).toMatchObject({ email: q.email, role: 'viewer' })
    expect((await get('/v1/auth/me', s.access)).json()).toMatchObject({ role: 'responder' })
    const r = await post('/v1/auth/refresh', {}, { cookie: s.cookie })
    const access = (r.json() as { access_token: string }).access_token
    expect((await get('/v1/auth/me', access)).json()).toMatchObject({ role: 'viewer' })
    const trip = await post('/v1/killswitches', { scope: { type: 'global' }, reason: 'test' }, { bearer: access })
    expect(trip.statusCode).toBe(403)

    const disabled = await post(`/v1/users/${encodeURIComponent(q.email)}/disable`, {}, { bearer: h.tokens.admin })
    expect(disabled.json()).toMatchObject({ status: 'disabled' })
    expect((await get('/v1/auth/me', access)).statusCode).toBe(401)
    const again = await post('/v1/auth/login', { email: q.email, password: PASSWORD }, { ip: freshIp() })
    expect([again.statusCode, code(again)]).toEqual([401, 'bad_credentials'])
    expect(await auditActions(q.email)).toEqual(expect.arrayContaining(['user.set_role', 'user.disable', 'auth.login.failure']))
  })

  it('signs a person out everywhere on an admin request, and only on an admin request', async () => {
    const a = await signIn(p)
    const b = await signIn(p)
    const refused = await post(`/v1/users/${encodeURIComponent(p.email)}/sessions/revoke`, {}, { bearer: h.tokens.responder })
    expect(refused.statusCode).toBe(403)
    const done = await post(`/v1/users/${encodeURIComponent(p.email)}/sessions/revoke`, {}, { bearer: h.tokens.admin })
    expect(done.statusCode).toBe(200)
    expect((done.json() as { sessions_ended: number }).sessions_ended).toBeGreaterThanOrEqual(2)
    for (const s of [a, b]) {
      expect((await get('/v1/events', s.access)).statusCode).toBe(401)
      expect(code(await post('/v1/auth/refresh', {}, { cookie: s.cookie }))).toBe('session_invalid')
    }
    expect(await auditActions(p.email)).toContain('user.sessions_revoke')
  })
})

describe('changing a password and resetting a second factor', () => {
  it('lets a person change their own password, checking the current one and the new one, and ends their other sessions', async () => {
    const p = await enrolled('changer@example.com', 'viewer')
    const keep = await signIn(p)
    const other = await signIn(p)
    const change = (body: unknown) => post('/v1/auth/password', body, { bearer: keep.access, ip: freshIp() })
    expect(code(await change({ current_password: 'not my password 1', new_password: 'glass meadow 12 harbour' }))).toBe('bad_credentials')
    expect(code(await change({ current_password: PASSWORD, new_password: 'changer2026!' }))).toBe('weak_password')
    const ok = await change({ current_password: PASSWORD, new_password: 'glass meadow 12 harbour' })
    expect(ok.statusCode, ok.body).toBe(200)
    expect((ok.json() as { sessions_ended: number }).sessions_ended).toBeGreaterThanOrEqual(2)
    secrets.add('glass meadow 12 harbour')
    expect((await get('/v1/events', keep.access)).statusCode).toBe(200)
    expect((await get('/v1/events', other.access)).statusCode).toBe(401)
    expect(code(await post('/v1/auth/login', { email: p.email, password: PASSWORD }, { ip: freshIp() }))).toBe('bad_credentials')
    const fresh = await post('/v1/auth/login', { email: p.email, password: 'glass meadow 12 harbour' }, { ip: freshIp() })
    expect(fresh.json()).toMatchObject({ next: 'mfa' })
    expect(code(await post('/v1/auth/password', { current_password: 'x', new_password: 'y' }, { bearer: h.tokens.admin }))).toBe('not_a_person')
    expect(await auditActions(p.email)).toEqual(expect.arrayContaining(['user.password_change', 'auth.password_change.failure']))
  })

  it('lets an admin reset a lost second factor: sessions end and the person enrols again', async () => {
    const p = await enrolled('lost.phone@example.com', 'analyst')
    const s = await signIn(p)
    expect((await post(`/v1/users/${encodeURIComponent(p.email)}/mfa/reset`, {}, { bearer: h.tokens.responder })).statusCode).toBe(403)
    const reset = await post(`/v1/users/${encodeURIComponent(p.email)}/mfa/reset`, {}, { bearer: h.tokens.admin })
    expect(reset.json()).toMatchObject({ email: p.email, mfa_enrolled: false, recovery_codes_left: 0 })
    expect((await get('/v1/events', s.access)).statusCode).toBe(401)
    const login = await post('/v1/auth/login', { email: p.email, password: PASSWORD }, { ip: freshIp() })
    expect(login.json()).toMatchObject({ next: 'enrol' })
    expect(await auditActions(p.email)).toContain('mfa.reset')
  })
})

describe('login throttling', () => {
  it('locks an account after repeated failures, even against the right password, and releases it later', async () => {
    const p = await enrolled('locked@example.com', 'viewer')
    const max = t.config.auth.maxFailuresPerAccount
    for (let i = 0; i < max; i++) {
      const bad = await post('/v1/auth/login', { email: p.email, password: `wrong password ${i}!` }, { ip: freshIp() })
      expect([bad.statusCode, code(bad)]).toEqual([401, 'bad_credentials'])
    }
    const locked = await post('/v1/auth/login', { email: p.email, password: PASSWORD }, { ip: freshIp() })
    expect([locked.statusCode, code(locked)]).toEqual([429, 'locked_out'])
    expect(Number(locked.headers['retry-after'])).toBe(t.config.auth.lockoutSec)

    clock += (t.config.auth.lockoutSec - 10) * 1000
    expect(code(await post('/v1/auth/login', { email: p.email, password: PASSWORD }, { ip: freshIp() }))).toBe('locked_out')
    clock += 11_000
    const released = await post('/v1/auth/login', { email: p.email, password: PASSWORD }, { ip: freshIp() })
    expect(released.statusCode, released.body).toBe(200)
    expect(released.json()).toMatchObject({ next: 'mfa' })
    expect(await auditActions(p.email)).toEqual(expect.arrayContaining(['auth.login.failure', 'auth.lockout', 'auth.login.refused']))
  })

  it('locks an address that fails across many accounts, not the accounts elsewhere', async () => {
    const p = await enrolled('ip.victim@example.com', 'viewer')
    // Outside the example allowlist of auth.credential_stuffing (198.51.100.16/28).
    const ip = '203.0.113.150'
    stuffingIp = ip
    for (let i = 0; i < t.config.auth.maxFailuresPerIp; i++) {
      const bad = await post('/v1/auth/login', { email: `nobody${i}@example.com`, password: 'not the password at all' }, { ip })
      expect(code(bad)).toBe('bad_credentials')
    }
    const blocked = await post('/v1/auth/login', { email: p.email, password: PASSWORD }, { ip })
    expect([blocked.statusCode, code(blocked)]).toEqual([429, 'locked_out'])
    const elsewhere = await post('/v1/auth/login', { email: p.email, password: PASSWORD }, { ip: freshIp() })
    expect(elsewhere.statusCode).toBe(200)
  })

  it('counts wrong second factors too', async () => {
    const p = await enrolled('mfa.guess@example.com', 'viewer')
    const ip = freshIp()
    for (let i = 0; i < t.config.auth.maxFailuresPerAccount; i++) {
      const wrong = await post('/v1/auth/mfa', { mfa_token: await mfaToken(p.email, ip), code: '000000' }, { ip })
      expect(code(wrong)).toBe('mfa_failed')
    }
    expect(code(await post('/v1/auth/login', { email: p.email, password: PASSWORD }, { ip: freshIp() }))).toBe('locked_out')
    clock += t.config.auth.lockoutSec * 1000 + 1000
  })
})

describe("Vigil's own event stream", () => {
  it('carries sign-ins, failures and lockouts as CONTRACT §1 events from source vigil', async () => {
    await h.ingest.flush()
    const rows = await t.store.query<{ action: string; outcome: string; reason: string; user_id: string; client_ip: string; n: string }>(
      `SELECT action, outcome, reason, user_id, toString(client_ip) AS client_ip, count() AS n FROM events
       WHERE source = 'vigil' GROUP BY action, outcome, reason, user_id, client_ip`,
    )
    const has = (m: Partial<(typeof rows)[number]>) => rows.some((r) => Object.entries(m).every(([k, v]) => r[k as keyof typeof r] === v))
    expect(has({ action: 'auth.login', outcome: 'failure', reason: 'bad_password', user_id: 'locked@example.com' })).toBe(true)
    expect(has({ action: 'auth.lockout', outcome: 'denied', reason: 'locked_out', user_id: 'locked@example.com' })).toBe(true)
    expect(has({ action: 'auth.login', outcome: 'denied', reason: 'locked_out', user_id: 'locked@example.com' })).toBe(true)
    expect(has({ action: 'auth.mfa', outcome: 'success', user_id: 'sessions@example.com' })).toBe(true)
    expect(has({ action: 'auth.mfa', outcome: 'failure', reason: 'mfa_failed', user_id: 'mfa.guess@example.com' })).toBe(true)
    expect(has({ action: 'session.revoke', outcome: 'success', user_id: 'sessions@example.com' })).toBe(true)
    expect(has({ action: 'admin.config_change', outcome: 'success', user_id: 'changes@example.com' })).toBe(true)
    expect(rows.find((r) => r.user_id === 'locked@example.com' && r.action === 'auth.login')?.client_ip).toMatch(/198\.51\.100\.\d+/)
  })

  it("is watched by Vigil's own detectors: one address failing across many people is credential stuffing", async () => {
    await h.ingest.flush()
    const result = await backtest(t.store, loadRules(), BUILTIN_DETECTORS, { fromMs: START - 3_600_000, toMs: clock + 3_600_000, rule: 'auth.credential_stuffing' })
    expect(result.alerts.map((a) => `${a.entity.type}:${a.entity.id}`)).toContain(`ip:${stuffingIp}`)
  })

  it('keeps the audit chain intact through all of it', async () => {
    await h.respond.audit.idle()
    const v = await h.respond.audit.verify()
    expect(v.problems).toEqual([])
    expect(v.ok).toBe(true)
  })
})

describe('people routes', () => {
  it('adds, lists and refuses bad input with stable codes', async () => {
    const add = (body: unknown, bearer = h.tokens.admin) => post('/v1/users', body, { bearer })
    const created = await add({ email: 'new.person@example.com', role: 'regulator' })
    expect(created.statusCode).toBe(201)
    const body = created.json() as { initial_password: string }
    secrets.add(body.initial_password)
    expect(body).toMatchObject({ email: 'new.person@example.com', role: 'regulator', status: 'active', mfa_enrolled: false, initial_password: expect.any(String) })
    expect(code(await add({ email: 'new.person@example.com', role: 'viewer' }))).toBe('user_exists')
    expect(code(await add({ email: 'not-an-email', role: 'viewer' }))).toBe('bad_email')
    expect(code(await add({ email: 'x@example.com', role: 'root' }))).toBe('bad_role')
    expect(code(await add({ email: 'y@example.com', role: 'viewer', password: 'password1234' }))).toBe('weak_password')
    expect((await add({ email: 'z@example.com', role: 'viewer' }, h.tokens.responder)).statusCode).toBe(403)
    const list = await get('/v1/users', h.tokens.admin)
    expect(list.json()).toMatchObject({ items: expect.arrayContaining([expect.objectContaining({ email: 'new.person@example.com' })]), next: null })
    expect(list.body).not.toMatch(/argon2|password_hash|totp_secret|totp_pending|recovery_hashes/)
    expect(code(await post('/v1/users/nobody%40example.com/disable', {}, { bearer: h.tokens.admin }))).toBe('user_not_found')
  })

  it('refuses bad sign-in input without a 500', async () => {
    const ip = freshIp()
    expect(code(await post('/v1/auth/login', { email: 'nope', password: 'whatever it is' }, { ip }))).toBe('bad_email')
    expect(code(await post('/v1/auth/login', { email: 'a@example.com' }, { ip }))).toBe('bad_request')
    expect(code(await post('/v1/auth/refresh', {}, { cookie: 'garbage' }))).toBe('session_invalid')
    const cli = await post('/v1/auth/mfa/enrol', {}, { bearer: h.tokens.viewer })
    expect([cli.statusCode, code(cli)]).toEqual([400, 'not_a_person'])
    expect((await get('/v1/auth/me', h.tokens.viewer)).json()).toMatchObject({ kind: 'token', role: 'viewer' })
    expect((await get('/v1/auth/me', 'eyJhbGciOiJIUzI1NiJ9.e30.bogus')).statusCode).toBe(401)
  })
})

describe('when Redis is down', () => {
  it('answers 503 redis_unavailable, not an internal error', async () => {
    const dead = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null })
    dead.on('error', () => {}) // the refused connection is the point
    const broken = createPeople({
      store: t.store,
      redis: dead,
      keyPrefix: 'dead:',
      masterKey: Buffer.from(t.config.masterKey as string, 'hex'),
      auth: t.config.auth,
      audit: h.respond.audit,
      ownEvents: async () => {},
    })
    const app = await h.extraApp({ plugins: [authRoutes({ people: broken, absoluteTimeoutSec: 60 })] })
    for (const [url, body] of [
      ['/v1/auth/login', { email: 'someone@example.com', password: PASSWORD }],
      ['/v1/auth/mfa', { mfa_token: `vgm_${'A'.repeat(43)}`, code: '123456' }],
    ] as const) {
      const res = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) })
      expect([res.statusCode, code(res)], url).toEqual([503, 'redis_unavailable'])
    }
    const refresh = await app.inject({ method: 'POST', url: '/v1/auth/refresh', headers: { cookie: `${REFRESH_COOKIE}=vgr_${'A'.repeat(22)}.${'B'.repeat(43)}` } })
    expect([refresh.statusCode, code(refresh)]).toEqual([503, 'redis_unavailable'])
    dead.disconnect()
  })
})

describe('route × role with sessions', () => {
  it('answers every route for a signed-in person exactly as for a token of the same role', async () => {
    const sessions = {} as Record<Role, string>
    for (const role of ROLES) sessions[role] = (await enrolled(`matrix.${role}@example.com`, role)).access
    let checked = 0
    for (const route of h.app.vigilRoutes) {
      // Logging out would end the session this walk uses; it is tested above.
      if (route.url === '/v1/auth/logout') continue
      for (const role of ROLES) {
        const withBody = !['GET', 'HEAD', 'DELETE', 'OPTIONS'].includes(route.method)
        const res = await h.app.inject({
          method: route.method as InjectOptions['method'],
          url: route.url.replace(/:[A-Za-z0-9_]+/g, 'x').replace(/\*/g, 'x'),
          headers: {
            authorization: `Bearer ${sessions[role]}`,
            ...(withBody ? { 'content-type': 'application/json' } : {}),
            // A stream never ends under inject(); a resume point it cannot have issued answers 400 after the access check.
            ...(route.url.endsWith('/stream') ? { 'last-event-id': 'matrix' } : {}),
          },
          ...(withBody ? { payload: '{}' } : {}),
        })
        const label = `${route.method} ${route.url} as ${role} → ${res.statusCode}`
        if (route.permission === 'source') expect(res.statusCode, label).toBe(401)
        else if (route.permission === 'public') expect(res.statusCode === 403 || code(res) === 'unauthorized', label).toBe(false)
        else if (can(role, route.permission)) expect([401, 403], label).not.toContain(res.statusCode)
        else expect([res.statusCode, route.method === 'HEAD' ? 'forbidden' : code(res)], label).toEqual([403, 'forbidden'])
        checked += 1
      }
    }
    expect(checked).toBeGreaterThan(50)
  }, 120_000)
})

describe('logging', () => {
  it('never writes a password, token, refresh token, TOTP secret or recovery code to a log line', () => {
    const logged = h.logLines.join('')
    expect(logged.length).toBeGreaterThan(0)
    for (const s of secrets) expect(logged.includes(s), 'a secret was logged').toBe(false)
  })
})
