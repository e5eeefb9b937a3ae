/**
 * `npm run bench -- <name>`: runs one benchmark (or all with no name). Each writes its
 * figures and the machine into docs/benchmarks.md between its own markers.
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

const here = path.dirname(fileURLToPath(import.meta.url))
const BENCHES: Record<string, string> = { storage: 'storage.bench.ts', ingest: 'ingest.bench.ts', detect: 'detect.bench.ts', respond: 'respond.bench.ts' }
// Bench names, and the options passed on to each: `--name=value`, or `--name value` when the
// value is not itself a bench name.
const names: string[] = []
const options: string[] = []
const argv = process.argv.slice(2)
for (let i = 0; i < argv.length; i++) {
  const a = argv[i] as string
  const next = argv[i + 1]
  if (!a.startsWith('-')) names.push(a)
  else if (!a.includes('=') && next !== undefined && !next.startsWith('-') && !(next in BENCHES)) options.push(`${a}=${argv[++i]}`)
  else options.push(a)
}
const chosen = names.length ? names : Object.keys(BENCHES)
for (const name of chosen) {
  const file = BENCHES[name]
  if (!file) {
    console.error(`bench: unknown benchmark "${name}"; known: ${Object.keys(BENCHES).join(', ')}`)
    process.exit(2)
  }
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, file), ...options], {
    stdio: 'inherit',
  })
  if (r.status !== 0) process.exit(r.status ?? 1)
}
