import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** The server's own tables (people); applied after core's, detect's and respond's. */
export const SERVER_MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'migrations')
