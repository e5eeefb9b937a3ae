/**
 * The one registry of Vigil's errors.
 *
 * Relied on by: every HTTP route (the JSON body `{"error": {"code", "message"}}` of
 * CONTRACT §2 and §4 is built only from here), the CLI (stderr lines), and
 * `docs/errors.md`, which `errors.test.ts` keeps in step with this table.
 * The `code` strings are public: never rename one, add a new one instead.
 */

export const ERRORS = {
  // ingest (CONTRACT §2)
  VIGIL_ERR_INGEST_UNAUTHORIZED: { status: 401, code: 'unauthorized', message: 'Missing or unknown Vigil-Source' },
  VIGIL_ERR_INGEST_BAD_SIGNATURE: { status: 401, code: 'bad_signature', message: 'Vigil-Signature does not match the body' },
  VIGIL_ERR_INGEST_STALE_TIMESTAMP: { status: 401, code: 'stale_timestamp', message: 'Vigil-Timestamp is missing or outside the allowed window' },
  VIGIL_ERR_INGEST_REPLAYED: { status: 409, code: 'replayed', message: 'This signature was already used' },
  VIGIL_ERR_INGEST_PAYLOAD_TOO_LARGE: { status: 413, code: 'payload_too_large', message: 'Request body exceeds the size or event-count limit' },
  VIGIL_ERR_INGEST_UNSUPPORTED_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type', message: 'Use application/x-ndjson or application/json, optionally gzip-encoded' },
  VIGIL_ERR_INGEST_MALFORMED_BODY: { status: 400, code: 'malformed_body', message: 'The body could not be read as events' },
  VIGIL_ERR_INGEST_RATE_LIMITED: { status: 429, code: 'rate_limited', message: 'Too many events from this source; retry later' },
  VIGIL_ERR_INGEST_UNAVAILABLE: { status: 503, code: 'unavailable', message: 'Storage is unavailable and the spool is full; retry later' },

  // operator API (CONTRACT §4)
  VIGIL_ERR_AUTH_REQUIRED: { status: 401, code: 'unauthorized', message: 'A valid bearer token is required' },
  VIGIL_ERR_AUTH_FORBIDDEN: { status: 403, code: 'forbidden', message: 'Your role does not allow this' },
  VIGIL_ERR_API_BAD_REQUEST: { status: 400, code: 'bad_request', message: 'The request is not valid' },
  VIGIL_ERR_API_BAD_CURSOR: { status: 400, code: 'bad_cursor', message: 'The cursor is not one this server issued' },
  VIGIL_ERR_API_NOT_FOUND: { status: 404, code: 'not_found', message: 'No such resource' },
  VIGIL_ERR_API_METHOD_NOT_ALLOWED: { status: 405, code: 'method_not_allowed', message: 'Method not allowed on this route' },
  VIGIL_ERR_API_RATE_LIMITED: { status: 429, code: 'rate_limited', message: 'Too many requests; retry later' },
  VIGIL_ERR_API_UNAVAILABLE: { status: 503, code: 'unavailable', message: 'A backing service is unavailable; retry later' },
  VIGIL_ERR_DASHBOARD_NOT_BUILT: { status: 503, code: 'dashboard_not_built', message: 'The dashboard is not built; run npm run build' },
  VIGIL_ERR_INTERNAL: { status: 500, code: 'internal_error', message: 'Internal error' },

  // configuration and CLI
  VIGIL_ERR_CONFIG_INVALID: { status: 500, code: 'config_invalid', message: 'Invalid configuration' },
  VIGIL_ERR_RULE_INVALID: { status: 400, code: 'rule_invalid', message: 'A detection rule file is not valid' },
  VIGIL_ERR_CLI_USAGE: { status: 400, code: 'usage', message: 'Invalid command usage' },
  VIGIL_ERR_SOURCE_EXISTS: { status: 409, code: 'source_exists', message: 'A source with this id already exists' },
  VIGIL_ERR_SOURCE_NOT_FOUND: { status: 404, code: 'source_not_found', message: 'No such source' },
  VIGIL_ERR_SOURCE_BAD_ID: { status: 400, code: 'bad_source_id', message: 'A source id is 1-64 characters of a-z, A-Z, 0-9, ".", "_" or "-"' },
  VIGIL_ERR_TOKEN_BAD_ROLE: { status: 400, code: 'bad_role', message: 'Unknown role' },
  VIGIL_ERR_TOKEN_BAD_TTL: { status: 400, code: 'bad_ttl', message: 'A TTL is a number followed by s, m, h or d (e.g. 1h)' },

  // infrastructure
  VIGIL_ERR_STORE_UNAVAILABLE: { status: 503, code: 'store_unavailable', message: 'ClickHouse is unavailable' },
  VIGIL_ERR_STORE_MIGRATION: { status: 500, code: 'migration_failed', message: 'A storage migration failed' },
  VIGIL_ERR_REDIS_UNAVAILABLE: { status: 503, code: 'redis_unavailable', message: 'Redis is unavailable' },
  VIGIL_ERR_REDIS_BINARY_MISSING: {
    status: 500,
    code: 'redis_missing',
    message: 'redis-server was not found: install Debian package "redis-server" (apt-get install redis-server) or set REDIS_URL',
  },
  VIGIL_ERR_CRYPTO_MASTER_KEY: { status: 500, code: 'master_key_invalid', message: 'The master key is missing or malformed' },
  VIGIL_ERR_CRYPTO_DECRYPT: { status: 500, code: 'decrypt_failed', message: 'A stored secret could not be decrypted with the master key' },

  // server: operator API bodies, tokens, start-up
  VIGIL_ERR_API_PAYLOAD_TOO_LARGE: { status: 413, code: 'payload_too_large', message: 'Request body is too large' },
  VIGIL_ERR_API_UNSUPPORTED_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type', message: 'Send application/json' },
  VIGIL_ERR_API_MALFORMED_BODY: { status: 400, code: 'malformed_body', message: 'The body is not valid JSON' },
  VIGIL_ERR_TOKEN_NOT_FOUND: { status: 404, code: 'token_not_found', message: 'No such token' },
  VIGIL_ERR_TOKEN_BAD_NAME: { status: 400, code: 'bad_token_name', message: 'A token name is 1-128 printable characters' },
  // server: people, sign-in and sessions (CONTRACT §4 "the dashboard's session", §6 vigil users)
  VIGIL_ERR_USER_BAD_EMAIL: { status: 400, code: 'bad_email', message: 'An email address is name@domain, at most 254 characters' },
  VIGIL_ERR_USER_EXISTS: { status: 409, code: 'user_exists', message: 'A person with this email already exists' },
  VIGIL_ERR_USER_NOT_FOUND: { status: 404, code: 'user_not_found', message: 'No such person' },
  VIGIL_ERR_USER_WEAK_PASSWORD: { status: 400, code: 'weak_password', message: 'The password is too weak' },
  VIGIL_ERR_AUTH_BAD_CREDENTIALS: { status: 401, code: 'bad_credentials', message: 'Wrong email or password' },
  VIGIL_ERR_AUTH_LOCKED_OUT: { status: 429, code: 'locked_out', message: 'Too many failed sign-ins; try again later' },
  VIGIL_ERR_AUTH_MFA_FAILED: { status: 401, code: 'mfa_failed', message: 'The one-time code or recovery code is wrong, expired or already used' },
  VIGIL_ERR_AUTH_MFA_ENROLMENT_REQUIRED: { status: 403, code: 'mfa_enrolment_required', message: 'Enrol an authenticator (TOTP) before doing anything else' },
  VIGIL_ERR_AUTH_MFA_ALREADY_ENROLLED: { status: 409, code: 'mfa_already_enrolled', message: 'This person has already enrolled an authenticator' },
  VIGIL_ERR_AUTH_MFA_NOT_STARTED: { status: 409, code: 'mfa_enrolment_not_started', message: 'Start enrolment first (POST /v1/auth/mfa/enrol)' },
  VIGIL_ERR_AUTH_SESSION_INVALID: { status: 401, code: 'session_invalid', message: 'The session is missing, expired or was signed out; sign in again' },
  VIGIL_ERR_AUTH_NOT_A_PERSON: { status: 400, code: 'not_a_person', message: "This route is for a person's session, not an API token" },
  VIGIL_ERR_STORE_LOCKED: {
    status: 503,
    code: 'store_locked',
    message: 'The data directory is in use by another Vigil process (is `vigil up` running?); stop it first, or set CLICKHOUSE_URL to share a ClickHouse server',
  },
  VIGIL_ERR_SERVER_LISTEN: { status: 500, code: 'listen_failed', message: 'Could not listen on VIGIL_HOST:VIGIL_PORT' },
  // respond: control channel (CONTRACT §3), keys, kill-switches, incidents, playbooks, audit
  VIGIL_ERR_CONTROL_UNAUTHORIZED: { status: 401, code: 'unauthorized', message: 'Missing or unknown Vigil-Source' },
  VIGIL_ERR_CONTROL_BAD_SIGNATURE: { status: 401, code: 'bad_signature', message: 'Vigil-Signature does not match the request' },
  VIGIL_ERR_CONTROL_STALE_TIMESTAMP: { status: 401, code: 'stale_timestamp', message: 'Vigil-Timestamp is missing or outside the allowed window' },
  VIGIL_ERR_CONTROL_VERSION_GONE: { status: 410, code: 'version_gone', message: 'Changes since this version are no longer kept; fetch /v1/control/state' },
  VIGIL_ERR_CONTROL_BAD_VERSION: { status: 400, code: 'bad_version', message: 'A control version is a non-negative integer' },
  VIGIL_ERR_KEY_BAD_ID: { status: 400, code: 'bad_api_key_id', message: 'An api_key_id is 1-128 printable characters' },
  VIGIL_ERR_KEY_ALREADY_REVOKED: { status: 409, code: 'already_revoked', message: 'This key is already revoked' },
  VIGIL_ERR_KEY_NOT_REVOKED: { status: 409, code: 'not_revoked', message: 'This key is not revoked' },
  VIGIL_ERR_KILLSWITCH_NOT_FOUND: { status: 404, code: 'killswitch_not_found', message: 'No such kill-switch' },
  VIGIL_ERR_KILLSWITCH_BAD_SCOPE: { status: 400, code: 'bad_scope', message: 'A scope is {type, id} with type global, source, account, api_key, symbol or venue' },
  VIGIL_ERR_KILLSWITCH_NOT_TRIPPED: { status: 409, code: 'not_tripped', message: 'This kill-switch is not tripped' },
  VIGIL_ERR_KILLSWITCH_FOUR_EYES: { status: 409, code: 'four_eyes_required', message: 'A reset needs a second person: the one who requested it cannot confirm it' },
  VIGIL_ERR_REASON_REQUIRED: { status: 400, code: 'reason_required', message: 'A reason (1-1000 characters) is required' },
  VIGIL_ERR_INCIDENT_NOT_FOUND: { status: 404, code: 'incident_not_found', message: 'No such incident' },
  VIGIL_ERR_APPROVAL_NOT_FOUND: { status: 404, code: 'approval_not_found', message: 'No such approval request' },
  VIGIL_ERR_APPROVAL_DECIDED: { status: 409, code: 'approval_decided', message: 'This approval request was already decided or has expired' },
  VIGIL_ERR_SLACK_BAD_SIGNATURE: { status: 401, code: 'bad_signature', message: 'X-Slack-Signature does not match the request' },
  VIGIL_ERR_SLACK_STALE_TIMESTAMP: { status: 401, code: 'stale_timestamp', message: 'X-Slack-Request-Timestamp is missing or older than five minutes' },
  VIGIL_ERR_SLACK_REPLAYED: { status: 409, code: 'replayed', message: 'This Slack request was already received' },
  VIGIL_ERR_SLACK_UNSUPPORTED_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type', message: 'Slack interactions are application/x-www-form-urlencoded' },
  VIGIL_ERR_SLACK_NOT_CONFIGURED: { status: 503, code: 'slack_not_configured', message: 'Slack interactivity needs SLACK_SIGNING_SECRET' },
  VIGIL_ERR_PLAYBOOK_INVALID: { status: 400, code: 'playbook_invalid', message: 'A playbook file is not valid' },
  VIGIL_ERR_RESPOND_DLQ_NOT_FOUND: { status: 404, code: 'dead_letter_not_found', message: 'No such dead-lettered step' },
  VIGIL_ERR_RESPOND_DLQ_RETRIED: { status: 409, code: 'dead_letter_retried', message: 'This dead-lettered step was already retried or is being retried' },
  VIGIL_ERR_AUDIT_BROKEN: { status: 500, code: 'audit_chain_broken', message: 'The audit chain does not verify' },
  // respond: regulatory reports (CONTRACT §4 /v1/reports, §6 vigil reports generate)
  VIGIL_ERR_REPORT_UNKNOWN_TYPE: {
    status: 400,
    code: 'unknown_report_type',
    message: 'Unknown report type; one of kill-switch-log, pretrade-breaches, alert-latency, clock-sync, dora-incident, market-access-review, audit-integrity',
  },
  VIGIL_ERR_REPORT_BAD_FORMAT: { status: 400, code: 'bad_report_format', message: 'A report format is pdf, json or csv' },
  VIGIL_ERR_REPORT_BAD_PERIOD: { status: 400, code: 'bad_period', message: 'A report period needs from and to as RFC 3339 times' },
  VIGIL_ERR_REPORT_EMPTY_PERIOD: { status: 400, code: 'empty_period', message: 'A report period must end after it starts (to > from)' },
  VIGIL_ERR_REPORT_PERIOD_TOO_LONG: { status: 400, code: 'period_too_long', message: 'A report period is at most 400 days' },
  VIGIL_ERR_REPORT_INCIDENT_REQUIRED: { status: 400, code: 'incident_required', message: 'A dora-incident report needs an incident id' },
  VIGIL_ERR_REPORT_NOT_FOUND: { status: 404, code: 'report_not_found', message: 'No such report' },
  VIGIL_ERR_REPORT_INTEGRITY: { status: 409, code: 'report_integrity', message: 'The stored report file no longer matches the SHA-256 recorded when it was written' },
  // detect and server: the dashboard's rules page and key explorer (/v1/rules, /v1/keys)
  VIGIL_ERR_RULE_NOT_FOUND: { status: 404, code: 'rule_not_found', message: 'No such detection rule' },
  VIGIL_ERR_RULE_BAD_CHANGE: { status: 400, code: 'bad_rule_change', message: 'A rule switch is {"enabled": true|false, "reason": "1-1000 characters"}' },
  VIGIL_ERR_RULE_UNCHANGED: { status: 409, code: 'rule_unchanged', message: 'The rule is already in that state' },
  VIGIL_ERR_RULE_TEST_RUN_INVALID: { status: 400, code: 'bad_rule_test_run', message: 'A rule test run summary is not valid' },
  VIGIL_ERR_KEY_BAD_QUERY: { status: 400, code: 'bad_key_query', message: 'q is 1-128 printable characters (a prefix of an api_key_id or account_id); limit is 1-100' },
  // detect, respond and server: the dashboard's live alerts and incident actions (/v1/alerts/stream, /v1/incidents)
  VIGIL_ERR_ALERTS_BAD_LAST_EVENT_ID: { status: 400, code: 'bad_last_event_id', message: 'Last-Event-ID is not a position this stream sent; reconnect without it' },
  VIGIL_ERR_ALERT_NOT_FOUND: { status: 404, code: 'alert_not_found', message: 'No such alert' },
  VIGIL_ERR_ALERT_IN_INCIDENT: { status: 409, code: 'alert_in_incident', message: 'This alert is already in another incident (its incident_id names it)' },
  VIGIL_ERR_API_BAD_TIME_RANGE: { status: 400, code: 'bad_time_range', message: 'from and to are RFC 3339 times, from before to, at most 239 days apart' },
  // server: transport (TLS, mTLS)
  VIGIL_ERR_TLS_CLIENT_CERT_REQUIRED: {
    status: 401,
    code: 'client_cert_required',
    message: 'This route needs a client certificate issued by the CA in VIGIL_TLS_CLIENT_CA',
  },
} as const satisfies Record<string, { status: number; code: string; message: string }>

export type ErrorName = keyof typeof ERRORS

/** The JSON body every Vigil HTTP error answers with. */
export interface ErrorBody {
  error: { code: string; message: string }
}

/**
 * An error Vigil means to show. `message` may add detail to the registry's text but is
 * built by the caller from values it knows to be safe (never a secret or raw body).
 */
export class VigilError extends Error {
  override readonly name = 'VigilError'
  readonly errName: ErrorName
  readonly code: string
  readonly statusCode: number
  /** Extra response headers, e.g. Retry-After. */
  readonly headers: Readonly<Record<string, string>>

  constructor(errName: ErrorName, detail?: string, opts: { headers?: Record<string, string>; cause?: unknown } = {}) {
    const def = ERRORS[errName]
    super(detail ? `${def.message}: ${detail}` : def.message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.errName = errName
    this.code = def.code
    this.statusCode = def.status
    this.headers = Object.freeze({ ...(opts.headers ?? {}) })
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message } }
  }
}

export function vigilError(errName: ErrorName, detail?: string, opts?: { headers?: Record<string, string>; cause?: unknown }): VigilError {
  return new VigilError(errName, detail, opts)
}

export function isVigilError(err: unknown): err is VigilError {
  return err instanceof VigilError
}
