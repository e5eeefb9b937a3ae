/**
 * Regenerates the table in docs/errors.md from core/src/errors.ts (through the built @vigil/core):
 *   npx tsx scripts/errors-doc.ts
 * core/src/errors.test.ts fails when the two differ.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { ERRORS } from '@vigil/core'

const path = new URL('../docs/errors.md', import.meta.url)
const rows = Object.entries(ERRORS).map(([name, d]) => `| \`${name}\` | ${d.status} | \`${d.code}\` | ${d.message.replace(/\|/g, '\\|')} |`)
const table = ['| name | status | code | message |', '|---|---|---|---|', ...rows].join('\n')
const doc = readFileSync(path, 'utf8')
const start = '<!-- errors:start -->'
const end = '<!-- errors:end -->'
const i = doc.indexOf(start)
const j = doc.indexOf(end)
if (i < 0 || j < i) throw new Error('docs/errors.md lacks the errors:start/errors:end markers')
writeFileSync(path, doc.slice(0, i + start.length) + '\n' + table + '\n' + doc.slice(j))
