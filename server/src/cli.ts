/**
 * The `vigil` command line (CONTRACT §6).
 *
 * Relied on by operators and scripts: with `--json` every command prints exactly one JSON
 * object on stdout (lists as `{"items": [...]}`), and every error is one line on stderr
 * (`{"error": {"code", "message"}}` with `--json`) with exit status 2 for usage and
 * configuration mistakes and 1 for everything else. Secrets and tokens are printed once,
 * at creation, and never listed.
 *
 * Admin commands (`sources`, `tokens`) run in the `vigil up` that holds the data dir when
 * there is one, over its admin socket: the embedded engine lets only one process open a
 * data dir. Otherwise, and always with CLICKHOUSE_URL, they open the store themselves.
 * Either way they run the same operation (admin-commands.ts) and print the same answer.
 *
 * Start-up matters to scripts that call `vigil` in a loop: this module loads only what
 * parsing, the admin socket and printing need; each command loads the engine parts it uses
 * when it runs (`await import`), so a usage mistake or a command a running `vigil up`
 * answers costs a fraction of a second, not the whole engine's load.
 */
import { tmpdir, userInfo } from 'node:os'
import { Command, CommanderError } from 'commander'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import path from 'node:path'
import { createLogger, ERRORS, loadConfig, migrate, openStore, VigilError, type ErrorBody, type VigilConfig } from '@vigil/core'
import type { FixtureResult, RuleTestRun } from '@vigil/detect'
import type { AdminInput, AdminOperation, AdminOutput } from './admin-commands.js'
import { adminSocketPath, operatorFacingError } from './admin-shapes.js'
import { callAdminSocket } from './admin-socket-client.js'
import { ROLES } from './permissions.js'
import { readPasswordStdin, registerUsersCommands } from './users-cli.js'
import { registerRuleSwitchCommands } from './rules-cli.js'
import { registerReportsCommands } from './reports-cli.js'
import { checkTokenRequest, DEFAULT_TOKEN_TTL } from './tokens.js'

export interface CliIo {
  stdout: { write(s: string): unknown }
  stderr: { write(s: string): unknown }
  /** Environment for the configuration. @defaultValue `process.env` (read by core's config) */
  env?: NodeJS.ProcessEnv
  /** Where `--password-stdin` reads from. @defaultValue `process.stdin` */
  stdin?: AsyncIterable<Buffer | string>
}

/** What a command hands back: printed as JSON with `--json`, as `human` text otherwise. */
interface Outcome {
  json: object
  human: string
}

/** Errors that are the caller's to fix by changing the command or the configuration. */
const USAGE_CODES = new Set<string>([ERRORS.VIGIL_ERR_CLI_USAGE.code, ERRORS.VIGIL_ERR_CONFIG_INVALID.code])

export function exitCodeFor(err: VigilError): number {
  return USAGE_CODES.has(err.code) || err.statusCode === 400 ? 2 : 1
}

/**
 * For usage and configuration errors the registry's text ("Invalid configuration") only
 * repeats the code, so the line shows just what to fix: `vigil: config_invalid: VIGIL_PORT
 * must be …`. Other errors keep the whole message, whose general part explains.
 */
function lineMessage(err: VigilError): string {
  if (!USAGE_CODES.has(err.code)) return err.message
  const general = ERRORS[err.errName].message
  return err.message.startsWith(`${general}: `) ? err.message.slice(general.length + 2) : err.message
}

function asVigilError(err: unknown): VigilError {
  if (err instanceof CommanderError) return new VigilError('VIGIL_ERR_CLI_USAGE', err.message.replace(/^error: /, ''), { cause: err })
  return operatorFacingError(err)
}

function printError(io: CliIo, json: boolean, err: VigilError): void {
  if (json) {
    const body: ErrorBody = err.toBody()
    io.stderr.write(JSON.stringify(body) + '\n')
  } else {
    io.stderr.write(`vigil: ${err.code}: ${lineMessage(err).replace(/\s+/g, ' ')}\n`)
  }
}

function actor(): string {
  try {
    return `cli:${userInfo().username}`
  } catch {
    return 'cli'
  }
}

/**
 * Runs an admin operation in the `vigil up` serving this data dir's admin socket, or, when
 * none does, on the store opened here — which on the embedded engine fails with
 * `store_locked` if a Vigil without a socket holds it. A server behind CLICKHOUSE_URL
 * takes any number of clients, so there the store is always opened here.
 */
