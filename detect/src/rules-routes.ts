/**
 * `/v1/rules`: every loaded detection rule with how often it fired, and switching a rule on or
 * off at runtime. The dashboard's Rules page reads these; routes declare their permission and
 * the server enforces it (`alerts:read` to list, `rules:admin`, admins only, to switch).
 *
 * What the numbers mean (all from `alert_changes`, in two grouped queries whatever the number
 * of rules):
 * - `fires_per_day`: alerts the rule opened, by the UTC day of their `first_seen` (event time),
 *   for the last 14 days, oldest first, days without one included as 0;
 * - `fires_total`: every alert the rule ever opened; `last_fired`: the newest `last_seen` of
 *   its alerts (a repeat counts as firing), null when it never fired;
 * - `false_positive_marks`: its alerts that were ever marked `false_positive`;
 * - `open_alerts`: its alerts now `open` or `acknowledged`.
 *
 * A switch is appended to `rule_changes` (rule-states.ts) and to the audit chain through the
 * `audit` function the server passes in (detect does not know the response side).
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { VigilError, type Store } from '@vigil/core'
import { chToIso } from './alerts.js'
import type { Rule } from './rules.js'
import { effectiveEnabled, type RuleChange, type RuleStates } from './rule-states.js'

export const RULE_FIRES_DAYS = 14
const DAY_MS = 86_400_000
const MAX_REASON = 1000

/** One rule as `GET /v1/rules` lists it. */
export interface RuleSummary {
  id: string
  title: string
  description: string
  /** The id's first part: `auth`, `geo`, `order`, … */
  area: string
  severity: string
  /** Whether the engine runs it now: its newest switch, else its file. */
  enabled: boolean
  /** The newest runtime switch, null when it was never switched (the file decides). */
  last_change: RuleChange | null
  triage: string
  false_positives: string[]
  modified: string
  fires_per_day: Array<{ day: string; count: number }>
  fires_total: number
  last_fired: string | null
  false_positive_marks: number
  open_alerts: number
}

/** Appends one entry to the platform's audit chain (the response side's, injected by the server). */
export type RuleAudit = (entry: { actor: string; action: string; subject: string; detail: Record<string, unknown> }) => Promise<unknown>

export interface RulesRoutesDeps {
  store: Store
  rules: readonly Rule[]
  states: RuleStates
  audit: RuleAudit
  /** @defaultValue `Date.now` */
  now?: () => number
}

interface FireStats {
  perDay: Map<string, number>
  total: number
  lastFired: string | null
  falsePositives: number
  open: number
}

const dayText = (ms: number) => new Date(ms).toISOString().slice(0, 10)

/** Per rule: alerts opened per day since `sinceDay`, and the totals. Two queries for all rules. */
export async function ruleFireStats(store: Store, sinceDay: string): Promise<Map<string, FireStats>> {
  const daily = await store.query<{ rule: string; day: string; n: string }>(
    `SELECT rule, toString(toDate(first_seen)) AS day, toString(uniqExact(id)) AS n
     FROM alert_changes WHERE change = 'open' AND first_seen >= toDateTime64({since:String}, 6, 'UTC')
     GROUP BY rule, day`,
    { since: `${sinceDay} 00:00:00` },
  )
  const totals = await store.query<{ rule: string; total: string; last: string; fp: string; open: string }>(
    `SELECT r AS rule, toString(count()) AS total, toString(max(ls)) AS last, toString(countIf(fp)) AS fp, toString(countIf(st IN ('open', 'acknowledged'))) AS open
     FROM (
       SELECT id, argMax(rule, version) AS r, max(last_seen) AS ls, argMax(status, version) AS st,
         countIf(change = 'status' AND status = 'false_positive') > 0 AS fp
       FROM alert_changes GROUP BY id
     )
     GROUP BY r`,
  )
  const out = new Map<string, FireStats>()
  const of = (rule: string) => {
    let s = out.get(rule)
    if (!s) out.set(rule, (s = { perDay: new Map(), total: 0, lastFired: null, falsePositives: 0, open: 0 }))
    return s
  }
  for (const r of daily) of(r.rule).perDay.set(r.day, Number(r.n))
  for (const r of totals) {
    const s = of(r.rule)
    s.total = Number(r.total)
    s.lastFired = chToIso(r.last)
    s.falsePositives = Number(r.fp)
    s.open = Number(r.open)
  }
  return out
}

