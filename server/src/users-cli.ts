/**
 * `vigil users add|list|set-role|disable|revoke-sessions|reset-mfa` (CONTRACT §6 `vigil users add
 * <email> --role <role>`). The People a CLI opens for itself when no `vigil up` serves the
 * data dir are users-offline.ts's.
 *
 * Relied on by: cli.ts, which registers these commands and runs their operations the way it
 * runs `tokens` (admin socket first, else its own store) — so every change is audited and
 * emitted as an own event on either path. A generated initial password is printed once;
 * `--password-stdin` takes the operator's own instead (one line, never an argument, where
 * `ps` and shell history would keep it).
 */
import type { Command } from 'commander'
import { VigilError } from '@vigil/core'
import type { AdminInput, AdminOperation, AdminOutput } from './admin-commands.js'
import { ROLES } from './permissions.js'

/** What the CLI lends these commands. */
export interface UsersCliDeps {
  run<K extends AdminOperation>(operation: K, input: AdminInput<K>): Promise<AdminOutput<K>>
  emit(json: boolean, outcome: { json: object; human: string }): unknown
  actor(): string
  readPassword(): Promise<string>
  table(rows: string[][]): string
}

/** Longest stdin read for a password: a password file, not a disk image. */
const MAX_STDIN_BYTES = 4096

/** The first line of stdin, without its line ending. */
export async function readPasswordStdin(stdin: AsyncIterable<Buffer | string>): Promise<string> {
  let text = ''
  for await (const chunk of stdin) {
    text += typeof chunk === 'string' ? chunk : chunk.toString('utf8')
    if (text.length > MAX_STDIN_BYTES) throw new VigilError('VIGIL_ERR_CLI_USAGE', '--password-stdin: more than 4096 bytes on stdin')
    if (text.includes('\n')) break
  }
  const line = text.split(/\r?\n/)[0] ?? ''
  if (line === '') throw new VigilError('VIGIL_ERR_CLI_USAGE', '--password-stdin: nothing on stdin')
  return line
}

export function registerUsersCommands(program: Command, deps: UsersCliDeps): void {
  const users = program.command('users').description('people who sign in to the dashboard (TOTP enforced for everyone)')
  users
    .command('add <email>')
    .description('add a person and print a one-time initial password (they enrol TOTP at first sign-in)')
    .requiredOption('--role <role>', `what they may do: ${ROLES.join(', ')}`)
    .option('--password-stdin', 'take the initial password from the first line of stdin instead of generating one')
    .option('--json', 'print one JSON object')
    .action(async (email: string, opts: { role: string; passwordStdin?: boolean; json?: boolean }) => {
      const password = opts.passwordStdin ? await deps.readPassword() : ''
      const added = await deps.run('users/add', { email, role: opts.role, password, by: deps.actor() })
      deps.emit(opts.json === true, {
        json: added,
        human: added.initial_password
          ? `${added.email} added with role ${added.role}. Initial password:\n\n  ${added.initial_password}\n\nGive it to them over a separate channel; it will not be shown again. They enrol an authenticator at first sign-in.\n`
          : `${added.email} added with role ${added.role}, with the password from stdin. They enrol an authenticator at first sign-in.\n`,
      })
    })
  users
    .command('list')
    .description('list people (never their passwords or second factors)')
    .option('--json', 'print one JSON object')
    .action(async (opts: { json?: boolean }) => {
      const listed = await deps.run('users/list', {})
      deps.emit(opts.json === true, {
        json: listed,
        human: deps.table([
          ['EMAIL', 'ROLE', 'STATUS', 'MFA', 'CREATED'],
          ...listed.items.map((u) => [u.email, u.role, u.status, u.mfa_enrolled ? 'enrolled' : 'pending', u.created_at]),
        ]),
      })
    })
  users
    .command('set-role <email> <role>')
    .description('change what a person may do; their sessions pick it up at their next refresh (within 10 minutes)')
    .option('--json', 'print one JSON object')
    .action(async (email: string, role: string, opts: { json?: boolean }) => {
      const user = await deps.run('users/set-role', { email, role, by: deps.actor() })
      deps.emit(opts.json === true, { json: user, human: `${user.email} now has role ${user.role}.\n` })
    })
  users
    .command('disable <email>')
    .description('stop a person signing in and end all their sessions at once')
    .option('--json', 'print one JSON object')
    .action(async (email: string, opts: { json?: boolean }) => {
      const user = await deps.run('users/disable', { email, by: deps.actor() })
      deps.emit(opts.json === true, { json: user, human: `${user.email} disabled; their sessions are ended.\n` })
    })
  users
    .command('revoke-sessions <email>')
    .description('sign a person out everywhere: end every session they have')
    .option('--json', 'print one JSON object')
    .action(async (email: string, opts: { json?: boolean }) => {
      const ended = await deps.run('users/revoke-sessions', { email, by: deps.actor() })
      deps.emit(opts.json === true, { json: ended, human: `${ended.email}: ${ended.sessions_ended} session(s) ended.\n` })
    })
  users
    .command('reset-mfa <email>')
    .description('forget a person\'s authenticator and recovery codes (a lost phone) and end their sessions; they enrol again at next sign-in')
    .option('--json', 'print one JSON object')
    .action(async (email: string, opts: { json?: boolean }) => {
      const user = await deps.run('users/reset-mfa', { email, by: deps.actor() })
      deps.emit(opts.json === true, { json: user, human: `${user.email}: second factor reset; they enrol a new authenticator at next sign-in.\n` })
    })
}
