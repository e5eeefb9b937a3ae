/**
 * Retention policy per table, the one definition behind the TTLs of respond's retention
 * migration and the retention part of the `audit-integrity` report.
 *
 * Defaults (issue 8): order events 5 years (MiFIR Art. 25, RTS 6 Art. 28), everything else
 * 12 months, of which 3 months hot. Two tables are kept without a TTL on purpose:
 * `audit_log` (deleting its oldest rows would break the hash chain from row 1, which
 * `verify` checks) and the change logs whose current view is derived from their oldest rows
 * (sources, tokens, control log): an expired row there would change present state. The
 * records of the controls themselves (control_versions, rule_test_runs: a row per change or
 * test run) are kept without one too: they are the market-access review's evidence.
 *
 * The hot tier (3 months) is real storage tiering: each table with `hot_days` gets the store's
 * tiered storage policy (core/src/storage-tiers.ts: on embedded chDB `vigil_tiered`, whose
 * `cold` disk is VIGIL_COLD_DIR; on a server the policy VIGIL_STORAGE_POLICY names) and a
 * `TO VOLUME 'cold'` TTL, so ClickHouse moves parts older than the hot period to the cold disk.
 * On a server without VIGIL_STORAGE_POLICY nothing is tiered and the audit-integrity report
 * says so. `applyRetentionPolicy` sets policies and TTLs at start-up, each only where the
 * table's differs (changing a TTL rewrites the table's parts), so a restart changes nothing.
 */
import type { Store } from '@vigil/core'

export interface RetentionRule {
  table: string
  /** The column the age is measured on. */
  time_column: string
  /** What the rows are, in words. */
  what: string
  /** Days kept; null = kept without limit. */
  keep_days: number | null
  /** A second, longer period for rows matching `longer_where` (order events in `events`). */
  longer?: { where: string; keep_days: number; what: string }
  /** Days kept hot (fast storage) before they may move to cold storage. */
  hot_days: number | null
  why: string
}

const YEAR5 = 5 * 365 + 1
const MONTH12 = 365
const MONTH3 = 92

export const RETENTION_POLICY: readonly RetentionRule[] = [
  {
    table: 'events',
    time_column: 'ts',
    what: 'audit events other than orders',
    keep_days: MONTH12,
    longer: { where: "startsWith(action, 'order.')", keep_days: YEAR5, what: 'order events (order.*)' },
    hot_days: MONTH3,
    why: 'MiFIR Art. 25 and RTS 6 Art. 28: order records 5 years; other events 12 months',
  },
  { table: 'alert_changes', time_column: 'changed_at', what: 'alerts and their history', keep_days: MONTH12, hot_days: MONTH3, why: 'default: 12 months' },
  { table: 'incident_changes', time_column: 'changed_at', what: 'incidents and their history', keep_days: MONTH12, hot_days: MONTH3, why: 'default: 12 months' },
  { table: 'incident_alerts', time_column: 'attached_at', what: 'alerts attached to incidents', keep_days: MONTH12, hot_days: MONTH3, why: 'default: 12 months' },
  { table: 'incident_timeline', time_column: 'at', what: 'incident timelines', keep_days: MONTH12, hot_days: MONTH3, why: 'default: 12 months' },
  { table: 'respond_steps', time_column: 'at', what: 'playbook step outcomes', keep_days: MONTH12, hot_days: MONTH3, why: 'default: 12 months' },
  { table: 'killswitch_reset_requests', time_column: 'at', what: 'four-eyes reset requests', keep_days: YEAR5, hot_days: MONTH3, why: 'kill-switch evidence (RTS 6 Art. 12) kept like order records' },
  { table: 'control_log', time_column: 'at', what: 'key revocations and kill-switch trips/resets', keep_days: null, hot_days: null, why: 'current control state is derived from every row: no TTL' },
  { table: 'audit_log', time_column: 'at', what: 'the platform audit chain', keep_days: null, hot_days: null, why: 'expiring rows would break the hash chain from its first row: no TTL' },
  { table: 'control_versions', time_column: 'loaded_at', what: 'rule and playbook versions loaded (threshold history)', keep_days: null, hot_days: null, why: 'market-access review evidence (SEC 15c3-5(e)), one row per change: no TTL' },
  { table: 'rule_test_runs', time_column: 'started_at', what: 'recorded `vigil rules test` runs', keep_days: null, hot_days: null, why: 'market-access review evidence that controls were tested, one row per run: no TTL' },
  { table: 'reports', time_column: 'created_at', what: 'compiled reports (index; files in <data>/reports)', keep_days: YEAR5, hot_days: null, why: 'reports given to regulators kept like order records' },
]