async function runAdmin<K extends AdminOperation>(config: VigilConfig, operation: K, input: AdminInput<K>): Promise<AdminOutput<K>> {
  if (!config.clickhouse.url) {
    const answered = await callAdminSocket(adminSocketPath(config), operation, input)
    if (answered !== undefined) return answered
  }
  const { runAdminLocally } = await import('./admin-local.js')
  return runAdminLocally(config, operation, input)
}

const ONCE = 'Store it now: it will not be shown again.'

function table(rows: string[][]): string {
  if (rows.length <= 1) return '(none)\n'
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n'
}

/**
 * Runs the CLI. Resolves with the exit code, or with undefined for `vigil up`, which keeps
 * the process alive until a signal.
 */
export async function main(argv: readonly string[] = process.argv, io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number | undefined> {
  const wantsJson = argv.includes('--json')
  let exitCode: number | undefined = 0
  const config = (): VigilConfig => (io.env ? loadConfig(io.env) : loadConfig())
  const emit = (json: boolean, outcome: Outcome) => io.stdout.write(json ? JSON.stringify(outcome.json) + '\n' : outcome.human)

  const program = new Command('vigil')
    .description('Security monitoring and incident response for trading APIs')
    .exitOverride()
    .showSuggestionAfterError(false)
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      // Printed by us, once, in the contract's shape.
      outputError: () => {},
    })

  program
    .command('up')
    .description('run Vigil in one process (embedded ClickHouse, private Redis unless REDIS_URL is set)')
    .option('--demo', 'also run the demo trading API (source "demo") and its simulated traffic and attacks')
    .option('--json', 'print one JSON object once listening; logs go to stderr')
    .action(async (opts: { demo?: boolean; json?: boolean }) => {
      // The configuration first: a mistake in it is answered before the engine loads.
      const cfg = config()
      const { startVigil } = await import('./runtime.js')
      const handle = await startVigil(cfg, {
        demo: opts.demo === true,
        handleSignals: true,
        ...(opts.json ? { logDestination: process.stderr } : {}),
      })
      emit(opts.json === true, {
        json: {
          status: 'up',
          url: handle.url,
          pid: process.pid,
          demo: opts.demo === true,
          ...(handle.demoUrl ? { demo_api: handle.demoUrl } : {}),
          ...(handle.demoAccount ? { demo_account: { email: handle.demoAccount.email, password_file: handle.demoAccount.file } } : {}),
        },
        human:
          `vigil is up on ${handle.url}${handle.demoUrl ? `, with the demo trading API on ${handle.demoUrl} sending as source "demo"` : ''} (Ctrl-C stops it)\n` +
          (handle.demoAccount ? `Dashboard: ${handle.url}/ — sign in as ${handle.demoAccount.email} with the password in ${handle.demoAccount.file}\n` : ''),
      })
      exitCode = undefined
    })

  const sources = program.command('sources').description('trading APIs allowed to send events')
  sources
    .command('add <id>')
    .description('create a source and print its signing secret once')
    .option('--json', 'print one JSON object')
    .action(async (id: string, opts: { json?: boolean }) => {
      const created = await runAdmin(config(), 'sources/add', { id, by: actor() })
      emit(opts.json === true, {
        json: { id: created.id, secret: created.secret },
        human: `Source "${created.id}" created. Its signing secret:\n\n  ${created.secret}\n\n${ONCE}\n`,
      })
    })
  sources
    .command('rotate <id>')
    .description('give a source a new secret; the old one stays valid for the rotation grace period')
    .option('--json', 'print one JSON object')
    .action(async (id: string, opts: { json?: boolean }) => {
      const rotated = await runAdmin(config(), 'sources/rotate', { id, by: actor() })
      const until = rotated.previous_valid_until
      emit(opts.json === true, {
        json: rotated,
        human:
          `Source "${rotated.id}" rotated. Its new signing secret:\n\n  ${rotated.secret}\n\n${ONCE}\n` +
          (until ? `The previous secret stays valid until ${until}.\n` : ''),
      })
    })
  sources
    .command('list')
    .description('list sources (never their secrets)')
    .option('--json', 'print one JSON object')
    .action(async (opts: { json?: boolean }) => {
      const listed = await runAdmin(config(), 'sources/list', {})
      emit(opts.json === true, {
        json: listed,
        human: table([['ID', 'STATUS', 'CREATED', 'ROTATED'], ...listed.items.map((s) => [s.id, s.status, s.created_at, s.rotated_at ?? '-'])]),
      })
    })

  const tokens = program.command('tokens').description('operator API bearer tokens')
  tokens
    .command('create')
    .description('issue a token and print it once')
    .requiredOption('--role <role>', `what the token may do: ${ROLES.join(', ')}`)
    .requiredOption('--name <name>', 'who or what holds it, e.g. "alice laptop"')
    .option('--ttl <ttl>', 'lifetime: a number and s, m, h or d', DEFAULT_TOKEN_TTL)
    .option('--json', 'print one JSON object')
    .action(async (opts: { role: string; name: string; ttl: string; json?: boolean }) => {
      // Checked here first, so a mistake is answered without opening the store; the operation checks again.
      checkTokenRequest(opts)
      const created = await runAdmin(config(), 'tokens/create', { role: opts.role, name: opts.name, ttl: opts.ttl, by: actor() })
      emit(opts.json === true, {
        json: created,
        human: `Token ${created.id} for "${created.name}" (role ${created.role}, expires ${created.expires_at}):\n\n  ${created.token}\n\n${ONCE}\n`,
      })
    })
  tokens
    .command('list')
    .description('list tokens (never the tokens themselves)')
    .option('--json', 'print one JSON object')
    .action(async (opts: { json?: boolean }) => {
      const listed = await runAdmin(config(), 'tokens/list', {})
      emit(opts.json === true, {
        json: listed,
        human: table([
          ['ID', 'ROLE', 'NAME', 'STATUS', 'EXPIRES'],
          ...listed.items.map((t) => [t.id, t.role, t.name, t.status, t.expires_at]),
        ]),
      })
    })
  tokens
    .command('revoke <id>')
    .description('revoke a token at once')
    .option('--json', 'print one JSON object')
    .action(async (id: string, opts: { json?: boolean }) => {
      const info = await runAdmin(config(), 'tokens/revoke', { id, by: actor() })
      emit(opts.json === true, {
        json: info,
        human: `Token ${info.id} revoked at ${info.revoked_at}.\n`,
      })
    })

  registerUsersCommands(program, {
    run: (operation, input) => runAdmin(config(), operation, input),
    emit,
    actor,
    readPassword: () => readPasswordStdin(io.stdin ?? process.stdin),
    table,
  })

  registerReportsCommands(program, { run: (operation, input) => runAdmin(config(), operation, input), emit, actor })

  const rules = program.command('rules').description('detection rules in rules/detections')
  rules
    .command('lint')
    .description('validate every rule file against its schema and the corpus conventions')
    .option('--json', 'print one JSON object')
    .action(async (opts: { json?: boolean }) => {
      const { checkRuleCorpus, formatProblem, loadRules } = await import('@vigil/detect')
      const problems = checkRuleCorpus()
      const count = loadRules().length
      if (problems.length > 0) exitCode = 1
      emit(opts.json === true, {
        json: { rules: count, problems },
        human: problems.length === 0 ? `${count} rules, no problems.\n` : problems.map((p) => formatProblem(p)).join('\n') + '\n',
      })
    })
  rules
    .command('test')
    .description("run every rule's fixtures through the real engine on a scratch embedded ClickHouse")
    .option('--rule <id>', 'only this rule')
    .option('--json', 'print one JSON object')
    .action(async (opts: { rule?: string; json?: boolean }) => {
      const { results, summary } = await runFixturesInScratchStore(opts.rule)
      const failed = results.filter((r) => !r.pass)
      if (failed.length > 0 || results.length === 0) exitCode = 1
      // Evidence for the market-access review; a run that cannot be recorded still counts as a test here.
      const recorded = await recordRulesTestRun(config, summary)
      const rows = results.map((r) => `${r.pass ? 'pass' : 'FAIL'}  ${r.rule.padEnd(28)} ${String(r.test).padStart(2)}  ${r.expect.padEnd(4)}  ${r.name}${r.why ? `\n      ${r.why}` : ''}`)
      emit(opts.json === true, {
        json: { passed: results.length - failed.length, failed: failed.length, results, recorded_as: 'id' in recorded ? recorded.id : null },
        human: `${rows.join('\n')}\n${results.length - failed.length} passed, ${failed.length} failed\n${'id' in recorded ? `Recorded as ${recorded.id}.\n` : ''}`,
      })
      if ('why' in recorded) io.stderr.write(`vigil: this test run was not recorded: ${recorded.why.replace(/\s+/g, ' ')}\n`)
    })

  registerRuleSwitchCommands(rules, { run: (operation, input) => runAdmin(config(), operation, input), emit, actor })

  const playbooks = program.command('playbooks').description('response playbooks in rules/playbooks')
  playbooks
    .command('lint')
    .description('validate every playbook against its schema, its actions and the corpus conventions')
    .option('--json', 'print one JSON object')
    .action(async (opts: { json?: boolean }) => {
      const { ACTIONS, checkPlaybookCorpus, DEFAULT_PLAYBOOKS_DIR, formatPlaybookProblem, loadPlaybooks } = await import('@vigil/respond')
      const problems = checkPlaybookCorpus(DEFAULT_PLAYBOOKS_DIR, ACTIONS)
      const count = problems.length === 0 ? loadPlaybooks(DEFAULT_PLAYBOOKS_DIR, ACTIONS).length : undefined
      if (problems.length > 0) exitCode = 1
      emit(opts.json === true, {
        json: { playbooks: count ?? null, problems },
        human: problems.length === 0 ? `${count} playbooks, no problems.\n` : problems.map((p) => formatPlaybookProblem(p)).join('\n') + '\n',
      })
    })

  program
    .command('audit')
    .description("the platform's own hash-chained audit log")
    .command('verify')
    .description('walk the chain and report any edited, missing, reordered or cut row')
    .option('--json', 'print one JSON object')
    .action(async (opts: { json?: boolean }) => {
      const result = await runAdmin(config(), 'audit/verify', {})
      if (!result.ok) exitCode = 1
      const problems = result.problems.map((p) => `  seq ${p.seq}: ${p.problem}: ${p.detail}`)
      emit(opts.json === true, {
        json: result,
        human: result.ok
          ? `audit chain intact: ${result.rows} rows${result.head ? `, head ${result.head.seq} ${result.head.hash.slice(0, 16)}…` : ''}\n`
          : `audit chain BROKEN: ${result.problems.length} problem(s) in ${result.rows} rows\n${problems.join('\n')}\n`,
      })
    })

  const dlq = program.command('respond').description('the playbook engine').command('dlq').description('playbook steps that ran out of attempts')
  dlq
    .command('list')
    .description('list dead-lettered steps with their last error')
    .option('--json', 'print one JSON object')
    .action(async (opts: { json?: boolean }) => {
      const listed = await runAdmin(config(), 'respond/dlq-list', {})
      emit(opts.json === true, {
        json: listed,
        human: table([
          ['ID', 'DEAD AT', 'PLAYBOOK', 'STEP', 'ACTION', 'ATTEMPTS', 'ERROR'],
          ...listed.items.map((d) => [d.id, d.dead_at, d.playbook, String(d.step), d.action, String(d.attempts), d.error.slice(0, 80)]),
        ]),
      })
    })
  dlq
    .command('retry <id>')
    .description('run a dead-lettered step again with fresh attempts (needs vigil up running)')
    .option('--json', 'print one JSON object')
    .action(async (id: string, opts: { json?: boolean }) => {
      const retried = await runAdmin(config(), 'respond/dlq-retry', { id, by: actor() })
      emit(opts.json === true, { json: retried, human: `Dead letter ${retried.id} re-queued (${retried.action}, step ${retried.step} of ${retried.playbook}).\n` })
    })

  program
    .command('detect')
    .description('detection over stored history')
    .command('backtest')
    .description('replay the detectors over stored events and print what would have fired; nothing is stored or sent')
    .requiredOption('--from <time>', 'RFC 3339 start (inclusive)')
    .requiredOption('--to <time>', 'RFC 3339 end (exclusive)')
    .option('--rule <id>', 'only this rule (default: every rule its file enables; runtime switches do not apply)')
    .option('--json', 'print one JSON object')
    .action(async (opts: { from: string; to: string; rule?: string; json?: boolean }) => {
      const fromMs = parseCliTime('--from', opts.from)
      const toMs = parseCliTime('--to', opts.to)
      if (toMs <= fromMs) throw new VigilError('VIGIL_ERR_CLI_USAGE', '--to must be after --from')
      const [{ backtest, BUILTIN_DETECTORS, loadRules }, { openVigilStore, VIGIL_MIGRATIONS }] = await Promise.all([import('@vigil/detect'), import('./runtime.js')])
      const all = loadRules()
      if (opts.rule && !all.some((r) => r.id === opts.rule)) throw new VigilError('VIGIL_ERR_CLI_USAGE', `no rule ${opts.rule}`)
      const cfg = config()
      const store = await openVigilStore(cfg)
      try {
        await migrate(store, VIGIL_MIGRATIONS)
        const result = await backtest(store, all, BUILTIN_DETECTORS, { fromMs, toMs, ...(opts.rule ? { rule: opts.rule } : {}) })
        const lines = result.alerts.map((a) => `${a.first_seen}  ${a.severity.padEnd(8)} ${a.rule.padEnd(28)} ${a.entity.type}:${a.entity.id}  ×${a.count}  ${a.summary}`)
        emit(opts.json === true, {
          json: result,
          human: `${lines.join('\n')}${lines.length ? '\n' : ''}${result.events} events replayed, ${result.alerts.length} alerts would have fired.\n`,
        })
      } finally {
        await store.close()
      }
    })

  try {
    await program.parseAsync([...argv])
    return exitCode
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version are not failures; their text is already out.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0
      // `vigil` or `vigil tokens` alone: commander printed the help to stderr.
      if (err.code === 'commander.help') return 2
    }
    const vigil = asVigilError(err)
    printError(io, wantsJson, vigil)
    return exitCodeFor(vigil)
  }
}

