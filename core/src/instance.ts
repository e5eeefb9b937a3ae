/**
 * The id of the Vigil deployment a store belongs to (migration 003): made on first use,
 * then the same for every process that opens this store.
 *
 * Relied on by: the server, which names the Redis keys of the response side after it, so
 * deployments sharing one Redis stay apart.
 */
import { randomBytes } from 'node:crypto'
import type { Store } from './store.js'

const FIRST = 'SELECT id FROM vigil_instance ORDER BY id LIMIT 1'

export async function instanceId(store: Store): Promise<string> {
  const found = await store.query<{ id: string }>(FIRST)
  if (found[0]) return found[0].id
  await store.insertNdjson('vigil_instance', ['id'], JSON.stringify({ id: randomBytes(8).toString('hex') }) + '\n')
  // A racing process may have written its own: everyone takes the smallest.
  return ((await store.query<{ id: string }>(FIRST))[0] as { id: string }).id
}
