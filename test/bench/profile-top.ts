/** Prints the top self-time functions of a V8 .cpuprofile: `npx tsx test/bench/profile-top.ts <file>`. */
import { readFileSync } from 'node:fs'

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }
const file = process.argv[2]
if (!file) throw new Error('usage: profile-top <file.cpuprofile>')
const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[] }
// Shares of busy time: idle samples (waiting on I/O or chDB) are left out.
const idle = new Set(p.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id))
const total = p.samples.filter((id) => !idle.has(id)).length
const byFn = new Map<string, number>()
for (const n of p.nodes) {
  if (idle.has(n.id)) continue
  const f = n.callFrame
  const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*node_modules\//, '~/').replace(/^file:\/\/.*\/work\/main\//, '')}:${f.lineNumber + 1}`
  byFn.set(key, (byFn.get(key) ?? 0) + (n.hitCount ?? 0))
}
const top = [...byFn.entries()].sort((a, b) => b[1] - a[1]).slice(0, 30)
for (const [k, v] of top) console.log(`${((100 * v) / total).toFixed(1).padStart(5)} %  ${k}`)
