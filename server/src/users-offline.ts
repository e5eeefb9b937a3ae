/**
 * The People a `vigil users …` command opens for itself when no `vigil up` serves the data
 * dir (cli.ts, through admin-local.ts). Apart from users-cli.ts, which registers the
 * commands, so that registering them loads none of the engine.
 */
import type { Redis } from 'ioredis'
import { createLogger, loadMasterKey, type Store, type VigilConfig } from '@vigil/core'
import { createIngest, type SourceRegistry } from '@vigil/ingest'
import { createAuditLog } from '@vigil/respond'
import { createPeople, type People } from './people.js'
import { responseKeyPrefix } from './response-wiring.js'

/**
 * People for a CLI that opened the store itself: audited into the same chain and emitting
 * own events through an ingest writer on the same store, as `vigil up` would.
 */
export async function openPeopleOffline(deps: { config: VigilConfig; store: Store; sources: SourceRegistry; redis: Redis }): Promise<{ people: People; close(): Promise<void> }> {
  const { config, store, redis } = deps
  const logger = createLogger({ level: 'warn', name: 'vigil-cli', destination: process.stderr })
  const keyPrefix = await responseKeyPrefix(store)
  const ingest = await createIngest({ config, store, redis, logger, sources: deps.sources })
  const people = createPeople({
    store,
    redis,
    keyPrefix,
    masterKey: loadMasterKey(config),
    auth: config.auth,
    audit: createAuditLog({ store, redis, keyPrefix }),
    ownEvents: (events) => ingest.recordOwn(events),
    logger,
  })
  return { people, close: () => ingest.close() }
}
