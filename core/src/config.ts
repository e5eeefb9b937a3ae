/**
 * Vigil's configuration (CONTRACT §7): one table of settings with their defaults, read once
 * from the environment (and an optional `vigil.yaml`), validated, then frozen.
 *
 * This is the only module that reads `process.env`. Everything else receives the frozen
 * `VigilConfig`. A bad value stops start-up with one line naming the setting.
 */
import { readFileSync, existsSync, statSync } from 'node:fs'
import path from 'node:path'
import { parse as parseYaml } from 'yaml'
import { VigilError } from './errors.js'

export interface VigilConfig {
  /** Where embedded ClickHouse, the private Redis, the spool and the master key live. @defaultValue `./data` */
  readonly dataDir: string
  /** @defaultValue `127.0.0.1` */
  readonly host: string
  /** @defaultValue `8080` */
  readonly port: number
  readonly clickhouse: { readonly url: string | undefined; readonly user: string | undefined; readonly password: string | undefined }
  /** Unset: Vigil starts a private redis-server under the data dir. */
  readonly redisUrl: string | undefined
  readonly slack: {
    readonly token: string | undefined
    readonly channel: string | undefined
    readonly apiUrl: string | undefined
    /** Verifies Slack's interactivity requests (button clicks); unset: the endpoint refuses them. */
    readonly signingSecret: string | undefined
    /** Slack user ids whose Approve / Reject clicks count. @defaultValue none: approvals only through the API */
    readonly approvers: readonly string[]
  }
  /** The address people reach Vigil by, for links in Slack and email. @defaultValue `http://<VIGIL_HOST>:<VIGIL_PORT>` */
  readonly publicUrl: string
  readonly smtpUrl: string | undefined
  readonly emailFrom: string | undefined
  readonly emailTo: readonly string[]
  readonly elasticsearchUrl: string | undefined
  readonly tls: {
    readonly cert: string | undefined
    readonly key: string | undefined
    /** CA bundle (PEM) that client certificates must chain to; set: mTLS for machine routes (server/src/transport.ts). */
    readonly clientCa: string | undefined
  }
  /** The operator API's rate limit (server/src/api-rate-limit.ts). */
  readonly apiRateLimit: {
    /** Requests per window per operator (token or person), else per client IP. @defaultValue `600` */
    readonly max: number
    /** @defaultValue `60` seconds */
    readonly windowSec: number
  }
  /** 32 bytes as 64 hex chars or base64. Unset: a 0600 key file in the data dir. */
  readonly masterKey: string | undefined
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  readonly ingest: IngestConfig
  readonly auth: AuthConfig
  /** Storage tiers for the retention policy's hot period (core/src/storage-tiers.ts). */
  readonly storage: StorageConfig
  /**
   * Who runs this Vigil, recorded with each rule and playbook version it loads and each
   * `vigil rules test` run, next to the OS user (core/src/control-versions.ts). @defaultValue unset: the OS user only
   */
  readonly operator: string | undefined
}

/** Where parts past their hot period go (docs/reports.md "Retention"). */
export interface StorageConfig {
  /** Embedded chDB: the directory of the `cold` disk. @defaultValue `<VIGIL_DATA_DIR>/cold` */
  readonly coldDir: string
  /** ClickHouse server: an existing storage policy with a volume named `cold`. Unset: no tiering. */
  readonly policy: string | undefined
}

/** People's sign-in and sessions (server/src/sessions.ts, login-throttle.ts). */
export interface AuthConfig {
  /** Failed sign-ins on one account within the window that lock it. @defaultValue `5` */
  readonly maxFailuresPerAccount: number
  /** Failed sign-ins from one IP within the window that lock it. @defaultValue `20` */
  readonly maxFailuresPerIp: number
  /** How far back failures count, seconds. @defaultValue `900` */
  readonly failureWindowSec: number
  /** How long a lockout lasts before it is released, seconds. @defaultValue `900` */
  readonly lockoutSec: number
  /** Lifetime of a session's access token (JWT), seconds; at most 600. @defaultValue `600` */
  readonly accessTtlSec: number
  /** A session unused (not refreshed) this long ends, seconds. @defaultValue `1800` */
  readonly idleTimeoutSec: number
  /** A session ends this long after sign-in whatever its use, seconds. @defaultValue `43200` (12 h) */
  readonly absoluteTimeoutSec: number
}

