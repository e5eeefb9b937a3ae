/**
 * Rules switched on or off at runtime (`POST /v1/rules/:id/enabled`), kept as an append-only
 * log in `rule_changes` (migration 008). A rule's state is its newest change; a rule never
 * switched is as its file says.
 *
 * Relied on by: every detection engine process (engine.ts reads `latest()` once a tick, which
 * goes to storage at most once per `maxAgeMs`, so a switch made in one process reaches the
 * others within about a second) and the rules routes (rules-routes.ts). Backtests do not read
 * it: `vigil detect backtest` replays the rules as their files say.
 */
import type { Store } from '@vigil/core'
import { chToIso } from './alerts.js'

/** One switch of a rule, as recorded. */
export interface RuleChange {
  rule: string
  enabled: boolean
  reason: string
  actor: string
  /** RFC 3339 UTC. */
  at: string
}

/** What the engine needs: the newest change of each rule that has one. */
export interface RuleStateSource {
  latest(): Promise<ReadonlyMap<string, Pick<RuleChange, 'enabled'>>>
}

export interface RuleStatesOptions {
  /** How old the remembered state may be before `latest()` reads storage again. @defaultValue `1000` */
  maxAgeMs?: number
}

const LATEST_SQL = `
SELECT rule, argMax(enabled, at) AS e, argMax(reason, at) AS r, argMax(actor, at) AS a, toString(max(at)) AS t
FROM rule_changes GROUP BY rule`

/** The effective state of a rule given the changes: the newest change, else the file. */
export function effectiveEnabled(rule: { id: string; enabled: boolean }, changes: ReadonlyMap<string, Pick<RuleChange, 'enabled'>>): boolean {
  return changes.get(rule.id)?.enabled ?? rule.enabled
}

export class RuleStates implements RuleStateSource {
  readonly #store: Store
  readonly #maxAgeMs: number
  #cached: { atMs: number; changes: ReadonlyMap<string, RuleChange> } | undefined
  #reading: Promise<ReadonlyMap<string, RuleChange>> | undefined

  constructor(store: Store, opts: RuleStatesOptions = {}) {
    this.#store = store
    this.#maxAgeMs = opts.maxAgeMs ?? 1000
  }

  /** The newest change of each rule; from memory when read less than `maxAgeMs` ago. */
  async latest(): Promise<ReadonlyMap<string, RuleChange>> {
    const c = this.#cached
    if (c && Date.now() - c.atMs < this.#maxAgeMs) return c.changes
    return this.fresh()
  }

  /** The newest change of each rule, read from storage now (concurrent callers share one read). */
  async fresh(): Promise<ReadonlyMap<string, RuleChange>> {
    this.#reading ??= (async () => {
      try {
        const startedMs = Date.now()
        const rows = await this.#store.query<{ rule: string; e: number | string; r: string; a: string; t: string }>(LATEST_SQL)
        const changes = new Map(rows.map((row) => [row.rule, { rule: row.rule, enabled: Number(row.e) === 1, reason: row.r, actor: row.a, at: chToIso(row.t) }]))
        this.#cached = { atMs: startedMs, changes }
        return changes
      } finally {
        this.#reading = undefined
      }
    })()
    return this.#reading
  }

  /** Appends a switch and returns it as stored. */
  async record(change: Omit<RuleChange, 'at'>): Promise<RuleChange> {
    await this.#store.insertNdjson(
      'rule_changes',
      ['rule', 'enabled', 'reason', 'actor'],
      JSON.stringify({ rule: change.rule, enabled: change.enabled ? 1 : 0, reason: change.reason, actor: change.actor }) + '\n',
    )
    const stored = (await this.fresh()).get(change.rule)
    return stored ?? { ...change, at: new Date().toISOString() }
  }
}
