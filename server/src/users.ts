/**
 * People who sign in to Vigil (CONTRACT §6 `vigil users add <email> --role <role>`).
 *
 * Relied on by: admin-commands.ts (`vigil users …` and the admin socket), auth-service.ts
 * (sign-in, enrolment, recovery codes) and the `/v1/users` routes. People live in
 * `user_changes` (server/migrations/001), an append-only log like `api_token_changes`: each
 * change is a new row with the next version, a person's current state is their highest
 * version. Changes to one person are serialised in this process; the admin socket sends the
 * CLI's changes into the running `vigil up`, so on the embedded store every writer is here.
 */
import { decryptSecret, encryptSecret, storeUnavailable, VigilError, type Store } from '@vigil/core'
import { checkPasswordStrength, generateInitialPassword, hashPassword } from './passwords.js'
import { isRole, type Role } from './permissions.js'

export type UserStatus = 'active' | 'disabled'

/** A person as listed and answered: never a hash or a secret. */
export interface UserInfo {
  email: string
  role: Role
  status: UserStatus
  mfa_enrolled: boolean
  /** Recovery codes not used yet. */
  recovery_codes_left: number
  created_at: string
  updated_at: string
}

/** A person's full record, for the sign-in code in this workspace only. */
export interface UserRecord extends UserInfo {
  version: number
  password_hash: string
  totp_secret_enc: string
  totp_pending_enc: string
  recovery_hashes: string[]
}

/** 254 is the longest address SMTP can carry; the shape is deliberately plain. */
const EMAIL_SHAPE = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/

/** Lower-cased and checked; throws `bad_email`. One person, one spelling. */
export function normaliseEmail(email: unknown): string {
  const e = typeof email === 'string' ? email.trim().toLowerCase() : ''
  if (e.length > 254 || !EMAIL_SHAPE.test(e)) throw new VigilError('VIGIL_ERR_USER_BAD_EMAIL')
  return e
}

interface CurrentRow {
  email: string
  last_version: string
  last_change: string
  last_role: string
  last_status: string
  last_password: string
  last_totp: string
  last_pending: string
  last_recovery: string[]
  created_ms: string
  changed_ms: string
}

// Aliases differ from column names on purpose (see tokens.ts): ClickHouse resolves aliases first.
const CURRENT_SQL = `
  SELECT email,
    max(version) AS last_version,
    argMax(change, version) AS last_change,
    argMax(role, version) AS last_role,
    argMax(status, version) AS last_status,
    argMax(password_hash, version) AS last_password,
    argMax(totp_secret_enc, version) AS last_totp,
    argMax(totp_pending_enc, version) AS last_pending,
    argMax(recovery_hashes, version) AS last_recovery,
    toUnixTimestamp64Milli(min(changed_at)) AS created_ms,
    toUnixTimestamp64Milli(argMax(changed_at, version)) AS changed_ms
  FROM user_changes`

const INSERT_SQL = `
  INSERT INTO user_changes (email, version, change, role, status, password_hash, totp_secret_enc, totp_pending_enc, recovery_hashes, changed_by)
  VALUES ({email:String}, {version:UInt64}, {change:String}, {role:String}, {status:String}, {password_hash:String},
          {totp:String}, {pending:String}, {recovery:Array(String)}, {by:String})`

const iso = (ms: number | string) => new Date(Number(ms)).toISOString()

function toRecord(r: CurrentRow): UserRecord {
  return {
    email: r.email,
    // A role this build does not know grants nothing: sign-in refuses it (isRole).
    role: r.last_role as Role,
    status: r.last_status === 'disabled' ? 'disabled' : 'active',
    mfa_enrolled: r.last_totp !== '',
    recovery_codes_left: r.last_recovery.length,
    created_at: iso(r.created_ms),
    updated_at: iso(r.changed_ms),
    version: Number(r.last_version),
    password_hash: r.last_password,
    totp_secret_enc: r.last_totp,
    totp_pending_enc: r.last_pending,
    recovery_hashes: r.last_recovery,
  }
}

/** The listed form: copied field by field so a hash can never ride along. */
export function userInfo(u: UserRecord): UserInfo {
  return {
    email: u.email,
    role: u.role,
    status: u.status,
    mfa_enrolled: u.mfa_enrolled,
    recovery_codes_left: u.recovery_codes_left,
    created_at: u.created_at,
    updated_at: u.updated_at,
  }
}