const CLI_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/

function parseCliTime(flag: string, v: string): number {
  const ms = CLI_TIME.test(v) ? Date.parse(v) : NaN
  if (Number.isNaN(ms)) throw new VigilError('VIGIL_ERR_CLI_USAGE', `${flag} must be an RFC 3339 time, e.g. 2026-11-24T00:00:00Z`)
  return ms
}

/**
 * `vigil rules test`: a scratch embedded store in a temp dir, removed afterwards. Answers the
 * results and the run's summary for the record, with the hashes of the rule files tested
 * (`by` and `operator` are filled in when it is recorded).
 */
async function runFixturesInScratchStore(rule: string | undefined): Promise<{ results: FixtureResult[]; summary: RuleTestRun }> {
  const [{ BUILTIN_DETECTORS, loadRules, ruleControlSnapshots, runRuleFixtures, summarizeRuleTestRun }, { VIGIL_MIGRATIONS }] = await Promise.all([import('@vigil/detect'), import('./runtime.js')])
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-rules-test-'))
  const startedAt = new Date()
  const rules = loadRules()
  const { snapshots } = ruleControlSnapshots(rules)
  const store = await openStore(loadConfig({ VIGIL_DATA_DIR: dir }, { cwd: dir }))
  let results: FixtureResult[]
  try {
    await migrate(store, VIGIL_MIGRATIONS)
    results = await runRuleFixtures(store, rules, BUILTIN_DETECTORS, createLogger({ level: 'silent' }), rule ? { only: rule } : {})
  } finally {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  }
  return { results, summary: summarizeRuleTestRun(results, snapshots, { startedAt, finishedAt: new Date(), by: actor(), operator: '', onlyRule: rule ?? '' }) }
}

