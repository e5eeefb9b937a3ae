/**
 * `npm run bench -- <name>`: runs one benchmark (or all with no name). Each writes its
 * figures and the machine into docs/benchmarks.md between its own markers.
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

const here = path.dirname(fileURLToPath(import.meta.url))
const BENCHES: Record<string, string> = { ingest: 'ingest.bench.ts' }
const names = process.argv.slice(2).filter((a) => !a.startsWith('-'))
const chosen = names.length ? names : Object.keys(BENCHES)
for (const name of chosen) {
  const file = BENCHES[name]
  if (!file) {
    console.error(`bench: unknown benchmark "${name}"; known: ${Object.keys(BENCHES).join(', ')}`)
    process.exit(2)
  }
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, file), ...process.argv.slice(2).filter((a) => a.startsWith('-'))], {
    stdio: 'inherit',
  })
  if (r.status !== 0) process.exit(r.status ?? 1)
}