/** Binds an encrypted TOTP secret to its person: a blob copied onto another row fails to decrypt. */
const totpAad = (email: string) => `vigil/totp/${email}`

export interface AddUserOptions {
  role: string
  /** Chosen by the operator (e.g. `--password-stdin`); absent: one is generated and returned. */
  password?: string
  by: string
}

export interface AddedUser extends UserInfo {
  /** Only when Vigil generated it: shown once. */
  initial_password: string | null
}

type Change = Partial<Pick<UserRecord, 'role' | 'status' | 'password_hash' | 'totp_secret_enc' | 'totp_pending_enc' | 'recovery_hashes'>>

export interface UserStore {
  add(email: string, opts: AddUserOptions): Promise<AddedUser>
  /** The current record, or undefined. `email` is normalised first (bad_email). */
  get(email: string): Promise<UserRecord | undefined>
  /** Like get, but throws `user_not_found`. */
  require(email: string): Promise<UserRecord>
  list(): Promise<UserInfo[]>
  setRole(email: string, role: string, by: string): Promise<{ user: UserInfo; previous: Role }>
  disable(email: string, by: string): Promise<UserInfo>
  /** Stores a pending (not yet confirmed) TOTP secret, replacing any earlier pending one. */
  setPendingTotp(email: string, secretBase32: string, by: string): Promise<void>
  /** The pending secret in clear, or undefined when enrolment was not started. */
  pendingTotp(user: UserRecord): string | undefined
  /** Makes the pending secret the person's second factor, with these recovery code hashes. */
  confirmTotp(email: string, recoveryHashes: string[], by: string): Promise<UserInfo>
  /** The enrolled secret in clear, or undefined. */
  totpSecret(user: UserRecord): string | undefined
  /** Removes one recovery code hash; false when it was not there (already used, or never). */
  consumeRecoveryCode(email: string, hash: string, by: string): Promise<boolean>
  /** Forgets the second factor and recovery codes: the person enrols again at next sign-in. */
  resetMfa(email: string, by: string): Promise<UserInfo>
  /** Replaces the password (already checked for strength by the caller). */
  setPasswordHash(email: string, passwordHash: string, by: string): Promise<void>
}