export interface IngestConfig {
  /** Events per request. @defaultValue `10000` */
  readonly maxEvents: number
  /** Bytes per request after decompression. @defaultValue `10485760` (10 MiB) */
  readonly maxBytes: number
  /** Sustained events per second per source. @defaultValue `200000` */
  readonly rateLimitPerSource: number
  /** Accepted skew of Vigil-Timestamp, seconds. @defaultValue `300` */
  readonly signatureToleranceSec: number
  /** How long a rotated-out source secret stays valid, seconds. @defaultValue `86400` */
  readonly rotationGraceSec: number
  /** Rows that make the batch writer flush at once. @defaultValue `10000` */
  readonly flushRows: number
  /** Longest a row waits before a flush, ms. @defaultValue `100` */
  readonly flushMs: number
  /** Spool size beyond which ingest answers 503. @defaultValue `1073741824` (1 GiB) */
  readonly spoolMaxBytes: number
}

interface Setting {
  /** Environment variable name; the same name (or its lower-case form) works in vigil.yaml. */
  env: string
  default?: string
  parse: (raw: string, name: string) => unknown
}

function bad(name: string, why: string): never {
  throw new VigilError('VIGIL_ERR_CONFIG_INVALID', `${name} ${why}`)
}

const asString = (raw: string) => raw
const asInt = (min: number, max: number) => (raw: string, name: string) => {
  if (!/^\d+$/.test(raw.trim())) bad(name, `must be an integer, got "${raw.slice(0, 40)}"`)
  const n = Number(raw)
  if (n < min || n > max) bad(name, `must be between ${min} and ${max}, got ${n}`)
  return n
}
const asUrl = (protocols: string[]) => (raw: string, name: string) => {
  let u: URL
  try {
    u = new URL(raw)
  } catch {
    return bad(name, 'is not a URL')
  }
  if (!protocols.includes(u.protocol)) bad(name, `must use ${protocols.join(' or ')}, got ${u.protocol}`)
  return raw
}
const asHost = (raw: string, name: string) => {
  if (!/^[A-Za-z0-9.:\-[\]]+$/.test(raw)) bad(name, 'is not a host name or address')
  return raw
}
const asEmailList = (raw: string, name: string) => {
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean)
  for (const e of list) if (!/^[^\s@]+@[^\s@]+$/.test(e)) bad(name, `has an address that is not an email: "${e.slice(0, 60)}"`)
  return list
}
const asSlackUserList = (raw: string, name: string) => {
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean)
  for (const u of list) if (!/^[UW][A-Z0-9]{2,31}$/.test(u)) bad(name, `has an entry that is not a Slack user id (U… or W…): "${u.slice(0, 40)}"`)
  return list
}
const asEmail = (raw: string, name: string) => {
  if (!/^[^<>\s@]*<?[^\s@<>]+@[^\s@<>]+>?$/.test(raw.trim())) bad(name, 'is not an email address')
  return raw.trim()
}
const asFile = (raw: string, name: string) => {
  if (!existsSync(raw)) bad(name, `names a file that does not exist: ${raw}`)
  return raw
}
const asLevel = (raw: string, name: string) => {
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']
  if (!levels.includes(raw)) bad(name, `must be one of ${levels.join(', ')}`)
  return raw
}
const asMasterKey = (raw: string, name: string) => {
  const t = raw.trim()
  // Strict forms only: Buffer.from(…, 'base64') silently skips characters it does not know.
  const ok = /^[0-9a-fA-F]{64}$/.test(t) || /^[A-Za-z0-9+/]{43}=?$/.test(t) || /^[A-Za-z0-9_-]{43}$/.test(t)
  if (!ok) bad(name, 'must be 32 bytes as 64 hex characters or base64')
  return t
}

const asPath = (raw: string, name: string) => {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f]/.test(raw)) bad(name, 'must be a path without control characters')
  return raw
}
const asIdentifier = (raw: string, name: string) => {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(raw)) bad(name, `must be a ClickHouse storage policy name (letters, digits, _), got "${raw.slice(0, 40)}"`)
  return raw
}

