/**
 * `audit-integrity` (PCI DSS 10, SOC 2 CC7): is the record trustworthy and complete?
 * - The audit chain verified end to end now (`audit_log`, respond/src/audit-log.ts): rows,
 *   head, every break found.
 * - Coverage of the event types PCI DSS 10.2.1 requires, counted in the period from the
 *   trading APIs' events and from Vigil's own audit chain; requirements Vigil does not
 *   record are named as such.
 * - Retention per table against the policy (retention.ts): the TTL ClickHouse has for the
 *   table, and the oldest row still held, as of the period's end; and the hot tier: the
 *   storage policy in force and the parts and bytes on each disk (`system.parts`), or why the
 *   table is not tiered.
 */
import type { ReportBody, ReportContext, ReportQuery } from './report.js'
import { coldVolumeFor, RETENTION_POLICY, sameTtl, ttlClause, ttlOf } from './retention.js'
import { chToIsoExact, periodParams, sqlText } from './sql-time.js'
import type { AuditVerification } from '../seams.js'

export interface CoverageRow {
  requirement: string
  what: string
  events: number | null
  audit_entries: number | null
  status: 'seen' | 'none in period' | 'not recorded'
}

export interface RetentionRow {
  table: string
  what: string
  policy: string
  expected_ttl: string | null
  ttl_in_store: string | null
  oldest_row: string | null
  status: 'as policy' | 'no TTL (kept by policy)' | 'TTL missing' | 'TTL differs' | 'table absent'
  /** Days kept hot before parts move to the cold volume; null = no hot period in the policy. */
  hot_days: number | null
  /** The table's storage policy in the store (system.tables), null when absent. */
  storage_policy: string | null
  /** Where the table's rows are: `tiered: …` with the volume parts move to, or `not tiered: <why>`. */
  tiering: string
  /** Active parts and their bytes per disk (system.parts). */
  disks: Array<{ disk: string; parts: number; bytes: number }>
}

export interface AuditIntegrityData {
  chain: (AuditVerification & { verified: true }) | { verified: false; why: string }
  coverage: CoverageRow[]
  retention: RetentionRow[]
}

const EVENT_COVERAGE = `
SELECT
  countIf(action = 'auth.login' AND outcome = 'success') AS user_access,
  countIf(action = 'admin.config_change') AS admin_actions,
  countIf((startsWith(action, 'auth.') OR reason IN ('bad_signature', 'unknown_key', 'expired_key', 'revoked_key', 'ip_not_allowed', 'scope_denied')) AND outcome IN ('failure', 'denied')) AS invalid_access,
  countIf(action IN ('key.create', 'key.rotate', 'key.revoke', 'key.scope_change', 'key.ip_allowlist_change')) AS credential_changes
FROM events FINAL
WHERE ts >= toDateTime64({from:String}, 9, 'UTC') AND ts < toDateTime64({to:String}, 9, 'UTC')`

const AUDIT_COVERAGE = `
SELECT
  countIf(action IN ('token.create', 'token.revoke', 'source.add', 'source.rotate', 'respond.dlq_retry', 'incident.status', 'approval.decide', 'killswitch.trip', 'killswitch.reset', 'killswitch.reset_request', 'report.compile')) AS admin_actions,
  countIf(action IN ('key.revoke', 'key.restore', 'token.create', 'token.revoke', 'source.add', 'source.rotate')) AS credential_changes
FROM audit_log
WHERE at >= toDateTime64({from:String}, 6, 'UTC') AND at < toDateTime64({to:String}, 6, 'UTC')`

const TABLES = `
SELECT name, engine_full, storage_policy FROM system.tables WHERE database = currentDatabase() AND name IN {names:Array(String)}`

const PARTS = `
SELECT table, disk_name, count() AS parts, sum(bytes_on_disk) AS bytes FROM system.parts
WHERE database = currentDatabase() AND active AND table IN {names:Array(String)}
GROUP BY table, disk_name ORDER BY table, disk_name`

const oldestSql = (table: string, column: string) => `SELECT toString(min(${column})) AS oldest, count() AS n FROM ${table}`

