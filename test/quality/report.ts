/**
 * Scoring and the report of `npm run quality` (scenarios.ts runs them): each scenario's
 * alerts against its labels, per-rule recall, false alerts, latencies, enforcement.
 * Pure functions of what a run collected, so the report can be checked without a Vigil.
 */
import type { Enforcement, Plan } from '@vigil/demo'

/** An alert as `GET /v1/alerts` answers it (the fields scored). */
export interface RunAlert {
  id: string
  rule: string
  severity: string
  entity: { type: string; id: string }
  api_key_id: string | null
  detected_at: string
  event_received_at: string | null
  summary: string
}

/** What one scenario run collected. */
export interface ScenarioRun {
  plan: Pick<Plan, 'scenario' | 'labels' | 'mayAlsoRaise' | 'requests' | 'keys' | 'durationMs'>
  alerts: RunAlert[]
  enforcement: Enforcement[]
  /** Requests sent, by refusal code (`success` for 2xx). */
  byCode: Record<string, number>
  /** Wall time of the run, ms (start of Vigil to the last alert poll). */
  wallMs: number
  /** The source id the run shipped as (clock.skew's entity). */
  source: string
}

export type AlertClass = 'label' | 'expected' | 'wrong_rule' | 'false_clean' | 'unattributed'

export interface ScoredAlert {
  alert: RunAlert
  class: AlertClass
  /** detected_at − event_received_at, ms (null when the alert names no event). */
  latencyMs: number | null
}

export interface EnforcementScore {
  kind: Enforcement['kind']
  api_key_id: string
  /** The probe's refusal code (`revoked_key` / `kill_switch` when enforced). */
  code: string
  enforced: boolean
  /** The rule of the alert on that key that led to it. */
  rule: string | undefined
  /** The alert's detected_at → the guard's refusal at the demo API, ms. */
  alertToRefusalMs: number | undefined
  /** Vigil's decision (revoked_at / tripped_at) → the refusal, ms. */
  decisionToRefusalMs: number
}

export interface ScenarioScore {
  scenario: string
  labels: Array<{ rule: string; entity: string; detected: boolean; latencyMs: number | null }>
  alerts: ScoredAlert[]
  enforcement: EnforcementScore[]
  sent: number
  byCode: Record<string, number>
  wallMs: number
}

const net24 = (ip: string) => (/^\d+\.\d+\.\d+\.\d+$/.test(ip) ? `${ip.split('.').slice(0, 3).join('.')}.0/24` : ip)

const ms = (iso: string | null | undefined) => (iso ? Date.parse(iso) : NaN)

/** Classifies every alert of a run and finds each label's alert. */
export function scoreScenario(run: ScenarioRun): ScenarioScore {
  const { plan } = run
  const keyById = new Map(plan.keys.map((k) => [k.id, k]))
  const entitiesOf = (tagged: (tag: string) => boolean) => {
    const out = new Set<string>()
    for (const r of plan.requests) {
      if (!tagged(r.tag)) continue
      const k = keyById.get(r.keyId)
      out.add(r.keyId)
      out.add(r.ip)
      out.add(net24(r.ip))
      if (k) {
        out.add(k.user_id)
        out.add(k.account_id)
      }
    }
    return out
  }
  const attack = entitiesOf((t) => t !== 'clean')
  for (const l of plan.labels) attack.add(l.entity.id)
  const clean = entitiesOf((t) => t === 'clean')
  const labelled = new Set(plan.labels.map((l) => l.rule))
  const expected = new Set(plan.mayAlsoRaise)
  const isLabel = (a: RunAlert) => plan.labels.some((l) => l.rule === a.rule && l.entity.type === a.entity.type && l.entity.id === a.entity.id)

  const alerts: ScoredAlert[] = run.alerts.map((alert) => {
    const latency = ms(alert.detected_at) - ms(alert.event_received_at)
    const latencyMs = Number.isFinite(latency) ? latency : null
    let cls: AlertClass
    if (isLabel(alert)) cls = 'label'
    else if (attack.has(alert.entity.id)) cls = labelled.has(alert.rule) || expected.has(alert.rule) ? 'expected' : 'wrong_rule'
    else if (clean.has(alert.entity.id) || alert.entity.id === run.source) cls = 'false_clean'
    else cls = 'unattributed'
    return { alert, class: cls, latencyMs }
  })

  const labels = plan.labels.map((l) => {
    const hits = alerts.filter((s) => s.class === 'label' && s.alert.rule === l.rule && s.alert.entity.type === l.entity.type && s.alert.entity.id === l.entity.id)
    const first = hits.sort((a, b) => ms(a.alert.detected_at) - ms(b.alert.detected_at))[0]
    return { rule: l.rule, entity: `${l.entity.type}:${l.entity.id}`, detected: first !== undefined, latencyMs: first?.latencyMs ?? null }
  })

  const enforcement = run.enforcement.map((e): EnforcementScore => {
    const cause = run.alerts
      .filter((a) => a.api_key_id === e.api_key_id || a.entity.id === e.api_key_id)
      .sort((a, b) => ms(a.detected_at) - ms(b.detected_at))
      .find((a) => ms(a.detected_at) <= e.refusedAtMs)
    return {
      kind: e.kind,
      api_key_id: e.api_key_id,
      code: e.code ?? `http_${e.status}`,
      enforced: e.code === e.kind,
      rule: cause?.rule,
      alertToRefusalMs: cause ? e.refusedAtMs - ms(cause.detected_at) : undefined,
      decisionToRefusalMs: e.refusedAtMs - ms(e.decided_at),
    }
  })

  const sent = Object.values(run.byCode).reduce((a, b) => a + b, 0)
  return { scenario: plan.scenario, labels, alerts, enforcement, sent, byCode: run.byCode, wallMs: run.wallMs }
}