const asOperator = (raw: string, name: string) => {
  const t = raw.trim()
  // eslint-disable-next-line no-control-regex
  if (t.length === 0 || t.length > 128 || /[\u0000-\u001f\u007f]/.test(t)) bad(name, 'must be 1-128 characters without control characters (a person or team name)')
  return t
}

const SETTINGS = {
  dataDir: { env: 'VIGIL_DATA_DIR', default: './data', parse: asString },
  host: { env: 'VIGIL_HOST', default: '127.0.0.1', parse: asHost },
  port: { env: 'VIGIL_PORT', default: '8080', parse: asInt(0, 65535) },
  clickhouseUrl: { env: 'CLICKHOUSE_URL', parse: asUrl(['http:', 'https:']) },
  clickhouseUser: { env: 'CLICKHOUSE_USER', parse: asString },
  clickhousePassword: { env: 'CLICKHOUSE_PASSWORD', parse: asString },
  redisUrl: { env: 'REDIS_URL', parse: asUrl(['redis:', 'rediss:']) },
  slackToken: { env: 'SLACK_TOKEN', parse: asString },
  slackChannel: { env: 'SLACK_CHANNEL', parse: asString },
  slackApiUrl: { env: 'SLACK_API_URL', parse: asUrl(['http:', 'https:']) },
  slackSigningSecret: { env: 'SLACK_SIGNING_SECRET', parse: asString },
  slackApprovers: { env: 'SLACK_APPROVERS', default: '', parse: asSlackUserList },
  publicUrl: { env: 'VIGIL_PUBLIC_URL', parse: asUrl(['http:', 'https:']) },
  smtpUrl: { env: 'SMTP_URL', parse: asUrl(['smtp:', 'smtps:']) },
  emailFrom: { env: 'EMAIL_FROM', parse: asEmail },
  emailTo: { env: 'EMAIL_TO', default: '', parse: asEmailList },
  elasticsearchUrl: { env: 'ELASTICSEARCH_URL', parse: asUrl(['http:', 'https:']) },
  tlsCert: { env: 'VIGIL_TLS_CERT', parse: asFile },
  tlsKey: { env: 'VIGIL_TLS_KEY', parse: asFile },
  tlsClientCa: { env: 'VIGIL_TLS_CLIENT_CA', parse: asFile },
  apiRateLimit: { env: 'VIGIL_API_RATE_LIMIT', default: '600', parse: asInt(1, 1_000_000) },
  apiRateWindow: { env: 'VIGIL_API_RATE_WINDOW', default: '60', parse: asInt(1, 86_400) },
  masterKey: { env: 'VIGIL_MASTER_KEY', parse: asMasterKey },
  logLevel: { env: 'VIGIL_LOG_LEVEL', default: 'info', parse: asLevel },
  ingestMaxEvents: { env: 'VIGIL_INGEST_MAX_EVENTS', default: '10000', parse: asInt(1, 1_000_000) },
  ingestMaxBytes: { env: 'VIGIL_INGEST_MAX_BYTES', default: String(10 * 1024 * 1024), parse: asInt(1024, 1024 * 1024 * 1024) },
  ingestRateLimit: { env: 'VIGIL_INGEST_RATE_LIMIT', default: '200000', parse: asInt(1, 100_000_000) },
  ingestTolerance: { env: 'VIGIL_INGEST_SIGNATURE_TOLERANCE', default: '300', parse: asInt(1, 3600) },
  ingestRotationGrace: { env: 'VIGIL_SOURCE_ROTATION_GRACE', default: '86400', parse: asInt(0, 90 * 86400) },
  ingestFlushRows: { env: 'VIGIL_INGEST_FLUSH_ROWS', default: '10000', parse: asInt(1, 1_000_000) },
  ingestFlushMs: { env: 'VIGIL_INGEST_FLUSH_MS', default: '100', parse: asInt(1, 60_000) },
  ingestSpoolMaxBytes: { env: 'VIGIL_SPOOL_MAX_BYTES', default: String(1024 * 1024 * 1024), parse: asInt(0, Number.MAX_SAFE_INTEGER) },
  authMaxFailuresAccount: { env: 'VIGIL_AUTH_MAX_FAILURES_PER_ACCOUNT', default: '5', parse: asInt(1, 1000) },
  authMaxFailuresIp: { env: 'VIGIL_AUTH_MAX_FAILURES_PER_IP', default: '20', parse: asInt(1, 100_000) },
  authFailureWindow: { env: 'VIGIL_AUTH_FAILURE_WINDOW', default: '900', parse: asInt(1, 86_400) },
  authLockout: { env: 'VIGIL_AUTH_LOCKOUT', default: '900', parse: asInt(1, 7 * 86_400) },
  sessionAccessTtl: { env: 'VIGIL_SESSION_ACCESS_TTL', default: '600', parse: asInt(30, 600) },
  sessionIdleTimeout: { env: 'VIGIL_SESSION_IDLE_TIMEOUT', default: '1800', parse: asInt(60, 7 * 86_400) },
  sessionAbsoluteTimeout: { env: 'VIGIL_SESSION_ABSOLUTE_TIMEOUT', default: '43200', parse: asInt(60, 30 * 86_400) },
  coldDir: { env: 'VIGIL_COLD_DIR', parse: asPath },
  storagePolicy: { env: 'VIGIL_STORAGE_POLICY', parse: asIdentifier },
  operator: { env: 'VIGIL_OPERATOR', parse: asOperator },
} satisfies Record<string, Setting>