export async function auditIntegrity(ctx: ReportContext): Promise<ReportBody<AuditIntegrityData>> {
  const { store, audit } = ctx.deps
  let chain: AuditIntegrityData['chain']
  if (!audit) chain = { verified: false, why: 'the audit chain was not available to this compilation (its head is kept in Redis)' }
  else chain = { ...(await audit.verify()), verified: true }

  const p = periodParams(ctx.period)
  const [ev] = await store.query<Record<string, string>>(EVENT_COVERAGE, p)
  const [au] = await store.query<Record<string, string>>(AUDIT_COVERAGE, p)
  const n = (row: Record<string, string> | undefined, k: string) => Number(row?.[k] ?? 0)
  const status = (...counts: Array<number | null>): CoverageRow['status'] => (counts.some((c) => c !== null && c > 0) ? 'seen' : 'none in period')
  const coverage: CoverageRow[] = [
    { requirement: 'PCI DSS 10.2.1.1', what: 'individual user access (successful logins)', events: n(ev, 'user_access'), audit_entries: null, status: status(n(ev, 'user_access')) },
    { requirement: 'PCI DSS 10.2.1.2', what: 'administrative actions', events: n(ev, 'admin_actions'), audit_entries: n(au, 'admin_actions'), status: status(n(ev, 'admin_actions'), n(au, 'admin_actions')) },
    { requirement: 'PCI DSS 10.2.1.3', what: 'access to audit logs', events: null, audit_entries: null, status: 'not recorded' },
    { requirement: 'PCI DSS 10.2.1.4', what: 'invalid logical access attempts', events: n(ev, 'invalid_access'), audit_entries: null, status: status(n(ev, 'invalid_access')) },
    {
      requirement: 'PCI DSS 10.2.1.5',
      what: 'changes to identification and authentication credentials',
      events: n(ev, 'credential_changes'),
      audit_entries: n(au, 'credential_changes'),
      status: status(n(ev, 'credential_changes'), n(au, 'credential_changes')),
    },
    { requirement: 'PCI DSS 10.2.1.6', what: 'initialisation, stopping or pausing of the audit logs', events: null, audit_entries: null, status: 'not recorded' },
    { requirement: 'PCI DSS 10.2.1.7', what: 'creation and deletion of system-level objects', events: null, audit_entries: null, status: 'not recorded' },
  ]

  const names = RETENTION_POLICY.map((r) => r.table)
  const tables = new Map((await store.query<{ name: string; engine_full: string; storage_policy: string }>(TABLES, { names })).map((t) => [t.name, t]))
  const partRows = await store.query<{ table: string; disk_name: string; parts: string; bytes: string }>(PARTS, { names })
  const tiering = store.tiering
  const retention: RetentionRow[] = []
  const oldestQueries: ReportQuery[] = []
  for (const rule of RETENTION_POLICY) {
    const table = tables.get(rule.table)
    const cold = coldVolumeFor(store, rule)
    const expected = ttlClause(rule, cold)
    const policy =
      rule.keep_days === null
        ? `kept without limit (${rule.why})`
        : `${rule.longer ? `${rule.longer.what}: ${rule.longer.keep_days} days; ${rule.what}: ` : ''}${rule.keep_days} days${rule.hot_days ? `, ${rule.hot_days} hot` : ''} (${rule.why})`
    const disks = partRows.filter((p) => p.table === rule.table).map((p) => ({ disk: p.disk_name, parts: Number(p.parts), bytes: Number(p.bytes) }))
    const tier = (storagePolicy: string | null, ttl: string | null): string => {
      if (rule.hot_days === null) return 'not tiered: no hot period in the policy'
      if (tiering.policy === null) return `not tiered: ${tiering.why}`
      if (storagePolicy !== tiering.policy) return `not tiered: storage policy is ${storagePolicy ?? 'none'}, not ${tiering.policy} (set at the next start)`
      if (ttl === null || !sameTtl(ttl, expected)) return `not tiered: the TTL has no move to volume ${tiering.coldVolume} yet (set at the next start)`
      return `tiered: ${rule.hot_days} days on volume default, then volume ${tiering.coldVolume} (policy ${tiering.policy})`
    }
    if (table === undefined) {
      retention.push({ table: rule.table, what: rule.what, policy, expected_ttl: expected, ttl_in_store: null, oldest_row: null, status: 'table absent', hot_days: rule.hot_days, storage_policy: null, tiering: 'not tiered: table absent', disks })
      continue
    }
    const ttl = ttlOf(table.engine_full)
    const sql = oldestSql(rule.table, rule.time_column)
    oldestQueries.push({ name: `oldest row of ${rule.table}`, sql })
    const [o] = await store.query<{ oldest: string; n: string }>(sql)
    const oldest = o && Number(o.n) > 0 ? chToIsoExact(o.oldest) : null
    const st: RetentionRow['status'] = expected === null ? 'no TTL (kept by policy)' : ttl === null ? 'TTL missing' : sameTtl(ttl, expected) ? 'as policy' : 'TTL differs'
    retention.push({
      table: rule.table,
      what: rule.what,
      policy,
      expected_ttl: expected,
      ttl_in_store: ttl,
      oldest_row: oldest,
      status: st,
      hot_days: rule.hot_days,
      storage_policy: table.storage_policy,
      tiering: tier(table.storage_policy, ttl),
      disks,
    })
  }
  const diskText = (d: RetentionRow['disks']) => (d.length === 0 ? 'no parts' : d.map((x) => `${x.disk}: ${x.parts} parts, ${x.bytes} bytes`).join('; '))
  const tierText =
    tiering.policy === null
      ? `The hot tier is not in force: ${tiering.why}. Every part stays on the default disk.`
      : `The hot tier is in force with storage policy ${tiering.policy}${tiering.source === 'embedded' ? ' (embedded chDB: volume default on the data dir, volume cold on VIGIL_COLD_DIR)' : ' (VIGIL_STORAGE_POLICY)'}: ClickHouse moves parts whose rows are past the hot period to volume ${tiering.coldVolume} in the background.`

  const chainFacts: Array<[string, string | number | boolean | null]> = chain.verified
    ? [
        ['Verified', chain.ok ? 'yes: no break found' : `NO: ${chain.problems.length} problem(s)`],
        ['Rows walked', chain.rows],
        ['Head seq', chain.head?.seq ?? null],
        ['Head hash', chain.head?.hash ?? null],
      ]
    : [['Verified', `not verified: ${chain.why}`]]
  return {
    title: 'Audit integrity',
    regulation: ['PCI DSS v4.0 Req. 10 (10.2 audit logs, 10.3 protection, 10.5 retention)', 'SOC 2 CC7.2, CC7.3 (monitoring, evaluation of events)'],
    data: { chain, coverage, retention },
    sections: [
      {
        title: 'Audit chain',
        text: ['Every change Vigil makes (tokens, sources, keys, kill-switches, incidents, approvals, reports) is a row of a SHA-256 hash chain; the whole chain is walked and each row\'s hash recomputed at compilation time, not only the period.'],
        facts: chainFacts,
        ...(chain.verified && chain.problems.length > 0
          ? { table: { columns: ['seq', 'problem', 'detail'], rows: chain.problems.map((pr) => [pr.seq, pr.problem, pr.detail]) } }
          : {}),
      },
      {
        title: 'Coverage of required event types in the period',
        table: { columns: ['requirement', 'event type', 'trading API events', 'Vigil audit entries', 'status'], rows: coverage.map((c) => [c.requirement, c.what, c.events, c.audit_entries, c.status]) },
      },
      {
        title: `Retention per table (as of ${ctx.period.to})`,
        text: ['TTLs are ClickHouse\'s: rows past them are deleted when parts merge.', tierText],
        table: {
          columns: ['table', 'holds', 'policy', 'TTL expected', 'TTL in the store', 'oldest row (UTC)', 'status'],
          rows: retention.map((r) => [r.table, r.what, r.policy, r.expected_ttl, r.ttl_in_store, r.oldest_row, r.status]),
        },
      },
      {
        title: 'Hot and cold storage per table',
        table: {
          columns: ['table', 'hot days', 'storage policy', 'tiering', 'parts on each disk'],
          rows: retention.map((r) => [r.table, r.hot_days, r.storage_policy, r.tiering, diskText(r.disks)]),
        },
      },
    ],
    queries: [
      { name: 'required event types among trading API events', sql: sqlText(EVENT_COVERAGE) },
      { name: 'required event types in Vigil\'s audit chain', sql: sqlText(AUDIT_COVERAGE) },
      { name: 'TTL and storage policy of each table', sql: sqlText(TABLES) },
      { name: 'parts and bytes of each table per disk', sql: sqlText(PARTS) },
      ...oldestQueries,
      { name: 'chain verification', sql: 'SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit_log ORDER BY seq, hash (paged; each hash recomputed)' },
    ],
    not_recorded: [
      { field: 'PCI DSS 10.2.1.3 access to audit logs', why: 'reads of /v1/audit and /v1/events are not written to the audit chain' },
      { field: 'PCI DSS 10.2.1.6 start, stop or pause of audit logging', why: 'Vigil does not record its own start and stop in the audit chain' },
      { field: 'PCI DSS 10.2.1.7 creation and deletion of system-level objects', why: 'the trading APIs\' events carry no such action and Vigil records none' },
    ],
  }
}
