/**
 * The live demo `vigil up --demo` runs: the demo trading API, guarded by `@vigil/guard`,
 * listening on loopback and shipping its events (signed gzip batches) to this Vigil as one
 * source while following its control channel; and the simulator driving it over HTTP with
 * clean background traffic plus a repeating cycle of labelled attacks, spaced out, so a new
 * user sees traffic, alerts, a revoked key and a tripped kill-switch within a minute.
 *
 * Each cycle replans the background (same keys, new requests) and runs the attacks on fresh
 * keys (`keyTag`), since the last cycle's victims are revoked or kill-switched by then.
 * clock.skew and rate.abuse are left out: the first would shift every event of the source,
 * the second runs nine minutes. Reproducible by seed, like `npm run sim`.
 */
import type { GuardTlsOptions } from '@vigil/guard'
import type { DemoApi } from './demo-api.js'
import { createSimApi, drive, EnforcementProbe, registerKeys, sleep, type DriveResult, type SendResult } from './driver.js'
import { buildPlan, type Plan, type PlannedRequest } from './scenarios.js'

/** One attack of the cycle: which scenario, how long after the cycle starts. */
export interface CycleStep {
  scenario: string
  atMs: number
}

/**
 * The attacks of one cycle. The first three land within the first minute: stuffing (alert
 * at its 20th failure), a brute force past its critical bar (the key is revoked) and a fat
 * finger (critical: the key is kill-switched).
 */
export const DEMO_CYCLE: readonly CycleStep[] = [
  { scenario: 'auth.credential_stuffing', atMs: 3_000 },
  { scenario: 'auth.brute_force', atMs: 3_000 },
  { scenario: 'order.fat_finger', atMs: 3_000 },
  { scenario: 'ids.injection', atMs: 50_000 },
  { scenario: 'takeover', atMs: 70_000 },
  { scenario: 'access.scope_violation', atMs: 170_000 },
  { scenario: 'geo.impossible_travel', atMs: 190_000 },
  { scenario: 'access.ip_not_allowed', atMs: 200_000 },
  { scenario: 'volume.spike', atMs: 250_000 },
]

/** A cycle's length: the last attack's start plus its run, and a pause. */
export const DEMO_CYCLE_MS = 420_000

export interface LiveDemoLogger {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
}

export interface LiveDemoOptions {
  /** Trust for a Vigil served over TLS with a private certificate (its certificate as `ca`). */
  tls?: GuardTlsOptions
  vigilUrl: string
  source: string
  secret: string
  /** The shipper's overflow and dead-letter directory. */
  dataDir: string
  logger?: LiveDemoLogger
  /** @defaultValue 1 */
  seed?: number
  /** Background keys. @defaultValue 24 */
  keys?: number
  /** @defaultValue DEMO_CYCLE */
  cycle?: readonly CycleStep[]
  /** @defaultValue DEMO_CYCLE_MS */
  cycleMs?: number
  /** Where the demo API listens on 127.0.0.1. @defaultValue 0 (any free port) */
  port?: number
}

export interface LiveDemoStats {
  cycles: number
  /** Requests by refusal code (`success` for 2xx). */
  byCode: Record<string, number>
  /** Attacks started, by scenario. */
  attacks: Record<string, number>
  /** Revocations and kill-switches the guard enforced on a probe. */
  enforced: number
}

export interface LiveDemo {
  /** The demo trading API, e.g. `http://127.0.0.1:41234`. */
  readonly url: string
  readonly api: DemoApi
  stats(): LiveDemoStats
  /** Stops the traffic, then the API, delivering what the shipper holds (up to 5 s). */
  stop(): Promise<void>
}

/** The hour the background's time-of-day curves read: a busy one, whatever the clock says. */
const BUSY_HOUR_MS = Date.UTC(2026, 10, 24, 14, 0, 0)