function summarize(rule: Rule, stats: FireStats | undefined, change: RuleChange | undefined, days: readonly string[]): RuleSummary {
  return {
    id: rule.id,
    title: rule.name,
    description: rule.description,
    area: rule.id.split('.')[0] as string,
    severity: rule.severity,
    enabled: change?.enabled ?? rule.enabled,
    last_change: change ?? null,
    triage: rule.triage,
    false_positives: [...rule.false_positives],
    modified: rule.modified,
    fires_per_day: days.map((day) => ({ day, count: stats?.perDay.get(day) ?? 0 })),
    fires_total: stats?.total ?? 0,
    last_fired: stats?.lastFired ?? null,
    false_positive_marks: stats?.falsePositives ?? 0,
    open_alerts: stats?.open ?? 0,
  }
}

/** Every rule (`only`: just that one) as listed, sorted by id. */
export async function summarizeRules(deps: Pick<RulesRoutesDeps, 'store' | 'rules' | 'states' | 'now'>, only?: string, changes?: ReadonlyMap<string, RuleChange>): Promise<RuleSummary[]> {
  const nowMs = (deps.now ?? Date.now)()
  const today = Math.floor(nowMs / DAY_MS) * DAY_MS
  const days = Array.from({ length: RULE_FIRES_DAYS }, (_, i) => dayText(today - (RULE_FIRES_DAYS - 1 - i) * DAY_MS))
  const [stats, latest] = await Promise.all([ruleFireStats(deps.store, days[0] as string), changes ?? deps.states.fresh()])
  return deps.rules
    .filter((r) => only === undefined || r.id === only)
    .map((r) => summarize(r, stats.get(r.id), latest.get(r.id), days))
    .sort((a, b) => a.id.localeCompare(b.id))
}

function operatorActor(req: FastifyRequest): string {
  const op = (req as FastifyRequest & { operator?: { id?: unknown } | null }).operator
  if (!op || typeof op.id !== 'string' || op.id === '') throw new VigilError('VIGIL_ERR_AUTH_REQUIRED')
  return `operator:${op.id}`
}

const badChange = (detail: string) => new VigilError('VIGIL_ERR_RULE_BAD_CHANGE', detail)

/** `{enabled: boolean, reason: 1-1000 characters}` and nothing else. */
function readChange(raw: unknown): { enabled: boolean; reason: string } {
  const shape = 'body must be {"enabled": true|false, "reason": "…"}'
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw badChange(shape)
  for (const k of Object.keys(raw)) if (k !== 'enabled' && k !== 'reason') throw badChange(`unknown field "${k.slice(0, 32)}"; ${shape}`)
  const { enabled, reason } = raw as { enabled?: unknown; reason?: unknown }
  if (typeof enabled !== 'boolean') throw badChange('enabled must be true or false')
  if (typeof reason !== 'string' || reason.trim().length === 0 || reason.length > MAX_REASON) throw badChange(`reason must be 1-${MAX_REASON} characters`)
  return { enabled, reason }
}

/**
 * Switches rule `id` on or off: `change` must be `{enabled, reason}`. Audited first (a switch
 * that is not in the chain must not take effect), then appended to `rule_changes`. Answers
 * the rule as listed. Used by the route and by `vigil rules enable|disable`.
 */
export async function switchRule(deps: RulesRoutesDeps, id: string, change: unknown, actor: string): Promise<RuleSummary> {
  const rule = deps.rules.find((r) => r.id === id)
  if (!rule) throw new VigilError('VIGIL_ERR_RULE_NOT_FOUND', id.slice(0, 128))
  const { enabled, reason } = readChange(change)
  const before = await deps.states.fresh()
  if (effectiveEnabled(rule, before) === enabled) throw new VigilError('VIGIL_ERR_RULE_UNCHANGED', `${id} is already ${enabled ? 'enabled' : 'disabled'}`)
  await deps.audit({ actor, action: enabled ? 'rule.enable' : 'rule.disable', subject: id, detail: { reason } })
  await deps.states.record({ rule: id, enabled, reason, actor })
  const [summary] = await summarizeRules(deps, id)
  return summary as RuleSummary
}

export function rulesRoutes(deps: RulesRoutesDeps): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/rules', { config: { permission: 'alerts:read' } }, async (req) => {
      const q = req.query as Record<string, unknown> | undefined
      for (const k of Object.keys(q ?? {})) throw new VigilError('VIGIL_ERR_API_BAD_REQUEST', `unknown parameter "${k.slice(0, 32)}"`)
      return { items: await summarizeRules(deps), next: null }
    })

    app.post('/v1/rules/:id/enabled', { config: { permission: 'rules:admin' } }, async (req) => {
      const { id } = req.params as { id: string }
      const actor = operatorActor(req)
      const rule = await switchRule(deps, id, req.body, actor)
      req.log.info({ rule: id, enabled: rule.enabled, operator: actor }, 'rule switched')
      return rule
    })
  }
}