/**
 * Records a `vigil rules test` run in the data dir's store: through the running `vigil up`'s
 * admin socket, else on the store opened here. A data dir that holds no store yet is not
 * created for it (a checkout's CI would grow a ./data), and nothing that fails here changes
 * the run's outcome: the caller says why on stderr.
 */
async function recordRulesTestRun(config: () => VigilConfig, summary: RuleTestRun): Promise<{ id: string } | { why: string }> {
  if (summary.tests === 0) return { why: 'no test ran' }
  try {
    const cfg = config()
    if (!cfg.clickhouse.url && !existsSync(path.join(cfg.dataDir, 'clickhouse'))) return { why: `no Vigil store in ${cfg.dataDir} (set VIGIL_DATA_DIR, or run vigil up there once)` }
    const run: RuleTestRun = { ...summary, operator: cfg.operator ?? '' }
    return await runAdmin(cfg, 'rules/record-test', { run: JSON.stringify(run), by: run.by })
  } catch (err) {
    const vigil = operatorFacingError(err)
    return { why: `${vigil.code}: ${lineMessage(vigil)}` }
  }
}

/** Entry point of `bin/vigil.js`. */
export async function run(): Promise<void> {
  const code = await main()
  if (code === undefined) return
  // Exit explicitly (the embedded engine can keep the loop alive), but only once stdout
  // has drained, or a piped JSON answer could be cut short.
  process.stdout.write('', () => process.exit(code))
}
