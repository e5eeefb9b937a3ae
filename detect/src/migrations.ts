import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** detect's own migrations (stream, rollups, alerts); run after core's. */
export const DETECT_MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'migrations')