/** The p-th percentile (nearest rank) of `xs`, or undefined for none. */
export function percentile(xs: readonly number[], p: number): number | undefined {
  if (xs.length === 0) return undefined
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

const fmtMs = (v: number | undefined | null) => (v === undefined || v === null ? '–' : v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`)

export interface ReportMeta {
  /** When the run ended, RFC 3339. */
  when: string
  machine: string
  command: string
  seed: number
  backgroundMs: number
  keys: number
  /** Every rule id there is (CONTRACT §5), so a rule no scenario raised still shows. */
  rules: readonly string[]
}

/** The markdown section `npm run quality` writes into docs/detection-quality.md. */
export function renderReport(scores: readonly ScenarioScore[], meta: ReportMeta): string {
  const perRule = new Map<string, { injected: number; detected: number; latencies: number[]; wrong: number }>()
  for (const r of meta.rules) perRule.set(r, { injected: 0, detected: 0, latencies: [], wrong: 0 })
  const ruleRow = (r: string) => perRule.get(r) ?? perRule.set(r, { injected: 0, detected: 0, latencies: [], wrong: 0 }).get(r)!
  for (const s of scores) {
    for (const l of s.labels) {
      const row = ruleRow(l.rule)
      row.injected++
      if (l.detected) row.detected++
      if (l.detected && l.latencyMs !== null) row.latencies.push(l.latencyMs)
    }
    for (const a of s.alerts) if (a.class === 'wrong_rule' || a.class === 'false_clean' || a.class === 'unattributed') ruleRow(a.alert.rule).wrong++
  }
  const injected = scores.reduce((n, s) => n + s.labels.length, 0)
  const detected = scores.reduce((n, s) => n + s.labels.filter((l) => l.detected).length, 0)
  const falseClean = scores.flatMap((s) => s.alerts.filter((a) => a.class === 'false_clean' || a.class === 'unattributed').map((a) => ({ s, a })))
  const wrongRule = scores.flatMap((s) => s.alerts.filter((a) => a.class === 'wrong_rule').map((a) => ({ s, a })))
  const enforcement = scores.flatMap((s) => s.enforcement.map((e) => ({ s, e })))
  const describe = (a: ScoredAlert) => `\`${a.alert.rule}\` ${a.alert.severity} on ${a.alert.entity.type}:${a.alert.entity.id} — ${a.alert.summary.replace(/\|/g, '\\|')}`

  const lines: string[] = []
  lines.push(`## Labelled scenarios against a fresh \`vigil up\`: \`${meta.command}\``)
  lines.push('')
  lines.push(`Last run ${meta.when.slice(0, 16).replace('T', ' ')} UTC on ${meta.machine}; seed ${meta.seed}.`)
  lines.push(
    `Each scenario (test/sim/README.md) ran on its own fresh \`vigil up\` (built CLI, new data dir, private Redis): the demo trading API behind \`@vigil/guard\` listened on loopback and shipped its events to Vigil in signed batches, the simulator sent every request over HTTP through the guard, with ${meta.keys} clean background keys for at least ${Math.round(meta.backgroundMs / 1000)} s. Then it waited for the labels (up to 45 s after the last request) and a few seconds more.`,
  )
  lines.push('')
  lines.push(`**Recall: ${detected} of ${injected} labelled attacks detected. False alerts on clean traffic: ${falseClean.length}. Alerts of another rule on attack entities: ${wrongRule.length}.**`)
  lines.push('')
  lines.push('### Per rule')
  lines.push('')
  lines.push('Event-to-alert latency is the alert\'s `detected_at` − `received_at` of the event that raised it (both Vigil\'s clock). n is small: p99 is close to the maximum.')
  lines.push('')
  lines.push('| rule | recall | event → alert p50 | p99 | n | false or wrong-rule alerts of this rule |')
  lines.push('|---|---|---|---|---|---|')
  for (const [rule, r] of [...perRule].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`| \`${rule}\` | ${r.injected ? `${r.detected}/${r.injected}` : '–'} | ${fmtMs(percentile(r.latencies, 50))} | ${fmtMs(percentile(r.latencies, 99))} | ${r.latencies.length} | ${r.wrong} |`)
  }
  lines.push('')
  lines.push('### Per scenario')
  lines.push('')
  lines.push('| scenario | requests | labels detected | other alerts on the attack (allowed) | wrong rule | false on clean | wall time |')
  lines.push('|---|---|---|---|---|---|---|')
  for (const s of scores) {
    const hit = s.labels.filter((l) => l.detected).length
    const count = (c: AlertClass) => s.alerts.filter((a) => a.class === c).length
    const missed = s.labels.filter((l) => !l.detected).map((l) => `missed ${l.rule} ${l.entity}`)
    lines.push(
      `| \`${s.scenario}\` | ${s.sent} | ${s.labels.length ? `${hit}/${s.labels.length}` : '–'}${missed.length ? ` (${missed.join('; ')})` : ''} | ${count('expected')} | ${count('wrong_rule')} | ${count('false_clean') + count('unattributed')} | ${Math.round(s.wallMs / 1000)} s |`,
    )
  }
  lines.push('')
  lines.push('### Event to enforcement')
  lines.push('')
  lines.push(
    'Measured at the demo API: when its control client applies a revocation or kill-switch on a key it serves, the key\'s owner sends its next request at once (a correctly signed read, or a small limit order) and the guard\'s answer is timed. "alert → refused" starts at the `detected_at` of the earliest alert on that key (for a brute force that is the first, high alert; the revocation waits for the critical escalation at 40 failures); "decision → refused" starts at Vigil\'s `revoked_at` / `tripped_at`.',
  )
  lines.push('')
  if (enforcement.length === 0) lines.push('No revocation or kill-switch reached the demo API in this run.')
  else {
    lines.push('| scenario | decision | key | guard answered | alerting rule | alert → refused | decision → refused |')
    lines.push('|---|---|---|---|---|---|---|')
    for (const { s, e } of enforcement) {
      lines.push(`| \`${s.scenario}\` | ${e.kind === 'revoked_key' ? 'revocation' : 'kill-switch'} | ${e.api_key_id} | ${e.enforced ? '' : '**'}${e.code}${e.enforced ? '' : '**'} | ${e.rule ? `\`${e.rule}\`` : '–'} | ${fmtMs(e.alertToRefusalMs)} | ${fmtMs(e.decisionToRefusalMs)} |`)
    }
  }
  lines.push('')
  lines.push('### Alerts that were not the label')
  lines.push('')
  if (falseClean.length === 0 && wrongRule.length === 0) lines.push('None.')
  for (const { s, a } of falseClean) lines.push(`- false, \`${s.scenario}\`: ${describe(a)}`)
  for (const { s, a } of wrongRule) lines.push(`- wrong rule, \`${s.scenario}\`: ${describe(a)}`)
  return lines.join('\n')
}