export function createUserStore(deps: { store: Store; masterKey: Buffer }): UserStore {
  const { store, masterKey } = deps
  // One queue per person: read-current-then-append must not interleave with itself.
  const queues = new Map<string, Promise<unknown>>()
  function serialised<T>(email: string, fn: () => Promise<T>): Promise<T> {
    const prev = queues.get(email) ?? Promise.resolve()
    const next = prev.then(fn, fn)
    const settled = next.catch(() => {})
    queues.set(email, settled)
    void settled.then(() => {
      if (queues.get(email) === settled) queues.delete(email)
    })
    return next
  }

  async function read(email: string): Promise<UserRecord | undefined> {
    let rows: CurrentRow[]
    try {
      rows = await store.query<CurrentRow>(`${CURRENT_SQL} WHERE email = {email:String} GROUP BY email`, { email })
    } catch (err) {
      throw storeUnavailable(err)
    }
    return rows[0] ? toRecord(rows[0]) : undefined
  }

  async function write(prev: UserRecord | undefined, email: string, change: string, next: Change & { role: Role | string }, by: string): Promise<void> {
    try {
      await store.command(INSERT_SQL, {
        email,
        version: (prev?.version ?? 0) + 1,
        change,
        role: next.role,
        status: next.status ?? prev?.status ?? 'active',
        password_hash: next.password_hash ?? prev?.password_hash ?? '',
        totp: next.totp_secret_enc ?? prev?.totp_secret_enc ?? '',
        pending: next.totp_pending_enc ?? prev?.totp_pending_enc ?? '',
        recovery: next.recovery_hashes ?? prev?.recovery_hashes ?? [],
        by,
      })
    } catch (err) {
      throw storeUnavailable(err)
    }
  }

  async function mustRead(email: string): Promise<UserRecord> {
    const u = await read(email)
    if (!u) throw new VigilError('VIGIL_ERR_USER_NOT_FOUND')
    return u
  }

  const users: UserStore = {
    async add(rawEmail, opts) {
      const email = normaliseEmail(rawEmail)
      if (!isRole(opts.role)) throw new VigilError('VIGIL_ERR_TOKEN_BAD_ROLE', `"${String(opts.role).slice(0, 32)}"`)
      const role = opts.role
      const generated = opts.password === undefined ? generateInitialPassword(email) : null
      const password = opts.password ?? (generated as string)
      checkPasswordStrength(password, email)
      const passwordHash = await hashPassword(password)
      return serialised(email, async () => {
        if (await read(email)) throw new VigilError('VIGIL_ERR_USER_EXISTS')
        await write(undefined, email, 'add', { role, status: 'active', password_hash: passwordHash }, opts.by)
        return { ...userInfo(await mustRead(email)), initial_password: generated }
      })
    },
    async get(email) {
      return read(normaliseEmail(email))
    },
    async require(email) {
      return mustRead(normaliseEmail(email))
    },
    async list() {
      let rows: CurrentRow[]
      try {
        rows = await store.query<CurrentRow>(`${CURRENT_SQL} GROUP BY email ORDER BY created_ms, email`, {})
      } catch (err) {
        throw storeUnavailable(err)
      }
      return rows.map((r) => userInfo(toRecord(r)))
    },
    async setRole(rawEmail, role, by) {
      const email = normaliseEmail(rawEmail)
      if (!isRole(role)) throw new VigilError('VIGIL_ERR_TOKEN_BAD_ROLE', `"${String(role).slice(0, 32)}"`)
      return serialised(email, async () => {
        const prev = await mustRead(email)
        if (prev.role !== role) await write(prev, email, 'set_role', { role }, by)
        return { user: userInfo(await mustRead(email)), previous: prev.role }
      })
    },
    async disable(rawEmail, by) {
      const email = normaliseEmail(rawEmail)
      return serialised(email, async () => {
        const prev = await mustRead(email)
        if (prev.status !== 'disabled') await write(prev, email, 'disable', { role: prev.role, status: 'disabled' }, by)
        return userInfo(await mustRead(email))
      })
    },
    async setPendingTotp(rawEmail, secretBase32, by) {
      const email = normaliseEmail(rawEmail)
      await serialised(email, async () => {
        const prev = await mustRead(email)
        if (prev.mfa_enrolled) throw new VigilError('VIGIL_ERR_AUTH_MFA_ALREADY_ENROLLED')
        await write(prev, email, 'mfa_enrol_start', { role: prev.role, totp_pending_enc: encryptSecret(masterKey, secretBase32, totpAad(email)) }, by)
      })
    },
    pendingTotp(user) {
      return user.totp_pending_enc ? decryptSecret(masterKey, user.totp_pending_enc, totpAad(user.email)) : undefined
    },
    async confirmTotp(rawEmail, recoveryHashes, by) {
      const email = normaliseEmail(rawEmail)
      return serialised(email, async () => {
        const prev = await mustRead(email)
        if (prev.mfa_enrolled) throw new VigilError('VIGIL_ERR_AUTH_MFA_ALREADY_ENROLLED')
        if (!prev.totp_pending_enc) throw new VigilError('VIGIL_ERR_AUTH_MFA_NOT_STARTED')
        await write(prev, email, 'mfa_enrol', { role: prev.role, totp_secret_enc: prev.totp_pending_enc, totp_pending_enc: '', recovery_hashes: recoveryHashes }, by)
        return userInfo(await mustRead(email))
      })
    },
    totpSecret(user) {
      return user.totp_secret_enc ? decryptSecret(masterKey, user.totp_secret_enc, totpAad(user.email)) : undefined
    },
    async consumeRecoveryCode(rawEmail, hash, by) {
      const email = normaliseEmail(rawEmail)
      return serialised(email, async () => {
        const prev = await mustRead(email)
        if (!prev.recovery_hashes.includes(hash)) return false
        await write(prev, email, 'recovery_code_used', { role: prev.role, recovery_hashes: prev.recovery_hashes.filter((h) => h !== hash) }, by)
        return true
      })
    },
    async resetMfa(rawEmail, by) {
      const email = normaliseEmail(rawEmail)
      return serialised(email, async () => {
        const prev = await mustRead(email)
        await write(prev, email, 'mfa_reset', { role: prev.role, totp_secret_enc: '', totp_pending_enc: '', recovery_hashes: [] }, by)
        return userInfo(await mustRead(email))
      })
    },
    async setPasswordHash(rawEmail, passwordHash, by) {
      const email = normaliseEmail(rawEmail)
      await serialised(email, async () => {
        const prev = await mustRead(email)
        await write(prev, email, 'set_password', { role: prev.role, password_hash: passwordHash }, by)
      })
    },
  }
  return users
}
