/**
 * `npm run quality [-- --only a,b --seed 1 --background 30s --keys 20]`: every simulator
 * scenario (one per CONTRACT §5 rule, the mixed takeover, and clean) against its own fresh
 * `vigil up` — the built CLI as a real process, a new data dir and a private Redis each —
 * with the demo trading API behind the guard shipping to it and the simulator sending over
 * HTTP. Scores the alerts against the labels (report.ts) and rewrites the `scenarios`
 * section of docs/detection-quality.md. Takes about half an hour (rate.abuse alone runs nine
 * minutes); not part of `npm test`. Needs `npx turbo run build` first.
 */
import { rmSync } from 'node:fs'
import path from 'node:path'
import { BUILTIN_RULE_IDS } from '@vigil/detect'
import { buildPlan, createSimApi, drive, EnforcementProbe, SCENARIO_NAMES, sleep, type SendResult } from '@vigil/demo'
import { machine, writeSection } from '../bench/machine.js'
import { exited, freePort, ROOT, startUp, tempDataDir, vigilJson } from '../integration/vigil-process.js'
import { renderReport, scoreScenario, type RunAlert, type ScenarioRun, type ScenarioScore } from './report.js'

const SOURCE = 'quality'
/** The time-of-day curves read a busy hour (14:00 UTC), whatever the hour of the run. */
const PLAN_HOUR_MS = Date.UTC(2026, 10, 24, 14, 0, 0)
/** After the last request: how long to wait for the labels, then for stragglers. */
const LABEL_GRACE_MS = 45_000
const SETTLE_MS = 5_000

function arg(name: string): string | undefined {
  const argv = process.argv.slice(2)
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`))
  if (i < 0) return undefined
  const a = argv[i]!
  return a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[i + 1]
}

function seconds(s: string): number {
  const m = /^(\d+)(s|m)?$/.exec(s)
  if (!m) throw new Error(`bad duration ${s} (e.g. 30s, 2m)`)
  return Number(m[1]) * (m[2] === 'm' ? 60_000 : 1_000)
}

async function runScenario(name: string, seed: number, backgroundMs: number, keys: number): Promise<ScenarioRun> {
  const t0 = Date.now()
  const dataDir = tempDataDir('vigil-quality-')
  const outbox = tempDataDir('vigil-quality-outbox-')
  const env: NodeJS.ProcessEnv = { ...process.env, VIGIL_DATA_DIR: dataDir, VIGIL_LOG_LEVEL: 'warn' }
  delete env.REDIS_URL
  const secret = (vigilJson(['sources', 'add', SOURCE], env) as { secret: string }).secret
  const viewer = (vigilJson(['tokens', 'create', '--role', 'viewer', '--name', 'quality'], env) as { token: string }).token
  const up = await startUp(env, await freePort())
  const plan = buildPlan(name, { seed, startMs: PLAN_HOUR_MS, durationMs: backgroundMs, keys, source: SOURCE })
  const probe = new EnforcementProbe()
  const sim = await createSimApi(plan, {
    vigilUrl: up.url,
    source: SOURCE,
    secret,
    dataDir: outbox,
    listen: { port: 0 },
    probe,
    // As in `vigil up --demo`: the guard's own lockout (10) would answer the brute-forced
    // key's owner locked_out for 15 minutes and hide Vigil's revocation from the probe.
    lockout: { maxFailures: 100 },
  })
  const byCode: Record<string, number> = {}
  const alerts = async (): Promise<RunAlert[]> => {
    const res = await fetch(`${up.url}/v1/alerts?limit=500`, { headers: { authorization: `Bearer ${viewer}` } })
    if (res.status !== 200) throw new Error(`GET /v1/alerts answered ${res.status}`)
    return ((await res.json()) as { items: RunAlert[] }).items
  }
  try {
    await drive(sim.api, plan, sim.sink, {
      realtime: true,
      baseUrl: sim.baseUrl!,
      onResult: (_r, out: SendResult) => {
        const code = out.status < 300 ? 'success' : (out.code ?? `http_${out.status}`)
        byCode[code] = (byCode[code] ?? 0) + 1
      },
    })
    await sim.shipper!.flush(30_000)
    const end = Date.now() + LABEL_GRACE_MS
    for (;;) {
      const seen = await alerts()
      const all = plan.labels.every((l) => seen.some((a) => a.rule === l.rule && a.entity.type === l.entity.type && a.entity.id === l.entity.id))
      if (all || Date.now() > end) break
      await sleep(1_000)
    }
    await sleep(SETTLE_MS)
    await probe.settle()
    const final = await alerts()
    return { plan, alerts: final, enforcement: [...probe.results], byCode, wallMs: Date.now() - t0, source: SOURCE }
  } finally {
    await sim.api.close(2_000)
    await sim.shipper?.close(2_000)
    up.child.kill('SIGTERM')
    await exited(up.child)
    rmSync(dataDir, { recursive: true, force: true })
    rmSync(outbox, { recursive: true, force: true })
  }
}

async function main(): Promise<void> {
  const seed = Number(arg('seed') ?? 1)
  const backgroundMs = seconds(arg('background') ?? '30s')
  const keys = Number(arg('keys') ?? 20)
  const only = arg('only')?.split(',')
  const names = only ?? SCENARIO_NAMES
  for (const n of names) if (!SCENARIO_NAMES.includes(n)) throw new Error(`unknown scenario ${n}; one of: ${SCENARIO_NAMES.join(', ')}`)
  const scores: ScenarioScore[] = []
  for (const name of names) {
    const started = Date.now()
    process.stderr.write(`[quality] ${name} …`)
    const run = await runScenario(name, seed, backgroundMs, keys)
    const score = scoreScenario(run)
    scores.push(score)
    const hit = score.labels.filter((l) => l.detected).length
    const other = score.alerts.filter((a) => a.class !== 'label').map((a) => `${a.class}:${a.alert.rule}@${a.alert.entity.type}:${a.alert.entity.id}`)
    process.stderr.write(` ${hit}/${score.labels.length} labels, ${score.sent} requests, ${Math.round((Date.now() - started) / 1000)} s${other.length ? `; other alerts ${other.join(' ')}` : ''}\n`)
  }
  const command = `npm run quality${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`
  const body = renderReport(scores, { when: new Date().toISOString(), machine: machine(), command, seed, backgroundMs, keys, rules: BUILTIN_RULE_IDS })
  console.log(body)
  // A partial run (--only) prints its report but leaves the committed one alone.
  if (!only) writeSection(path.join(ROOT, 'docs/detection-quality.md'), 'scenarios', body)
}

await main()
