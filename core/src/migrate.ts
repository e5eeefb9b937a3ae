/**
 * Numbered SQL migrations (`core/migrations/NNN_name.sql`), applied in order, each once,
 * and recorded in `vigil_migrations`. Statements are separated by a line holding only `;`
 * or by `;` at the end of a line; every statement is written to be safe to run again
 * (IF NOT EXISTS), so a crash between a statement and its record only repeats harmless work.
 *
 * Other workspaces add migrations by passing their own directory with a distinct prefix.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Store } from './store.js'
import { VigilError } from './errors.js'
import { EVENT_COLUMNS } from './event-schema.js'

export const CORE_MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'migrations')

export interface Migration {
  /** `core/001_events` */
  id: string
  statements: string[]
  checksum: string
}

/** Placeholders a migration may use, expanded from the code's single definitions. */
function expand(sql: string): string {
  const columns = EVENT_COLUMNS.map((c) => `\`${c.name}\` ${c.type}`).join(',\n  ')
  return sql
    .replace(/^\s*--.*$/gm, '')
    .replaceAll('{{EVENT_COLUMNS}}', () => columns)
}

export function readMigrations(dir: string, scope: string): Migration[] {
  const files = readdirSync(dir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
  return files.map((f) => {
    const sql = readFileSync(path.join(dir, f), 'utf8')
    const statements = expand(sql)
      .split(/;\s*(?:\n|$)/)
      .map((s) => s.trim())
      .filter(Boolean)
    return { id: `${scope}/${f.replace(/\.sql$/, '')}`, statements, checksum: createHash('sha256').update(sql).digest('hex') }
  })
}

/** Applies what has not been applied yet; returns the ids it applied. */
export async function migrate(store: Store, dirs: Array<{ dir: string; scope: string }> = [{ dir: CORE_MIGRATIONS_DIR, scope: 'core' }]): Promise<string[]> {
  await store.command(
    `CREATE TABLE IF NOT EXISTS vigil_migrations (id String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))
     ENGINE = ReplacingMergeTree ORDER BY id`,
  )
  const done = new Set((await store.query<{ id: string }>('SELECT id FROM vigil_migrations FINAL')).map((r) => r.id))
  const applied: string[] = []
  for (const { dir, scope } of dirs) {
    for (const m of readMigrations(dir, scope)) {
      if (done.has(m.id)) continue
      try {
        for (const stmt of m.statements) await store.command(stmt)
      } catch (err) {
        throw new VigilError('VIGIL_ERR_STORE_MIGRATION', `${m.id}: ${(err as Error).message.split('\n')[0]}`, { cause: err })
      }
      await store.command('INSERT INTO vigil_migrations (id, checksum) VALUES ({id:String}, {checksum:String})', {
        id: m.id,
        checksum: m.checksum,
      })
      applied.push(m.id)
    }
  }
  return applied
}
