/**
 * An admin operation run by the CLI itself, on the store it opens, when no `vigil up` serves
 * the data dir's admin socket (cli.ts `runAdmin`). Loaded only then: it brings in the whole
 * engine (store, migrations, sources, Redis, people), which a command answered over the
 * socket never needs.
 */
import { loadMasterKey, migrate, startRedis, type RedisHandle, type VigilConfig } from '@vigil/core'
import { createSourceRegistry, type SourceRegistry } from '@vigil/ingest'
import { ADMIN_OPERATIONS, type AdminContext, type AdminInput, type AdminOperation, type AdminOutput } from './admin-commands.js'
import { USERS_OPERATIONS } from './admin-shapes.js'
import { openVigilStore, VIGIL_MIGRATIONS } from './runtime.js'
import { openPeopleOffline } from './users-offline.js'

/** Operations that use Redis (the audit chain's lock and head): run here, they start it (the private one keeps its data on disk). */
const NEEDS_REDIS = new Set<AdminOperation>(['audit/verify', 'reports/generate', 'rules/switch', 'sources/add', 'sources/rotate', 'tokens/create', 'tokens/revoke', ...USERS_OPERATIONS])

/** Runs `fn` with the store and source registry of the data dir (and Redis if asked), and closes them after. */
async function withAdmin<T>(config: VigilConfig, fn: (ctx: AdminContext) => Promise<T>, opts: { redis?: boolean; people?: boolean } = {}): Promise<T> {
  const store = await openVigilStore(config)
  let sources: SourceRegistry | undefined
  let redis: RedisHandle | undefined
  let offline: Awaited<ReturnType<typeof openPeopleOffline>> | undefined
  try {
    await migrate(store, VIGIL_MIGRATIONS)
    sources = createSourceRegistry({ store, masterKey: loadMasterKey(config), config })
    if (opts.redis) redis = await startRedis(config)
    // People's changes are audited and emitted as own events just as in `vigil up`.
    offline = redis && opts.people ? await openPeopleOffline({ config, store, sources, redis: redis.redis }) : undefined
    const people = offline?.people
    return await fn({ store, sources, dataDir: config.dataDir, ...(redis ? { redis: redis.redis } : {}), ...(people ? { people: () => people } : {}) })
  } finally {
    await offline?.close()
    sources?.close()
    await redis?.stop()
    await store.close()
  }
}

/** Runs `operation` on this process's own store (and Redis where it needs one). */
export function runAdminLocally<K extends AdminOperation>(config: VigilConfig, operation: K, input: AdminInput<K>): Promise<AdminOutput<K>> {
  return withAdmin(config, (ctx) => ADMIN_OPERATIONS[operation](ctx, input), {
    redis: NEEDS_REDIS.has(operation),
    people: (USERS_OPERATIONS as readonly AdminOperation[]).includes(operation),
  })
}
