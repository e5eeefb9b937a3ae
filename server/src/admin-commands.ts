/**
 * The admin operations behind `vigil sources …`, `vigil tokens …`, `vigil users …`,
 * `vigil audit verify`, `vigil respond dlq …` and the record of a `vigil rules test` run,
 * and the JSON each one
 * answers (CONTRACT §6).
 *
 * Relied on by: the CLI, which runs them on a store it opened itself, and the admin socket
 * of a running `vigil up` (admin-socket.ts), which runs them on the live store and source
 * registry for a CLI that could not open the store. Both paths call this one table, so the
 * answer is the same object whichever way a command went; the CLI prints it as it is.
 * Adding an operation here is adding it to the socket.
 */
import type { Redis } from 'ioredis'
import { VigilError, type Store } from '@vigil/core'
import type { SourceRegistry } from '@vigil/ingest'
import { createAuditLog, DeadLetters, type AuditEntry, type AuditVerification, type DeadLetter } from '@vigil/respond'
import { responseKeyPrefix, type ResponseSide } from './response-wiring.js'
import { createToken, listTokens, revokeToken, type CreatedToken, type TokenInfo } from './tokens.js'
import type { People } from './people.js'
import type { AddedUser, UserInfo } from './users.js'
import { generateReport, type GenerateReportInput, type GeneratedReport } from './report-commands.js'
import { switchRuleCommand, type RuleSwitchInput } from './rule-switch-command.js'
import { parseRuleTestRun, recordRuleTestRun, type RuleSummary } from '@vigil/detect'

export interface AdminContext {
  store: Store
  sources: SourceRegistry
  /** Redis, for the operations that read it (the audit chain's head); absent: they say so. */
  redis?: Redis
  /** The running response side, once `vigil up` has started it (dead-letter retries need its engine). */
  response?: () => ResponseSide | undefined
  /** Told when a change could not be put in the audit chain (no Redis here). */
  onAuditSkipped?: (entry: AuditEntry) => void
  /** People and sessions (`vigil users …`): the running `vigil up`'s, or one the CLI opened. */
  people?: () => People | undefined
  /** VIGIL_DATA_DIR, where a report compiled without a running `vigil up` is stored. */
  dataDir?: string
}

/** A source as listed: what `SourceInfo` has today, and never more. */
export interface ListedSource {
  id: string
  status: 'active' | 'disabled'
  created_at: string
  rotated_at: string | null
  previous_valid_until: string | null
}

/**
 * Each operation's input and answer. Every input field is a string; `by` is who made the
 * change, recorded in the store's change log.
 */
export interface AdminOperations {
  'sources/add': { input: { id: string; by: string }; output: { id: string; secret: string } }
  'sources/rotate': { input: { id: string; by: string }; output: { id: string; secret: string; previous_valid_until: string | null } }
  'sources/list': { input: Record<string, never>; output: { items: ListedSource[] } }
  'tokens/create': { input: { role: string; name: string; ttl: string; by: string }; output: CreatedToken }
  'tokens/list': { input: Record<string, never>; output: { items: TokenInfo[] } }
  'tokens/revoke': { input: { id: string; by: string }; output: { id: string; status: TokenInfo['status']; revoked_at: string | null } }
  'audit/verify': { input: Record<string, never>; output: AuditVerification }
  'respond/dlq-list': { input: Record<string, never>; output: { items: DeadLetter[] } }
  'respond/dlq-retry': { input: { id: string; by: string }; output: DeadLetter }
  /** `password` empty: Vigil generates one and answers it once as `initial_password`. */
  'users/add': { input: { email: string; role: string; password: string; by: string }; output: AddedUser }
  'users/list': { input: Record<string, never>; output: { items: UserInfo[] } }
  'users/set-role': { input: { email: string; role: string; by: string }; output: UserInfo }
  'users/disable': { input: { email: string; by: string }; output: UserInfo }
  'users/revoke-sessions': { input: { email: string; by: string }; output: { email: string; sessions_ended: number } }
  'users/reset-mfa': { input: { email: string; by: string }; output: UserInfo }
  'reports/generate': { input: GenerateReportInput; output: GeneratedReport }
  'rules/switch': { input: RuleSwitchInput; output: RuleSummary }
  /** `run`: a `vigil rules test` run as JSON (detect's RuleTestRunSchema); `by` must be its `by`. */
  'rules/record-test': { input: { run: string; by: string }; output: RecordedRuleTestRun }
}

/** A recorded `vigil rules test` run, as the CLI prints it. */
export interface RecordedRuleTestRun {
  id: string
  tests: number
  passed: number
  failed: number
}

export type AdminOperation = keyof AdminOperations
export type AdminInput<K extends AdminOperation> = AdminOperations[K]['input']
export type AdminOutput<K extends AdminOperation> = AdminOperations[K]['output']

type AdminHandlers = { [K in AdminOperation]: (ctx: AdminContext, input: AdminInput<K>) => Promise<AdminOutput<K>> }

