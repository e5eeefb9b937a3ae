/**
 * Sources: the trading APIs allowed to send events, each with an HMAC secret stored only
 * encrypted (AES-256-GCM under the master key, bound to the source id).
 */
import type { Store, VigilConfig } from '@vigil/core'

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
  /** Secrets currently valid for a source (newest first), or null when unknown/disabled. Cached briefly. */
  secretsFor(id: string): Promise<string[] | null>
}

export function createSourceRegistry(_deps: { store: Store; masterKey: Buffer; config: VigilConfig }): SourceRegistry {
  throw new Error('not implemented yet')
}