type SettingKey = keyof typeof SETTINGS

/** The environment variables Vigil understands, for docs and `--help`. */
export const CONFIG_SETTINGS: ReadonlyArray<{ env: string; default: string | undefined }> = Object.values(SETTINGS).map(
  (s: Setting) => ({ env: s.env, default: s.default }),
)

export interface LoadConfigOptions {
  /** Path of a vigil.yaml. @defaultValue `$VIGIL_CONFIG`, else `./vigil.yaml` when present */
  file?: string
  cwd?: string
}

function readYaml(file: string): Record<string, unknown> {
  let doc: unknown
  try {
    doc = parseYaml(readFileSync(file, 'utf8'))
  } catch (err) {
    bad('vigil.yaml', `could not be read: ${(err as Error).message.split('\n')[0]}`)
  }
  if (doc == null) return {}
  if (typeof doc !== 'object' || Array.isArray(doc)) bad('vigil.yaml', 'must be a mapping of setting names to values')
  return doc as Record<string, unknown>
}

/**
 * Reads, validates and freezes the configuration. Environment wins over vigil.yaml.
 * Throws a `VigilError` (`config_invalid`) whose message names the setting.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, opts: LoadConfigOptions = {}): VigilConfig {
  const cwd = opts.cwd ?? process.cwd()
  const yamlPath = opts.file ?? env.VIGIL_CONFIG ?? (existsSync(path.join(cwd, 'vigil.yaml')) ? path.join(cwd, 'vigil.yaml') : undefined)
  const fromYaml = yamlPath ? readYaml(path.resolve(cwd, yamlPath)) : {}
  const yamlKeys = new Map(Object.entries(fromYaml).map(([k, v]) => [k.toUpperCase(), v]))
  const known = new Set(Object.values(SETTINGS).map((s: Setting) => s.env))
  for (const k of yamlKeys.keys()) if (!known.has(k)) bad('vigil.yaml', `has an unknown setting "${k.slice(0, 60)}"`)

  const v = {} as Record<SettingKey, unknown>
  for (const [key, s] of Object.entries(SETTINGS) as [SettingKey, Setting][]) {
    let raw: string | undefined = env[s.env]
    if (raw === undefined || raw === '') {
      const y = yamlKeys.get(s.env)
      if (y !== undefined && y !== null) {
        if (Array.isArray(y)) raw = y.map(String).join(',')
        else if (typeof y === 'object') bad(s.env, 'must be a scalar')
        else raw = String(y)
      }
    }
    if (raw === undefined || raw === '') raw = s.default
    v[key] = raw === undefined ? undefined : s.parse(raw, s.env)
  }
  if ((v.tlsCert === undefined) !== (v.tlsKey === undefined)) {
    bad(v.tlsCert === undefined ? 'VIGIL_TLS_CERT' : 'VIGIL_TLS_KEY', 'must be set together with its pair')
  }
  if (v.tlsClientCa !== undefined && v.tlsCert === undefined) bad('VIGIL_TLS_CLIENT_CA', 'needs VIGIL_TLS_CERT and VIGIL_TLS_KEY: client certificates are only asked for over TLS')
  if (v.redisUrl === undefined && env.REDIS_URL === '') bad('REDIS_URL', 'is set but empty')

  const str = (k: SettingKey) => v[k] as string | undefined
  const int = (k: SettingKey) => v[k] as number
  const dataDir = path.resolve(cwd, str('dataDir') as string)
  const coldDir = path.resolve(cwd, str('coldDir') ?? path.join(dataDir, 'cold'))
  const engineDir = path.join(dataDir, 'clickhouse')
  if (coldDir === engineDir || coldDir.startsWith(engineDir + path.sep) || engineDir.startsWith(coldDir + path.sep)) {
    bad('VIGIL_COLD_DIR', `must not contain or lie inside the embedded engine's directory ${engineDir}`)
  }
  if (existsSync(coldDir) && !statSync(coldDir).isDirectory()) bad('VIGIL_COLD_DIR', `names something that is not a directory: ${coldDir}`)
  if (str('storagePolicy') !== undefined && str('clickhouseUrl') === undefined) {
    bad('VIGIL_STORAGE_POLICY', 'only applies with CLICKHOUSE_URL: embedded chDB uses its own policy over VIGIL_COLD_DIR')
  }
  const config: VigilConfig = {
    dataDir,
    host: str('host') as string,
    port: int('port'),
    clickhouse: { url: str('clickhouseUrl'), user: str('clickhouseUser'), password: str('clickhousePassword') },
    redisUrl: str('redisUrl'),
    slack: { token: str('slackToken'), channel: str('slackChannel'), apiUrl: str('slackApiUrl'), signingSecret: str('slackSigningSecret'), approvers: (v.slackApprovers as string[] | undefined) ?? [] },
    publicUrl: (str('publicUrl') ?? `${v.tlsCert === undefined ? 'http' : 'https'}://${hostForUrl(str('host') as string)}:${int('port')}`).replace(/\/+$/, ''),
    smtpUrl: str('smtpUrl'),
    emailFrom: str('emailFrom'),
    emailTo: (v.emailTo as string[] | undefined) ?? [],
    elasticsearchUrl: str('elasticsearchUrl'),
    tls: { cert: str('tlsCert'), key: str('tlsKey'), clientCa: str('tlsClientCa') },
    apiRateLimit: { max: int('apiRateLimit'), windowSec: int('apiRateWindow') },
    masterKey: str('masterKey'),
    logLevel: str('logLevel') as VigilConfig['logLevel'],
    ingest: {
      maxEvents: int('ingestMaxEvents'),
      maxBytes: int('ingestMaxBytes'),
      rateLimitPerSource: int('ingestRateLimit'),
      signatureToleranceSec: int('ingestTolerance'),
      rotationGraceSec: int('ingestRotationGrace'),
      flushRows: int('ingestFlushRows'),
      flushMs: int('ingestFlushMs'),
      spoolMaxBytes: int('ingestSpoolMaxBytes'),
    },
    auth: {
      maxFailuresPerAccount: int('authMaxFailuresAccount'),
      maxFailuresPerIp: int('authMaxFailuresIp'),
      failureWindowSec: int('authFailureWindow'),
      lockoutSec: int('authLockout'),
      accessTtlSec: int('sessionAccessTtl'),
      idleTimeoutSec: int('sessionIdleTimeout'),
      absoluteTimeoutSec: int('sessionAbsoluteTimeout'),
    },
    storage: { coldDir, policy: str('storagePolicy') },
    operator: str('operator'),
  }
  return deepFreeze(config)
}

/** A host as it goes in a URL: IPv6 in brackets, the unspecified address as loopback. */
function hostForUrl(host: string): string {
  const h = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host
  return h.includes(':') ? `[${h}]` : h
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const val of Object.values(o)) deepFreeze(val)
    Object.freeze(o)
  }
  return o
}