/**
 * The TTL clause a rule asks for, or null for none. With `coldVolume` (the store tiers), a rule
 * with `hot_days` also moves rows past their hot period to that volume.
 */
export function ttlClause(r: RetentionRule, coldVolume: string | null = null): string | null {
  const col = `toDateTime(${r.time_column})`
  const parts: string[] = []
  if (coldVolume !== null && r.hot_days !== null) parts.push(`${col} + INTERVAL ${r.hot_days} DAY TO VOLUME '${coldVolume}'`)
  if (r.keep_days !== null) {
    if (r.longer) {
      parts.push(`${col} + INTERVAL ${r.longer.keep_days} DAY DELETE WHERE ${r.longer.where}`, `${col} + INTERVAL ${r.keep_days} DAY DELETE WHERE NOT ${r.longer.where}`)
    } else parts.push(`${col} + INTERVAL ${r.keep_days} DAY DELETE`)
  }
  return parts.length === 0 ? null : parts.join(', ')
}

/** The cold volume rows of `r` move to on this store, or null when they stay where they are. */
export function coldVolumeFor(store: Pick<Store, 'tiering'>, r: RetentionRule): string | null {
  return r.hot_days !== null && store.tiering.policy !== null ? store.tiering.coldVolume : null
}

/** The TTL clause of a table as `system.tables.engine_full` shows it, or null. */
export function ttlOf(engineFull: string): string | null {
  return /\bTTL\s+(.*?)(?:\s+SETTINGS\s|$)/s.exec(engineFull)?.[1]?.trim() ?? null
}

/**
 * ClickHouse prints a TTL back normalised (toIntervalDay(n), DELETE dropped as the default,
 * spacing): compare on what matters.
 */
export function sameTtl(stored: string | null, expected: string | null): boolean {
  if (stored === null || expected === null) return stored === expected
  const norm = (s: string) =>
    s
      .replace(/toIntervalDay\((\d+)\)/g, 'INTERVAL $1 DAY')
      .replace(/\bDELETE\b/g, '')
      .replace(/[\s`()]+/g, '')
      .toLowerCase()
  return norm(stored) === norm(expected)
}

export interface RetentionChange {
  table: string
  outcome: 'set' | 'unchanged' | 'absent' | 'kept without TTL'
  ttl: string | null
  /** The storage policy now in force (system.tables), null when the table is absent. */
  storage_policy: string | null
  /** True when this run changed the table's storage policy. */
  policy_set: boolean
}

/**
 * Sets each table's storage policy and TTL to the policy's where they differ; tables kept
 * without limit (and without a hot period) are left alone.
 */
export async function applyRetentionPolicy(store: Store, policy: readonly RetentionRule[] = RETENTION_POLICY): Promise<RetentionChange[]> {
  const rows = await store.query<{ name: string; engine_full: string; storage_policy: string }>(
    'SELECT name, engine_full, storage_policy FROM system.tables WHERE database = currentDatabase() AND name IN {names:Array(String)}',
    { names: policy.map((r) => r.table) },
  )
  const tables = new Map(rows.map((r) => [r.name, r]))
  const out: RetentionChange[] = []
  for (const rule of policy) {
    const table = tables.get(rule.table)
    if (table === undefined) {
      out.push({ table: rule.table, outcome: 'absent', ttl: null, storage_policy: null, policy_set: false })
      continue
    }
    const cold = coldVolumeFor(store, rule)
    let storagePolicy = table.storage_policy
    let policySet = false
    // Before the TTL: `TO VOLUME 'cold'` needs the volume in the table's policy.
    if (cold !== null && store.tiering.policy !== null && storagePolicy !== store.tiering.policy) {
      // The name is Vigil's own or VIGIL_STORAGE_POLICY's, which config.ts checks is an identifier.
      await store.command(`ALTER TABLE ${rule.table} MODIFY SETTING storage_policy = '${store.tiering.policy}'`)
      storagePolicy = store.tiering.policy
      policySet = true
    }
    const expected = ttlClause(rule, cold)
    const base = { table: rule.table, storage_policy: storagePolicy, policy_set: policySet }
    if (expected === null) out.push({ ...base, outcome: 'kept without TTL', ttl: ttlOf(table.engine_full) })
    else if (sameTtl(ttlOf(table.engine_full), expected)) out.push({ ...base, outcome: 'unchanged', ttl: expected })
    else {
      await store.command(`ALTER TABLE ${rule.table} MODIFY TTL ${expected}`)
      out.push({ ...base, outcome: 'set', ttl: expected })
    }
  }
  return out
}