export async function startLiveDemo(opts: LiveDemoOptions): Promise<LiveDemo> {
  const seed = opts.seed ?? 1
  const cycle = opts.cycle ?? DEMO_CYCLE
  const cycleMs = opts.cycleMs ?? DEMO_CYCLE_MS
  const log = opts.logger
  const planBackground = (round: number) => buildPlan('clean', { seed, startMs: BUSY_HOUR_MS, durationMs: cycleMs, keys: opts.keys ?? 24, source: opts.source, round })
  const first = planBackground(0)
  const probe = new EnforcementProbe()
  const { api, sink, shipper, baseUrl } = await createSimApi(first, {
    vigilUrl: opts.vigilUrl,
    source: opts.source,
    secret: opts.secret,
    dataDir: opts.dataDir,
    shipper: { flushMs: 250 },
    // High enough that the guard's own lockout does not hide Vigil's revocation: with the
    // default (10) the brute-forced key is refused locked_out for 15 minutes first.
    lockout: { maxFailures: 100 },
    listen: { port: opts.port ?? 0 },
    probe,
    ...(opts.tls ? { tls: opts.tls } : {}),
  })
  const url = baseUrl!
  const stats: LiveDemoStats = { cycles: 0, byCode: {}, attacks: {}, enforced: 0 }
  const onResult = (_r: PlannedRequest, out: SendResult) => {
    const code = out.status < 300 ? 'success' : (out.code ?? `http_${out.status}`)
    stats.byCode[code] = (stats.byCode[code] ?? 0) + 1
  }
  const stop = new AbortController()
  let reported = 0
  const reportEnforcement = () => {
    for (const e of probe.results.slice(reported)) {
      if (e.code === e.kind) stats.enforced++
      log?.info({ api_key_id: e.api_key_id, refused: e.code ?? e.status, ms_after_decision: e.refusedAtMs - Date.parse(e.decided_at) }, `demo: the guard enforced ${e.kind === 'revoked_key' ? 'a revocation' : 'a kill-switch'}`)
    }
    reported = probe.results.length
  }

  const runAttack = async (step: CycleStep, round: number): Promise<DriveResult | undefined> => {
    await sleep(step.atMs, stop.signal)
    if (stop.signal.aborted) return undefined
    const plan: Plan = buildPlan(step.scenario, { seed: seed + round, startMs: Date.now(), durationMs: 0, keys: 0, source: opts.source, keyTag: String(round + 1) })
    registerKeys(api, plan.keys)
    probe.addKeys(plan.keys)
    stats.attacks[step.scenario] = (stats.attacks[step.scenario] ?? 0) + 1
    log?.info({ scenario: step.scenario, labels: plan.labels.map((l) => `${l.rule} ${l.entity.type}:${l.entity.id}`) }, 'demo: attack started')
    return drive(api, plan, sink, { realtime: true, signal: stop.signal, baseUrl: url, onResult })
  }

  const loop = (async () => {
    for (let round = 0; !stop.signal.aborted; round++) {
      const background = round === 0 ? first : planBackground(round)
      const t0 = Date.now()
      const runs = [drive(api, background, sink, { realtime: true, signal: stop.signal, baseUrl: url, onResult }), ...cycle.map((s) => runAttack(s, round))]
      const ticker = setInterval(reportEnforcement, 1_000)
      try {
        await Promise.all(runs)
      } catch (err) {
        log?.warn({ err: err instanceof Error ? err.message : String(err) }, 'demo: traffic failed; next cycle')
      } finally {
        clearInterval(ticker)
        reportEnforcement()
      }
      stats.cycles++
      await sleep(Math.max(0, cycleMs - (Date.now() - t0)), stop.signal)
    }
  })()

  log?.info({ url, keys: first.keys.length, scenarios: cycle.map((s) => s.scenario) }, 'demo: trading API and traffic started')
  let stopping: Promise<void> | undefined
  return {
    url,
    api,
    stats: () => ({ ...stats, byCode: { ...stats.byCode }, attacks: { ...stats.attacks } }),
    stop() {
      stopping ??= (async () => {
        stop.abort()
        await loop
        await probe.settle()
        await api.close(5_000)
        await shipper?.close(5_000)
      })()
      return stopping
    },
  }
}
