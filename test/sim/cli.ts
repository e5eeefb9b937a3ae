/**
 * `npm run sim -- --scenario <name> [--seed n] [--vigil-url URL --source ID --secret S]
 *   [--duration 60s] [--keys n] [--start RFC3339] [--http]`
 *
 * With a Vigil URL: runs the demo API in this process (its guard shipping to that Vigil as
 * `--source` with `--secret`, and following its control channel), drives the scenario in
 * real time, flushes, and prints one JSON summary line. `--http`: the demo API listens on
 * 127.0.0.1 and every request goes over a socket (client address in X-Forwarded-For, which
 * it trusts from loopback); otherwise requests go through `app.inject`. Without one: a dry run that prints
 * every planned request as a JSON line (secrets never), then the summary line.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { buildPlan, createSimApi, drive, SCENARIO_NAMES } from '@vigil/demo'

export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim())
  if (!m) throw new Error(`bad duration ${s} (e.g. 60s, 5m)`)
  const n = Number(m[1])
  return Math.round(n * { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'])
}

function args(argv: string[]): Map<string, string> {
  const out = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (!a.startsWith('--')) continue
    const eq = a.indexOf('=')
    if (eq > 0) out.set(a.slice(2, eq), a.slice(eq + 1))
    else out.set(a.slice(2), argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--') ? argv[++i]! : 'true')
  }
  return out
}

async function main(): Promise<void> {
  const a = args(process.argv.slice(2))
  const scenario = a.get('scenario')
  if (!scenario || !SCENARIO_NAMES.includes(scenario)) {
    console.error(`usage: npm run sim -- --scenario <${SCENARIO_NAMES.join('|')}> [--seed n] [--vigil-url URL --source ID --secret S] [--duration 60s] [--keys n] [--http]`)
    process.exitCode = 2
    return
  }
  const vigilUrl = a.get('vigil-url')
  const source = a.get('source') ?? 'demo-api'
  const start = a.get('start')
  const plan = buildPlan(scenario, {
    seed: Number(a.get('seed') ?? 1),
    startMs: start ? Date.parse(start) : Date.now(),
    durationMs: parseDuration(a.get('duration') ?? '60s'),
    keys: Number(a.get('keys') ?? 20),
    source,
  })
  const summary = { scenario, seed: plan.seed, description: plan.description, keys: plan.keys.length, planned: plan.requests.length, durationMs: plan.durationMs, labels: plan.labels, mayAlsoRaise: plan.mayAlsoRaise }
  if (!vigilUrl) {
    for (const r of plan.requests) console.log(JSON.stringify(r))
    console.log(JSON.stringify({ ...summary, dryRun: true }))
    return
  }
  const secret = a.get('secret')
  if (!secret) throw new Error('--secret is required with --vigil-url (the source secret from `vigil sources add`)')
  const dataDir = mkdtempSync(path.join(tmpdir(), 'vigil-sim-outbox-'))
  const http = a.get('http') === 'true'
  const { api, sink, shipper, baseUrl } = await createSimApi(plan, { vigilUrl, source, secret, dataDir, ...(http ? { listen: { port: 0 } } : {}) })
  const stop = new AbortController()
  process.once('SIGINT', () => stop.abort())
  try {
    const result = await drive(api, plan, sink, { realtime: true, signal: stop.signal, ...(baseUrl ? { baseUrl } : {}) })
    await shipper!.flush(30_000)
    console.log(JSON.stringify({ ...summary, dryRun: false, ...result, shipper: shipper!.stats() }))
  } finally {
    await api.close(5_000)
    await shipper!.close(5_000)
    rmSync(dataDir, { recursive: true, force: true })
  }
}

await main()
