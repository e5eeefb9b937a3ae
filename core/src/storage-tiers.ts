/**
 * Storage tiers for the retention policy's hot period (issue 8, docs/reports.md "Retention").
 *
 * Embedded chDB: Vigil writes a small server configuration, `<data>/clickhouse-config.xml`
 * (regenerated at each start), that adds a `cold` disk at `VIGIL_COLD_DIR` and the storage
 * policy `vigil_tiered`: volume `default` (the default disk, where parts are written) then
 * volume `cold`. The first volume is named `default` on purpose: ClickHouse lets
 * `ALTER TABLE … MODIFY SETTING storage_policy` move a table off the `default` policy only to
 * a policy that keeps the old policy's volumes by name. The engine is given the file with
 * `--config-file` when the data dir's first connection opens.
 *
 * ClickHouse server (`CLICKHOUSE_URL`): Vigil cannot create disks there. `VIGIL_STORAGE_POLICY`
 * names an existing policy with a volume `cold`; unset, nothing is tiered and the
 * audit-integrity report says so.
 *
 * respond's `applyRetentionPolicy` sets the policy and the `TO VOLUME 'cold'` TTL per table.
 */
import { mkdirSync, writeFileSync, accessSync, constants } from 'node:fs'
import path from 'node:path'
import type { VigilConfig } from './config.js'
import { VigilError } from './errors.js'

/** The policy Vigil defines on embedded chDB. */
export const TIERED_POLICY = 'vigil_tiered'
/** The volume parts move to once past their hot period. */
export const COLD_VOLUME = 'cold'

/** Which storage policy the retention policy's hot period uses, or why there is none. */
export type StorageTiering =
  | { readonly policy: string; readonly coldVolume: typeof COLD_VOLUME; readonly source: 'embedded' | 'VIGIL_STORAGE_POLICY' }
  | { readonly policy: null; readonly why: string }

const xmlText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** The embedded engine's configuration: the `cold` disk and the tiered policy. */
export function embeddedStorageConfigXml(coldDir: string): string {
  const dir = coldDir.endsWith('/') ? coldDir : `${coldDir}/`
  return `<!-- Written by Vigil at each start (core/src/storage-tiers.ts); edits are overwritten. -->
<clickhouse>
  <storage_configuration>
    <disks>
      <${COLD_VOLUME}><path>${xmlText(dir)}</path></${COLD_VOLUME}>
    </disks>
    <policies>
      <${TIERED_POLICY}>
        <volumes>
          <default><disk>default</disk></default>
          <${COLD_VOLUME}><disk>${COLD_VOLUME}</disk></${COLD_VOLUME}>
        </volumes>
      </${TIERED_POLICY}>
    </policies>
  </storage_configuration>
</clickhouse>
`
}

/**
 * Creates the cold directory and writes `<data>/clickhouse-config.xml`; returns the file's
 * path. A cold directory that cannot be created or written stops start-up naming VIGIL_COLD_DIR.
 */
export function writeEmbeddedStorageConfig(config: VigilConfig): string {
  const coldDir = config.storage.coldDir
  try {
    mkdirSync(coldDir, { recursive: true, mode: 0o700 })
    accessSync(coldDir, constants.W_OK)
  } catch (err) {
    throw new VigilError('VIGIL_ERR_CONFIG_INVALID', `VIGIL_COLD_DIR cannot be used: ${(err as NodeJS.ErrnoException).code ?? 'error'} on ${coldDir}`, { cause: err })
  }
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 })
  const file = path.join(config.dataDir, 'clickhouse-config.xml')
  writeFileSync(file, embeddedStorageConfigXml(coldDir), { mode: 0o600 })
  return file
}

type Query = <T>(sql: string, params?: Record<string, unknown>) => Promise<T[]>

/**
 * Checks the policy the store will tier with. Embedded: `vigil_tiered` must be there with its
 * cold disk at VIGIL_COLD_DIR (it is not when the engine was already running in this process
 * with another configuration). Server: VIGIL_STORAGE_POLICY must exist and have a volume `cold`.
 * Anything else stops start-up with one line naming the setting.
 */
export async function resolveTiering(query: Query, config: VigilConfig, kind: 'embedded' | 'server'): Promise<StorageTiering> {
  if (kind === 'server' && config.storage.policy === undefined) {
    return { policy: null, why: 'ClickHouse is a server (CLICKHOUSE_URL), where Vigil cannot create disks, and VIGIL_STORAGE_POLICY is not set' }
  }
  const name = kind === 'embedded' ? TIERED_POLICY : (config.storage.policy as string)
  const setting = kind === 'embedded' ? 'VIGIL_COLD_DIR' : 'VIGIL_STORAGE_POLICY'
  const volumes = await query<{ volume_name: string; disks: string[] }>(
    'SELECT volume_name, disks FROM system.storage_policies WHERE policy_name = {p:String} ORDER BY volume_priority',
    { p: name },
  )
  if (volumes.length === 0) throw new VigilError('VIGIL_ERR_CONFIG_INVALID', `${setting}: ClickHouse has no storage policy "${name}"`)
  if (!volumes.some((v) => v.volume_name === COLD_VOLUME)) {
    throw new VigilError('VIGIL_ERR_CONFIG_INVALID', `${setting}: storage policy "${name}" has no volume named "${COLD_VOLUME}"`)
  }
  if (kind === 'embedded') {
    const [disk] = await query<{ path: string }>('SELECT path FROM system.disks WHERE name = {d:String}', { d: COLD_VOLUME })
    const want = path.resolve(config.storage.coldDir)
    if (!disk || path.resolve(disk.path) !== want) {
      throw new VigilError('VIGIL_ERR_CONFIG_INVALID', `VIGIL_COLD_DIR is ${want} but the engine, already running in this process, has its cold disk at ${disk?.path ?? 'none'}`)
    }
    return { policy: name, coldVolume: COLD_VOLUME, source: 'embedded' }
  }
  return { policy: name, coldVolume: COLD_VOLUME, source: 'VIGIL_STORAGE_POLICY' }
}
