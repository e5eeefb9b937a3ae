/**
 * The control-version log (`control_versions`, core migration 004): each version of a
 * detection rule or response playbook file that a Vigil process loaded — its content hash,
 * the parameters that matter as canonical JSON, when, by whom, and the hash it replaced.
 *
 * Relied on by: `vigil up` (server/src/runtime.ts records what detect and respond loaded, at
 * start), detect's `ruleControlSnapshots` and respond's `playbookControlSnapshots` (which
 * build the snapshots from the loaded files), `vigil rules test` (which records the same
 * hashes for the rule files it tested) and the market-access review, which reads the table
 * to list threshold changes with old and new values. Kept in core because both detect and
 * respond produce snapshots and neither may import the other.
 *
 * A version is recorded only when its hash differs from the newest row for its (kind, id):
 * a restart on unchanged files records nothing. Two processes starting on one ClickHouse
 * server at the same moment may both record the same version; readers skip a row whose hash
 * equals the one before it.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { userInfo } from 'node:os'
import path from 'node:path'
import type { VigilConfig } from './config.js'
import type { Store } from './store.js'

export const CONTROL_KINDS = ['rule', 'playbook'] as const
export type ControlKind = (typeof CONTROL_KINDS)[number]

/** A control as loaded now: what a version row is made from. */
export interface ControlSnapshot {
  kind: ControlKind
  id: string
  /** The file it was read from (repo-relative when inside the repo). */
  file: string
  /** SHA-256 (hex) of the file's bytes as loaded. */
  sha256: string
  /** The parameters that matter (thresholds, windows, severity, enabled, steps); stored as canonical JSON. */
  params: unknown
}

/** Who loaded a version: the OS user running Vigil and, when set, `VIGIL_OPERATOR`. */
export interface ControlAuthor {
  by: string
  /** Empty when VIGIL_OPERATOR is unset. */
  operator: string
}

/** One row of `control_versions`. */
export interface ControlVersion {
  kind: ControlKind
  id: string
  file: string
  /** Empty: the control was no longer loaded (its file was removed or retired). */
  sha256: string
  /** Canonical JSON of the snapshot's params; `null` for a removal. */
  params: string
  /** RFC 3339 UTC. */
  loaded_at: string
  by: string
  operator: string
  /** Empty for the first version recorded of this id. */
  previous_sha256: string
}

export interface RecordControlVersionsOptions {
  /**
   * Kinds whose snapshots are the whole set loaded: an id of such a kind whose newest row has
   * a hash but that is absent now gets a removal row. @defaultValue none
   */
  complete?: readonly ControlKind[]
  /** @defaultValue now */
  at?: Date
}

/** SHA-256 (hex) of a file's content. */
export function contentSha256(content: string | Uint8Array): string {
  return createHash('sha256').update(content).digest('hex')
}

