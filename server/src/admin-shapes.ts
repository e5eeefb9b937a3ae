/**
 * What the CLI and the admin socket agree on about admin operations, without the operations
 * themselves (admin-commands.ts): where the socket is, each operation's input fields and answer keys, which of
 * them act on people, and how a failure is shown. Kept apart so a `vigil` command that a running
 * `vigil up` answers over its socket, or that is a usage mistake, loads none of the engine.
 */
import path from 'node:path'
import { isVigilError, maskText, VigilError, type VigilConfig } from '@vigil/core'
import type { RuleSummary } from '@vigil/detect'
import type { AdminInput, AdminOperation, AdminOutput } from './admin-commands.js'

export const ADMIN_SOCKET_FILE = 'vigil.sock'

/** Where a running `vigil up` serves its admin socket (admin-socket.ts). */
export function adminSocketPath(config: Pick<VigilConfig, 'dataDir'>): string {
  return path.join(config.dataDir, ADMIN_SOCKET_FILE)
}

/** The keys of a switched rule as the admin socket hands it back (RuleSummary's, in order). */
export const RULE_SUMMARY_KEYS = [
  'id', 'title', 'description', 'area', 'severity', 'enabled', 'last_change', 'triage', 'false_positives', 'modified',
  'fires_per_day', 'fires_total', 'last_fired', 'false_positive_marks', 'open_alerts',
] as const satisfies ReadonlyArray<keyof RuleSummary>

/** The operations on people (`vigil users …`, users-cli.ts). */
export const USERS_OPERATIONS = ['users/add', 'users/list', 'users/set-role', 'users/disable', 'users/revoke-sessions', 'users/reset-mfa'] as const satisfies readonly AdminOperation[]

/**
 * The input fields of each operation, all required strings, and the keys of its answer in
 * the order the operation builds it: the socket validates a request against `input` before
 * anything runs, and the client keeps exactly `answers` of what comes back.
 */
export const ADMIN_SHAPES: { readonly [K in AdminOperation]: { readonly input: readonly (keyof AdminInput<K>)[]; readonly answers: readonly (keyof AdminOutput<K>)[] } } = {
  'sources/add': { input: ['id', 'by'], answers: ['id', 'secret'] },
  'sources/rotate': { input: ['id', 'by'], answers: ['id', 'secret', 'previous_valid_until'] },
  'sources/list': { input: [], answers: ['items'] },
  'tokens/create': { input: ['role', 'name', 'ttl', 'by'], answers: ['id', 'token', 'role', 'name', 'expires_at'] },
  'tokens/list': { input: [], answers: ['items'] },
  'tokens/revoke': { input: ['id', 'by'], answers: ['id', 'status', 'revoked_at'] },
  'audit/verify': { input: [], answers: ['ok', 'rows', 'head', 'problems'] },
  'respond/dlq-list': { input: [], answers: ['items'] },
  'users/add': { input: ['email', 'role', 'password', 'by'], answers: ['email', 'role', 'status', 'mfa_enrolled', 'recovery_codes_left', 'created_at', 'updated_at', 'initial_password'] },
  'users/list': { input: [], answers: ['items'] },
  'users/set-role': { input: ['email', 'role', 'by'], answers: ['email', 'role', 'status', 'mfa_enrolled', 'recovery_codes_left', 'created_at', 'updated_at'] },
  'users/disable': { input: ['email', 'by'], answers: ['email', 'role', 'status', 'mfa_enrolled', 'recovery_codes_left', 'created_at', 'updated_at'] },
  'users/revoke-sessions': { input: ['email', 'by'], answers: ['email', 'sessions_ended'] },
  'users/reset-mfa': { input: ['email', 'by'], answers: ['email', 'role', 'status', 'mfa_enrolled', 'recovery_codes_left', 'created_at', 'updated_at'] },
  'reports/generate': { input: ['type', 'from', 'to', 'format', 'incident_id', 'by'], answers: ['id', 'type', 'format', 'sha256', 'content_sha256', 'size', 'file'] },
  'rules/switch': { input: ['id', 'enabled', 'reason', 'by'], answers: RULE_SUMMARY_KEYS },
  'rules/record-test': { input: ['run', 'by'], answers: ['id', 'tests', 'passed', 'failed'] },
  'respond/dlq-retry': {
    input: ['id', 'by'],
    answers: ['id', 'status', 'idempotency_key', 'run_id', 'playbook', 'step', 'action', 'alert_id', 'incident_id', 'attempts', 'error', 'dead_at', 'updated_at', 'updated_by'],
  },
}

/**
 * How a failure of an admin operation is shown to the operator who ran it, on either path.
 * A local operator is reading this, so the first line of an unexpected cause helps more
 * than it hides; masked, since a driver's message can quote a URL with its password.
 */
export function operatorFacingError(err: unknown): VigilError {
  if (isVigilError(err)) return err
  const first = maskText((err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '').slice(0, 200)
  return new VigilError('VIGIL_ERR_INTERNAL', first || undefined, { cause: err })
}