export const ADMIN_OPERATIONS: AdminHandlers = {
  async 'sources/add'(ctx, { id, by }) {
    const created = await ctx.sources.add(id, { by })
    await audited(ctx, { actor: by, action: 'source.add', subject: id, detail: {} })
    return { id: created.id, secret: created.secret }
  },
  async 'sources/rotate'(ctx, { id, by }) {
    const rotated = await ctx.sources.rotate(id, { by })
    await audited(ctx, { actor: by, action: 'source.rotate', subject: id, detail: { previous_valid_until: rotated.previous_valid_until ?? null } })
    return { id: rotated.id, secret: rotated.secret, previous_valid_until: rotated.previous_valid_until ?? null }
  },
  async 'sources/list'({ sources }) {
    // Copied field by field: a secret can never ride along, whatever list() returns.
    const items = (await sources.list()).map((s) => ({
      id: s.id,
      status: s.status,
      created_at: s.created_at,
      rotated_at: s.rotated_at,
      previous_valid_until: s.previous_valid_until,
    }))
    return { items }
  },
  async 'tokens/create'(ctx, { role, name, ttl, by }) {
    const created = await createToken(ctx.store, { role, name, ttl, by })
    await audited(ctx, { actor: by, action: 'token.create', subject: created.id, detail: { role: created.role, name: created.name, expires_at: created.expires_at } })
    return created
  },
  async 'tokens/list'({ store }) {
    return { items: await listTokens(store) }
  },
  async 'tokens/revoke'(ctx, { id, by }) {
    const info = await revokeToken(ctx.store, id, { by })
    await audited(ctx, { actor: by, action: 'token.revoke', subject: info.id, detail: {} })
    return { id: info.id, status: info.status, revoked_at: info.revoked_at }
  },
  async 'audit/verify'({ store, redis, response }) {
    const live = response?.()
    if (live) return live.audit.verify()
    if (!redis) throw new VigilError('VIGIL_ERR_REDIS_UNAVAILABLE', 'the audit chain head is kept in Redis')
    return createAuditLog({ store, redis, keyPrefix: await responseKeyPrefix(store) }).verify()
  },
  async 'respond/dlq-list'({ store }) {
    return { items: await new DeadLetters(store).list({ status: 'dead', limit: 1000 }) }
  },
  async 'respond/dlq-retry'({ response }, { id, by }) {
    const live = response?.()
    // The retried step is run by the playbook engine, which lives in `vigil up`.
    if (!live) throw new VigilError('VIGIL_ERR_API_UNAVAILABLE', 'vigil up is not running here: start it, then retry')
    return live.response.retryDeadLetter(id, by)
  },
  async 'users/add'(ctx, { email, role, password, by }) {
    return peopleOf(ctx).add(email, { role, ...(password === '' ? {} : { password }) }, by)
  },
  async 'users/list'(ctx) {
    return { items: await peopleOf(ctx).users.list() }
  },
  async 'users/set-role'(ctx, { email, role, by }) {
    return peopleOf(ctx).setRole(email, role, by)
  },
  async 'users/disable'(ctx, { email, by }) {
    return peopleOf(ctx).disable(email, by)
  },
  async 'users/revoke-sessions'(ctx, { email, by }) {
    return peopleOf(ctx).revokeSessions(email, by)
  },
  async 'users/reset-mfa'(ctx, { email, by }) {
    return peopleOf(ctx).resetMfa(email, by)
  },
  'reports/generate': generateReport,
  async 'rules/switch'(ctx, input) {
    return switchRuleCommand({ store: ctx.store, audit: (entry) => audited(ctx, entry) }, input)
  },
  async 'rules/record-test'({ store }, { run, by }) {
    const parsed = parseRuleTestRun(run)
    if (parsed.by !== by) throw new VigilError('VIGIL_ERR_RULE_TEST_RUN_INVALID', 'by must be the run\'s by')
    const recorded = await recordRuleTestRun(store, parsed)
    return { id: recorded.id, tests: recorded.tests, passed: recorded.passed, failed: recorded.failed }
  },
}

function peopleOf(ctx: AdminContext): People {
  const people = ctx.people?.()
  // Sessions and the audit chain are in Redis: without it no change to people is made.
  if (!people) throw new VigilError('VIGIL_ERR_REDIS_UNAVAILABLE', 'people and their sessions need Redis')
  return people
}

/**
 * Credential changes go into the audit chain too. The change itself is already made and
 * recorded with its author in its own table, so a chain that cannot be written (no Redis
 * reachable from this CLI) must not undo it: the operator is told in the log line instead.
 */
async function audited(ctx: AdminContext, entry: AuditEntry): Promise<void> {
  const live = ctx.response?.()
  if (live) return void (await live.audit.append(entry))
  if (ctx.redis) return void (await createAuditLog({ store: ctx.store, redis: ctx.redis, keyPrefix: await responseKeyPrefix(ctx.store) }).append(entry))
  ctx.onAuditSkipped?.(entry)
}