/** JSON with object keys sorted at every depth and no whitespace, so equal settings give equal text. */
export function canonicalParamsJson(value: unknown): string {
  if (value === undefined) return 'null'
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  if (Array.isArray(value)) return `[${value.map((v) => canonicalParamsJson(v)).join(',')}]`
  const obj = value as Record<string, unknown>
  return `{${Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalParamsJson(obj[k])}`)
    .join(',')}}`
}

/** Snapshots of loaded controls, and those skipped with why. */
export interface ControlSnapshots {
  snapshots: ControlSnapshot[]
  /** Controls whose file no longer says what was loaded (edited since): not snapshotted, with why. */
  skipped: Array<{ id: string; file: string; why: string }>
}

/** How one kind of control is read back from its file (detect's rules, respond's playbooks). */
export interface ControlReader<T extends { id: string; file: string }> {
  kind: ControlKind
  /** Where repo-relative `file`s are resolved from. */
  root: string
  /** The control the text defines, or undefined when the text is no longer a valid one. */
  parse(text: string, file: string): T | undefined
  /** The settings a version is judged by. */
  params(control: T): Record<string, unknown>
  read?: (file: string) => string
}

/**
 * The loaded controls as snapshots. Each file is read again and hashed, and the text hashed is
 * parsed again: a file edited since it was loaded would otherwise be recorded with a hash that
 * is not the one running, so such a control is skipped and named instead (the next start
 * records it).
 */
export function snapshotControls<T extends { id: string; file: string }>(loaded: readonly T[], reader: ControlReader<T>): ControlSnapshots {
  const read = reader.read ?? ((f: string) => readFileSync(f, 'utf8'))
  const snapshots: ControlSnapshot[] = []
  const skipped: ControlSnapshots['skipped'] = []
  for (const c of loaded) {
    let text: string
    try {
      text = read(path.isAbsolute(c.file) ? c.file : path.join(reader.root, c.file))
    } catch (err) {
      skipped.push({ id: c.id, file: c.file, why: `unreadable: ${(err as NodeJS.ErrnoException).code ?? 'error'}` })
      continue
    }
    const now = reader.parse(text, c.file)
    if (now === undefined) {
      skipped.push({ id: c.id, file: c.file, why: 'edited since it was loaded, and no longer valid' })
      continue
    }
    const params = reader.params(c)
    if (now.id !== c.id || canonicalParamsJson(reader.params(now)) !== canonicalParamsJson(params)) {
      skipped.push({ id: c.id, file: c.file, why: 'edited since it was loaded' })
      continue
    }
    snapshots.push({ kind: reader.kind, id: c.id, file: c.file, sha256: contentSha256(text), params })
  }
  return { snapshots, skipped }
}

/** The author of versions loaded by this process. */
export function controlAuthor(config: Pick<VigilConfig, 'operator'>): ControlAuthor {
  let by: string
  try {
    by = userInfo().username
  } catch {
    // No passwd entry for this uid (some containers): the uid still says who.
    by = `uid:${process.getuid?.() ?? 'unknown'}`
  }
  return { by, operator: config.operator ?? '' }
}

const NEWEST_SQL = `SELECT kind, id, argMax(sha256, loaded_at) AS sha256 FROM control_versions GROUP BY kind, id`
const COLUMNS = ['kind', 'id', 'file', 'sha256', 'params', 'loaded_at', 'by', 'operator', 'previous_sha256'] as const
const SHA256 = /^[0-9a-f]{64}$/

const toCh = (d: Date) => d.toISOString().replace('T', ' ').replace('Z', '')

/**
 * Appends a version for each snapshot whose hash differs from the newest recorded for its
 * (kind, id), and a removal for each id of a `complete` kind no longer loaded. Returns what
 * it appended (nothing on a restart with unchanged files).
 */
export async function recordControlVersions(store: Store, snapshots: readonly ControlSnapshot[], author: ControlAuthor, opts: RecordControlVersionsOptions = {}): Promise<ControlVersion[]> {
  for (const s of snapshots) {
    if (!SHA256.test(s.sha256)) throw new TypeError(`control ${s.kind} ${s.id}: sha256 must be 64 lowercase hex characters`)
    if (s.id === '') throw new TypeError(`a ${s.kind} snapshot has an empty id`)
  }
  const newest = new Map((await store.query<{ kind: string; id: string; sha256: string }>(NEWEST_SQL)).map((r) => [`${r.kind}\u0000${r.id}`, r.sha256]))
  const loadedAt = toCh(opts.at ?? new Date())
  const iso = `${loadedAt.replace(' ', 'T')}Z`
  const rows: ControlVersion[] = []
  const seen = new Set<string>()
  for (const s of snapshots) {
    const key = `${s.kind}\u0000${s.id}`
    seen.add(key)
    const previous = newest.get(key) ?? ''
    if (previous === s.sha256) continue
    rows.push({ kind: s.kind, id: s.id, file: s.file, sha256: s.sha256, params: canonicalParamsJson(s.params), loaded_at: iso, by: author.by, operator: author.operator, previous_sha256: previous })
  }
  for (const kind of opts.complete ?? []) {
    for (const [key, sha] of newest) {
      const [k, id] = key.split('\u0000') as [string, string]
      if (k !== kind || seen.has(key) || sha === '') continue
      rows.push({ kind, id, file: '', sha256: '', params: 'null', loaded_at: iso, by: author.by, operator: author.operator, previous_sha256: sha })
    }
  }
  if (rows.length === 0) return rows
  await store.insertNdjson('control_versions', COLUMNS, rows.map((r) => JSON.stringify({ ...r, loaded_at: loadedAt })).join('\n') + '\n')
  return rows
}
