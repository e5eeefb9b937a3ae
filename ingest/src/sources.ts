/**
 * Sources: the trading APIs allowed to send events (CONTRACT §2, §6 `vigil sources`).
 *
 * Each source has an HMAC secret, stored only encrypted (AES-256-GCM under the master key,
 * bound to the source id so a ciphertext cannot be moved to another source). Changes are
 * rows appended to `source_changes`; the current state of a source is its highest version.
 * Rotation keeps the previous secret valid for a grace period so a trading API can roll
 * its fleet over without dropping a batch.
 *
 * The registry keeps every source's current secrets in memory, refreshed every few
 * seconds, so verifying a request never waits on ClickHouse — and a flood of requests
 * naming unknown sources costs a map lookup, not a query.
 */
import type { Store, VigilConfig } from '@vigil/core'
import { VigilError, decryptSecret, encryptSecret, generateSecret } from '@vigil/core'

export interface SourceInfo {
  id: string
  status: 'active' | 'disabled'
  created_at: string
  rotated_at: string | null
  /** While set and in the future, the previous secret is still accepted. */
  previous_valid_until: string | null
}

export interface SourceSecret {
  id: string
  /** Shown once; never stored in clear. */
  secret: string
  previous_valid_until?: string
}

export interface SourceRegistry {
  /** Creates a source; throws VigilError `source_exists` or `bad_source_id`. */
  add(id: string, opts?: { by?: string }): Promise<SourceSecret>
  /** New secret; the old one stays valid for `config.ingest.rotationGraceSec`. Throws `source_not_found`. */
  rotate(id: string, opts?: { by?: string }): Promise<SourceSecret>
  list(): Promise<SourceInfo[]>
  /** Secrets currently valid for a source (newest first), or null when unknown/disabled. */
  secretsFor(id: string): Promise<string[] | null>
  /** Stops the background refresh. */
  close(): void
}

export const SOURCE_ID = /^[A-Za-z0-9._-]{1,64}$/

// Aliases differ from column names: ClickHouse resolves an alias before a column of the
// same name, which would nest aggregates.
interface CurrentRow {
  id: string
  cur_version: string
  cur_status: 'active' | 'disabled'
  cur_secret_enc: string
  cur_previous_secret_enc: string
  cur_previous_valid_until: string
  created_at: string
  rotated_at: string
}

interface Cached {
  secret: string
  previous: string | undefined
  previousUntilMs: number
}

const CURRENT_SQL = `
SELECT id,
  toString(max(version)) AS cur_version,
  argMax(status, version) AS cur_status,
  argMax(secret_enc, version) AS cur_secret_enc,
  argMax(previous_secret_enc, version) AS cur_previous_secret_enc,
  toString(argMax(previous_valid_until, version)) AS cur_previous_valid_until,
  toString(min(changed_at)) AS created_at,
  toString(maxIf(changed_at, change = 'rotate')) AS rotated_at
FROM source_changes`

const ZERO_TIME = '1970-01-01 00:00:00.000'
const chTimeToIso = (t: string): string | null => (!t || t.startsWith(ZERO_TIME) ? null : t.replace(' ', 'T') + 'Z')
const isoToCh = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '')

export function createSourceRegistry(deps: {
  store: Store
  masterKey: Buffer
  config: VigilConfig
  /** How often secrets are reloaded from storage, ms. @defaultValue `5000` */
  refreshMs?: number
}): SourceRegistry {
  const { store, masterKey, config } = deps
  let cache = new Map<string, Cached>()
  let loaded: Promise<void> | undefined

  async function current(id?: string): Promise<CurrentRow[]> {
    const where = id === undefined ? '' : ' WHERE id = {id:String}'
    return store.query<CurrentRow>(`${CURRENT_SQL}${where} GROUP BY id ORDER BY id`, id === undefined ? undefined : { id })
  }

  async function reload(): Promise<void> {
    const rows = await current()
    const next = new Map<string, Cached>()
    for (const r of rows) {
      if (r.cur_status !== 'active') continue
      const untilIso = chTimeToIso(r.cur_previous_valid_until)
      const until = untilIso ? Date.parse(untilIso) : 0
      next.set(r.id, {
        secret: decryptSecret(masterKey, r.cur_secret_enc, r.id),
        previous: r.cur_previous_secret_enc ? decryptSecret(masterKey, r.cur_previous_secret_enc, r.id) : undefined,
        previousUntilMs: until,
      })
    }
    cache = next
  }

  const timer = setInterval(() => {
    reload().catch(() => {
      // Keep serving the last known secrets while storage is away.
    })
  }, deps.refreshMs ?? 5000)
  timer.unref()

  function checkId(id: string): void {
    if (!SOURCE_ID.test(id)) throw new VigilError('VIGIL_ERR_SOURCE_BAD_ID')
  }

  async function append(row: {
    id: string
    version: number
    change: string
    status: string
    secret_enc: string
    previous_secret_enc: string
    previous_valid_until: string
    changed_by: string
  }): Promise<void> {
    await store.insertNdjson('source_changes', Object.keys(row), JSON.stringify(row) + '\n')
  }

  return {
    async add(id, opts = {}) {
      checkId(id)
      if ((await current(id)).length > 0) throw new VigilError('VIGIL_ERR_SOURCE_EXISTS', id)
      const secret = generateSecret('vgs')
      await append({
        id,
        version: 1,
        change: 'create',
        status: 'active',
        secret_enc: encryptSecret(masterKey, secret, id),
        previous_secret_enc: '',
        previous_valid_until: ZERO_TIME,
        changed_by: opts.by ?? '',
      })
      await reload()
      return { id, secret }
    },

    async rotate(id, opts = {}) {
      checkId(id)
      const [cur] = await current(id)
      if (!cur) throw new VigilError('VIGIL_ERR_SOURCE_NOT_FOUND', id)
      const secret = generateSecret('vgs')
      const untilMs = Date.now() + config.ingest.rotationGraceSec * 1000
      await append({
        id,
        version: Number(cur.cur_version) + 1,
        change: 'rotate',
        status: 'active',
        secret_enc: encryptSecret(masterKey, secret, id),
        previous_secret_enc: cur.cur_secret_enc,
        previous_valid_until: isoToCh(untilMs),
        changed_by: opts.by ?? '',
      })
      await reload()
      return { id, secret, previous_valid_until: new Date(untilMs).toISOString() }
    },

    async list() {
      return (await current()).map((r) => {
        const until = chTimeToIso(r.cur_previous_valid_until)
        return {
          id: r.id,
          status: r.cur_status,
          created_at: chTimeToIso(r.created_at) ?? '',
          rotated_at: chTimeToIso(r.rotated_at),
          previous_valid_until: until && Date.parse(until) > Date.now() ? until : null,
        }
      })
    },

    async secretsFor(id) {
      if (!loaded) {
        loaded = reload().catch((err: unknown) => {
          loaded = undefined
          throw err
        })
      }
      await loaded
      const c = cache.get(id)
      if (!c) return null
      return c.previous !== undefined && c.previousUntilMs > Date.now() ? [c.secret, c.previous] : [c.secret]
    },

    close() {
      clearInterval(timer)
    },
  }
}
