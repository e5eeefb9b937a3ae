import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** respond's own migrations (state change logs, audit chain, engine records); run after detect's. */
export const RESPOND_MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'migrations')
