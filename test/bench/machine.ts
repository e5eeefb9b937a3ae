/** The machine a benchmark ran on, for docs/benchmarks.md. */
import os from 'node:os'
import { readFileSync, writeFileSync, existsSync } from 'node:fs'
import { createRequire } from 'node:module'

export function machine(): string {
  const cpus = os.cpus()
  const require = createRequire(import.meta.url)
  let chdb = '?'
  try {
    chdb = (require('chdb/package.json') as { version: string }).version
  } catch {
    // not installed in this workspace's resolution path
  }
  return [
    `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}`,
    `${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM`,
    `${os.type()} ${os.release()}`,
    `Node ${process.version}`,
    `npm chdb ${chdb}`,
  ].join(', ')
}

/** Replaces the block between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` in the doc. */
export function writeSection(docPath: string, name: string, body: string): void {
  const start = `<!-- bench:${name} -->`
  const end = `<!-- /bench:${name} -->`
  let doc = existsSync(docPath) ? readFileSync(docPath, 'utf8') : '# Benchmarks\n\nRerun with `npm run bench` (or `npm run bench -- <name>`). Each section is rewritten by its benchmark.\n'
  const block = `${start}\n${body.trim()}\n${end}`
  const i = doc.indexOf(start)
  const j = doc.indexOf(end)
  doc = i >= 0 && j > i ? doc.slice(0, i) + block + doc.slice(j + end.length) : `${doc.trimEnd()}\n\n${block}\n`
  writeFileSync(docPath, doc)
}
