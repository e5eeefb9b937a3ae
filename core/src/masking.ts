/**
 * Masking of secrets that slip into audit events and log lines (CONTRACT §1: "Secrets that
 * slip into any string field … are masked before anything is stored or logged").
 *
 * Relied on by: ingest (every event goes through `maskEvent` before it is stored, so this
 * sits on the 100k events/s hot path), the logger (every string of every log line), and
 * anyone reading stored data: the `[masked:<kind>]` replacement text is persisted, so its
 * shape and the kind names in `MASK_KINDS` are part of what operators and reports see.
 *
 * Two guarantees the callers build on: masking is idempotent (masked text masks to itself,
 * so data can be re-masked after a rule change) and never throws, whatever the input.
 * Every regex below is linear: no nested quantifiers over overlapping classes, and the
 * open-ended scans of values are done by hand with a length cap.
 */
import { Buffer } from 'node:buffer'

/** Every `<kind>` that can appear in `[masked:<kind>]`; a card is `[masked:card …1234]`. */
export const MASK_KINDS = [
  'authorization',
  'password',
  'passwd',
  'pwd',
  'secret',
  'client_secret',
  'token',
  'access_token',
  'refresh_token',
  'api_key',
  'apikey',
  'api_secret',
  'private_key',
  'signature',
  'card',
  'jwt',
] as const

type MaskKind = (typeof MASK_KINDS)[number]

const MASK_OPEN = '[masked:'
const masked = (kind: MaskKind): string => `${MASK_OPEN}${kind}]`
/** What a string becomes if masking it failed anyway: storing it as it was could leak. */
const UNMASKABLE = masked('secret')

/** Shorter than `pwd=x` nothing can be masked. */
const MIN_MASKABLE = 5
/** A value longer than this is cut off the mask: bounds the work one hostile value costs. */
const MAX_VALUE = 4096

// ---------------------------------------------------------------------------------------
// Pre-checks. On clean text (almost every event) they answer 0 and no rule runs. Each flag
// is a necessary condition of its rules, never a sufficient one. Words and prefixes are
// found with literal alternations, which V8's regex engine scans several times faster than
// a loop over charCodeAt; digit counts and run lengths are found by striding (see below).

const NEED_WORD_RULES = 1 // key=value, Bearer/Basic, prefixed secrets, JWTs
const NEED_ENTROPY = 2
const NEED_CARD = 4

/** Every key name, `bearer`/`basic`, every secret prefix and `eyJ` contain one of these. */
const TEXT_HINT_RE = /pass|pwd|secret|token|key|signature|authorization|bearer|basic|sk_|rk_|gh[pousr]_|github_pat_|xox|akia|asia|vg[st]_|eyj/i
/** Identifiers hold no prose: a key=value or an auth scheme needs `=`, `:` or a blank. */
const IDENTIFIER_HINT_RE = /[=: \t]|[sr]k_|gh[pousr]_|github_pat_|xox[abpr]-|A[KS]IA|vg[st]_|eyJ/
/**
 * Second look when a first hint fired: a key name right before its `=`/`:`, a scheme before
 * its blank, or a prefix. Slower than the first hints, so it only runs after them; it keeps
 * `orders:write` scopes and prose mentioning a "token" away from the rules.
 */
const WORD_RULES_HINT_RE =
  /(?:pwd|passwd|password|secret|token|key|signature|authorization)["'\\ \t]{0,10}[=:]|(?:bearer|basic)[ \t]|[sr]k_|gh[pousr]_|github_pat_|xox|akia|asia|vg[st]_|eyj/i

/** Shortest token the entropy rule considers, and its longest letters-and-digits stretch. */
const ENTROPY_MIN_LENGTH = 32
const ENTROPY_MIN_SEGMENT = 16
const CARD_MIN_DIGITS = 13

// Character classes of the base64/base64url alphabet.
const LETTER = 1
const DIGIT = 2
const TOKEN_PUNCT = 3 // + / _ -
const CHAR_CLASS = new Uint8Array(128)
for (let c = 65; c <= 90; c++) CHAR_CLASS[c] = LETTER
for (let c = 97; c <= 122; c++) CHAR_CLASS[c] = LETTER
for (let c = 48; c <= 57; c++) CHAR_CLASS[c] = DIGIT
for (const c of '+/_-') CHAR_CLASS[c.charCodeAt(0)] = TOKEN_PUNCT

function classAt(s: string, i: number): number {
  const c = s.charCodeAt(i)
  return c < 128 ? CHAR_CLASS[c]! : 0
}

function isAlnumCode(c: number): boolean {
  return c < 128 && CHAR_CLASS[c]! !== 0 && CHAR_CLASS[c]! !== TOKEN_PUNCT
}

const isAlnumAt = (s: string, i: number): boolean => isAlnumCode(s.charCodeAt(i))
const isTokenAt = (s: string, i: number): boolean => classAt(s, i) !== 0
const isCardCharAt = (s: string, i: number): boolean => {
  const c = s.charCodeAt(i)
  return (c >= 48 && c <= 57) || c === 32 || c === 45
}

/*
 * The two shape checks below stride instead of visiting every character: a run of
 * `2 × stride` characters of one class always holds two stride points `stride` apart, so a
 * run is measured only where two such points are both in the class. The loop then goes on
 * past the run it measured, so each character is looked at a bounded number of times and
 * hostile input stays linear.
 */

/** Start and end of the run of `inClass` characters around `i`. */
function runAround(s: string, i: number, inClass: (s: string, i: number) => boolean): [number, number] {
  let a = i
  while (a > 0 && inClass(s, a - 1)) a--
  let b = i
  while (b < s.length && inClass(s, b)) b++
  return [a, b]
}

/** A run of ≥ 16 letters and digits inside a run of ≥ 32 base64/base64url characters. */
function mayHoldHighEntropy(s: string): boolean {
  const n = s.length
  if (n < ENTROPY_MIN_LENGTH) return false
  const stride = ENTROPY_MIN_SEGMENT / 2
  for (let i = 0; i + stride < n; i += stride) {
    if (!isAlnumAt(s, i) || !isAlnumAt(s, i + stride)) continue
    const [a, b] = runAround(s, i + stride, isAlnumAt)
    if (b - a >= ENTROPY_MIN_SEGMENT) {
      const [ta, tb] = runAround(s, a, isTokenAt)
      if (tb - ta >= ENTROPY_MIN_LENGTH) return true
      i = tb
    } else {
      i = b
    }
  }
  return false
}

/** ≥ 13 digits in one run of digits, blanks and dashes. */
function mayHoldCard(s: string): boolean {
  const n = s.length
  if (n < CARD_MIN_DIGITS) return false
  const stride = 6
  for (let i = 0; i + stride < n; i += stride) {
    if (!isCardCharAt(s, i) || !isCardCharAt(s, i + stride)) continue
    const [a, b] = runAround(s, i + stride, isCardCharAt)
    let digits = 0
    for (let j = a; j < b && digits < CARD_MIN_DIGITS; j++) {
      const c = s.charCodeAt(j)
      if (c >= 48 && c <= 57) digits++
    }
    if (digits >= CARD_MIN_DIGITS) return true
    i = b
  }
  return false
}

// ---------------------------------------------------------------------------------------
// (b) key=value, key: value, "key":"value" — and (a) Authorization: <value>.

const SECRET_KEYS =
  'authorization|client[_-]?secret|api[_-]?secret|api[_-]?key|access[_-]?token|refresh[_-]?token|private[_-]?key|password|passwd|pwd|secret|token|signature'
const KEY_VALUE_RE = new RegExp(`(${SECRET_KEYS})(\\\\?["'])?[ \\t]{0,8}[:=][ \\t]{0,8}`, 'gi')
const KEY_NAME_RE = new RegExp(`(?:${SECRET_KEYS})$`, 'gi')

const KIND_BY_COMPACT_KEY: Record<string, MaskKind> = {
  clientsecret: 'client_secret',
  apisecret: 'api_secret',
  apikey: 'apikey',
  accesstoken: 'access_token',
  refreshtoken: 'refresh_token',
  privatekey: 'private_key',
}

function kindOfKey(key: string): MaskKind {
  const lower = key.toLowerCase().replace('-', '_')
  return (MASK_KINDS as readonly string[]).includes(lower) ? (lower as MaskKind) : (KIND_BY_COMPACT_KEY[lower] ?? 'secret')
}

/**
 * A key name stands alone at `start`: after a non-alphanumeric (`db_password`, `X-Api-Key`)
 * or at a camelCase hump (`newPassword`), but not inside a word (`mytoken`).
 */
function keyStartsAt(s: string, start: number): boolean {
  if (start === 0) return true
  const prev = s.charCodeAt(start - 1)
  if (!isAlnumCode(prev)) return true
  const first = s.charCodeAt(start)
  const prevIsLowerOrDigit = (prev >= 97 && prev <= 122) || (prev >= 48 && prev <= 57)
  return prevIsLowerOrDigit && first >= 65 && first <= 90
}

function isValueEnd(c: number): boolean {
  // Blank, control, & ; , " ' < > \ ) ] }
  return (
    c <= 32 || c === 38 || c === 59 || c === 44 || c === 34 || c === 39 || c === 60 || c === 62 || c === 92 || c === 41 || c === 93 || c === 125
  )
}

function isHeaderValueEnd(c: number): boolean {
  // An Authorization value runs to the end of the line (or of its quoted/query-string value).
  return (c < 32 && c !== 9) || c === 34 || c === 39 || c === 38 || c === 92
}

/** Where the value starting at `i` lies: [from, to) is masked, scanning resumes at `to`. */
function valueSpan(s: string, i: number, toEndOfLine: boolean): { from: number; to: number } {
  const n = s.length
  const c = s.charCodeAt(i)
  if (c === 92 && s.charCodeAt(i + 1) === 34) {
    // JSON inside a JSON string: \"password\":\"value\"
    const from = i + 2
    const limit = Math.min(n, from + MAX_VALUE)
    let j = from
    while (j < limit && !(s.charCodeAt(j) === 92 && s.charCodeAt(j + 1) === 34)) j++
    return { from, to: j }
  }
  if (c === 34 || c === 39) {
    const from = i + 1
    const limit = Math.min(n, from + MAX_VALUE)
    let j = from
    while (j < limit) {
      const d = s.charCodeAt(j)
      if (d === c) break
      j += d === 92 ? 2 : 1
    }
    return { from, to: Math.min(j, limit) }
  }
  const limit = Math.min(n, i + MAX_VALUE)
  let j = i
  if (toEndOfLine) while (j < limit && !isHeaderValueEnd(s.charCodeAt(j))) j++
  else while (j < limit && !isValueEnd(s.charCodeAt(j))) j++
  return { from: i, to: j }
}

function isJsonLiteral(s: string, from: number, to: number): boolean {
  const len = to - from
  if (len !== 4 && len !== 5) return false
  const v = s.slice(from, to)
  return v === 'null' || v === 'true' || v === 'false'
}

function maskKeyValues(s: string): string {
  const re = KEY_VALUE_RE
  re.lastIndex = 0
  let out = ''
  let copied = 0
  let m: RegExpExecArray | null
  while ((m = re.exec(s)) !== null) {
    const keyStart = m.index
    if (!keyStartsAt(s, keyStart)) {
      // A shorter key may stand alone inside this one (`xaccess_token=` holds `token=`).
      re.lastIndex = keyStart + 1
      continue
    }
    const kind = kindOfKey(m[1] ?? '')
    // Header values run to the end of the line: `Vigil-Signature: v1=…,v1=…` is one value.
    const headerStyle = kind === 'authorization' || (kind === 'signature' && m[0].includes(':'))
    const { from, to } = valueSpan(s, re.lastIndex, headerStyle)
    if (to > from && !s.startsWith(MASK_OPEN, from) && !isJsonLiteral(s, from, to)) {
      out += s.slice(copied, from) + masked(kind)
      copied = to
    }
    if (to > re.lastIndex) re.lastIndex = to
  }
  return copied === 0 ? s : out + s.slice(copied)
}

const keyKindCache = new Map<string, MaskKind | null>()
const KEY_KIND_CACHE_SIZE = 2048

function lookUpKeyKind(name: string): MaskKind | null {
  const re = KEY_NAME_RE
  re.lastIndex = 0
  let m: RegExpExecArray | null
  while ((m = re.exec(name)) !== null) {
    if (keyStartsAt(name, m.index)) return kindOfKey(m[0])
    re.lastIndex = m.index + 1
  }
  return null
}

/**
 * The mask kind when a field or object key is itself a secret's name (`password`,
 * `X-Api-Key`, `newPassword`); then the whole value is the secret. Internal to core.
 */
export function secretKeyKind(name: string): MaskKind | undefined {
  if (name.length < 3 || name.length > 64) return undefined
  // Every key name ends in d, t, n, y or e; most attrs keys are turned away here.
  const last = name.charCodeAt(name.length - 1) | 32
  if (last !== 100 && last !== 116 && last !== 110 && last !== 121 && last !== 101) return undefined
  let kind = keyKindCache.get(name)
  if (kind === undefined) {
    kind = lookUpKeyKind(name)
    // Attrs keys come from a small vocabulary; a hostile stream of new ones only resets it.
    if (keyKindCache.size >= KEY_KIND_CACHE_SIZE) keyKindCache.clear()
    keyKindCache.set(name, kind)
  }
  return kind ?? undefined
}

// ---------------------------------------------------------------------------------------
// (a) Bearer <token>, Basic <credentials>.

const AUTH_SCHEME_RE = /(?<![A-Za-z0-9])(bearer|basic)([ \t]+)([A-Za-z0-9._~+/=-]{1,4096})/gi
/** "bearer token", "Bearer Auth": a plain short word after the scheme is prose, not a credential. */
const PROSE_WORD_RE = /^[A-Za-z]{1,15}$/
const BASE64_RE = /^[A-Za-z0-9+/]{4,}={0,2}$/

function isBasicCredential(tok: string): boolean {
  if (/[0-9+/=]/.test(tok)) return true
  // Letters only ("Basic settings"): a credential still decodes to `user:password`.
  return BASE64_RE.test(tok) && Buffer.from(tok, 'base64').includes(0x3a)
}

function maskAuthSchemes(s: string): string {
  return s.replace(AUTH_SCHEME_RE, (whole: string, scheme: string, blank: string, tok: string) => {
    const isCredential = scheme.length === 6 ? !PROSE_WORD_RE.test(tok) : isBasicCredential(tok)
    return isCredential ? scheme + blank + masked('authorization') : whole
  })
}

// ---------------------------------------------------------------------------------------
// (d) JWTs and (e) secrets with a well-known prefix.

const JWT_RE = /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]{2,}){0,2}/g
const PREFIXED_SECRET_RE =
  /(?<![A-Za-z0-9])(?:(?:[sr]k_(?:live|test)_|gh[pousr]_|github_pat_|xox[abpr]-|vg[st]_)[A-Za-z0-9_-]{8,}|(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Za-z0-9]))/g

function maskPrefixed(s: string): string {
  const afterJwt = s.includes('eyJ') ? s.replace(JWT_RE, masked('jwt')) : s
  return afterJwt.replace(PREFIXED_SECRET_RE, masked('secret'))
}

// ---------------------------------------------------------------------------------------
// (e) long high-entropy tokens.

const TOKEN_RUN_RE = /[A-Za-z0-9+/_-]{32,}={0,2}/g

interface TokenShape {
  length: number
  upper: boolean
  lower: boolean
  digit: boolean
  hex: boolean
  longestSegment: number
  distinct: number
}

function shapeOf(tok: string): TokenShape {
  const seen = new Uint8Array(128)
  const shape: TokenShape = { length: tok.length, upper: false, lower: false, digit: false, hex: true, longestSegment: 0, distinct: 0 }
  let segment = 0
  for (let i = 0; i < tok.length; i++) {
    const c = tok.charCodeAt(i)
    if (c < 128 && seen[c] === 0) {
      seen[c] = 1
      shape.distinct++
    }
    if (c >= 48 && c <= 57) shape.digit = true
    else if (c >= 65 && c <= 90) {
      shape.upper = true
      if (c > 70) shape.hex = false
    } else if (c >= 97 && c <= 122) {
      shape.lower = true
      if (c > 102) shape.hex = false
    } else {
      shape.hex = false
      if (segment > shape.longestSegment) shape.longestSegment = segment
      segment = 0
      continue
    }
    segment++
  }
  if (segment > shape.longestSegment) shape.longestSegment = segment
  return shape
}

/** A UUID written without dashes: version nibble 1-8, variant 8-b. */
function isDashlessUuid(tok: string): boolean {
  if (tok.length !== 32) return false
  const version = tok.charCodeAt(12)
  const variant = tok.charCodeAt(16) | 32
  return version >= 49 && version <= 56 && (variant === 56 || variant === 57 || variant === 97 || variant === 98)
}

/**
 * Every criterion only gets harder for a substring, so a token that is not masked never has
 * a masked piece: what keeps the rule idempotent when other rules split a token later.
 */
function looksLikeSecret(tok: string): boolean {
  if (tok.length < ENTROPY_MIN_LENGTH) return false
  const shape = shapeOf(tok)
  // Dashed UUIDs (longest stretch 12), snake_case and kebab-case names, paths.
  if (shape.longestSegment < ENTROPY_MIN_SEGMENT) return false
  if (shape.distinct < 10) return false
  if (shape.hex) return shape.digit && (shape.upper || shape.lower) && !isDashlessUuid(tok)
  // Base64: all three classes, so long CamelCaseNames and ULID pairs stay.
  return shape.upper && shape.lower && shape.digit
}

/** A path piece such as `v1`, `orders`, `ACC-10042`: never mixed-case like base64. */
function isPathWord(part: string): boolean {
  return part.length <= ENTROPY_MIN_LENGTH && !(/[A-Z]/.test(part) && /[a-z]/.test(part))
}

function maskTokenRun(run: string): string {
  let end = run.length
  while (end > 0 && run.charCodeAt(end - 1) === 61) end--
  const body = run.slice(0, end)
  // A path (`/v1/keys/<secret>/rotate`) keeps its route; only the secret piece goes.
  if (body.includes('/')) {
    const parts = body.split('/')
    let anySecret = false
    let allOthersArePath = true
    for (const part of parts) {
      if (looksLikeSecret(part)) anySecret = true
      else if (!isPathWord(part)) allOthersArePath = false
    }
    if (anySecret && allOthersArePath) {
      return parts.map((p) => (looksLikeSecret(p) ? masked('secret') : p)).join('/') + run.slice(end)
    }
  }
  return looksLikeSecret(body) ? masked('secret') : run
}

function maskHighEntropy(s: string): string {
  return s.replace(TOKEN_RUN_RE, maskTokenRun)
}

// ---------------------------------------------------------------------------------------
// (c) payment card numbers.

// Contiguous, or in groups of 3-6 (4-4-4-4, 4-6-5, …): groups of two are dates and times.
const CARD_RE = /(?<![A-Za-z0-9])(?:\d{13,19}|\d{3,6}(?:[ -]\d{3,6}){1,15})(?![A-Za-z0-9])/g

function passesLuhn(digits: string): boolean {
  let sum = 0
  let double = false
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48
    if (double) {
      d *= 2
      if (d > 9) d -= 9
    }
    sum += d
    double = !double
  }
  return sum % 10 === 0
}

function isCardNumber(digits: string, contiguous: boolean): boolean {
  if (digits.length < 13 || digits.length > 19) return false
  // Epoch milliseconds and nanoseconds (13 and 19 digits starting with 1) are everywhere in
  // trading APIs; no card network issues numbers of those lengths starting with 1.
  if (contiguous && (digits.length === 13 || digits.length === 19) && digits.charCodeAt(0) === 49) return false
  return passesLuhn(digits)
}

const maskedCard = (digits: string): string => `${MASK_OPEN}card …${digits.slice(-4)}]`

function maskCardRun(run: string): string {
  if (run.length <= 19 && !run.includes(' ') && !run.includes('-')) {
    return isCardNumber(run, true) ? maskedCard(run) : run
  }
  // Several groups: find cards among consecutive groups, left to right, longest first.
  const groups = run.split(/[ -]/)
  const starts: number[] = []
  let offset = 0
  for (const g of groups) {
    starts.push(offset)
    offset += g.length + 1
  }
  let out = ''
  let copied = 0
  let i = 0
  while (i < groups.length) {
    let digits = ''
    let last = i
    // Groups have 3 to 6 digits, so a window of 19 digits never spans more than 6 of them.
    for (let j = i; j < groups.length && digits.length + groups[j]!.length <= 19; j++) {
      digits += groups[j]!
      last = j
    }
    let found = -1
    for (let j = last; j > i && found < 0; j--) {
      if (isCardNumber(digits, false)) found = j
      else digits = digits.slice(0, digits.length - groups[j]!.length)
    }
    if (found < 0) {
      i++
      continue
    }
    out += run.slice(copied, starts[i]) + maskedCard(digits)
    copied = starts[found]! + groups[found]!.length
    i = found + 1
  }
  return copied === 0 ? run : out + run.slice(copied)
}

function maskCards(s: string): string {
  return s.replace(CARD_RE, maskCardRun)
}

// ---------------------------------------------------------------------------------------
// Public API.

function applyRules(s: string, flags: number): string {
  // Order matters: an Authorization value is masked whole before `Bearer` sees it, a JWT
  // before its segments look like entropy, entropy before the digits inside it look like a card.
  let out = s
  if (flags & NEED_WORD_RULES) {
    out = maskKeyValues(out)
    out = maskAuthSchemes(out)
    out = maskPrefixed(out)
  }
  if (flags & NEED_ENTROPY) out = maskHighEntropy(out)
  if (flags & NEED_CARD) out = maskCards(out)
  return out
}

/**
 * Masks every kind of secret in free text: an HTTP path with its query string, a user agent,
 * an `attrs` value, a log message.
 */
export function maskText(s: string): string {
  if (typeof s !== 'string' || s.length < MIN_MASKABLE) return s
  try {
    let flags = TEXT_HINT_RE.test(s) && WORD_RULES_HINT_RE.test(s) ? NEED_WORD_RULES : 0
    if (mayHoldHighEntropy(s)) flags |= NEED_ENTROPY
    if (mayHoldCard(s)) flags |= NEED_CARD
    return flags === 0 ? s : applyRules(s, flags)
  } catch {
    return UNMASKABLE
  }
}

/**
 * Masks only what cannot be a legitimate identifier: Authorization values, `key=value`
 * secrets, JWTs and prefixed secrets. No card or entropy rule: a numeric order id passes
 * Luhn one time in ten and a certificate fingerprint is long hex on purpose.
 */
export function maskIdentifier(s: string): string {
  if (typeof s !== 'string' || s.length < MIN_MASKABLE) return s
  try {
    return IDENTIFIER_HINT_RE.test(s) && WORD_RULES_HINT_RE.test(s) ? applyRules(s, NEED_WORD_RULES) : s
  } catch {
    return UNMASKABLE
  }
}

// ---------------------------------------------------------------------------------------
// Events.

// How a known field is masked. Numbers and enums are validated shapes, or ingest's own
// values: masking could only corrupt them.
const LEAVE = 0
const IDENTIFIER = 1
const TEXT = 2
const SCOPES = 3
const HTTP = 4
const TLS = 5
const ORDER = 6
const ATTRS = 7

const EVENT_FIELDS = new Map<string, number>([
  ['ts', LEAVE],
  ['action', LEAVE],
  ['outcome', LEAVE],
  ['client_ip', LEAVE],
  ['received_at', LEAVE],
  ['clock_skew_ms', LEAVE],
  ['id', IDENTIFIER],
  ['api_key_id', IDENTIFIER],
  ['account_id', IDENTIFIER],
  ['user_id', IDENTIFIER],
  ['session_id', IDENTIFIER],
  ['source', IDENTIFIER],
  ['reason', TEXT],
  ['user_agent', TEXT],
  ['scopes', SCOPES],
  ['http', HTTP],
  ['tls', TLS],
  ['order', ORDER],
  ['attrs', ATTRS],
])
const HTTP_FIELDS = new Map<string, number>([
  ['method', LEAVE],
  ['path', TEXT],
  ['request_id', IDENTIFIER],
])
const TLS_FIELDS = new Map<string, number>([
  ['version', LEAVE],
  ['cipher', LEAVE],
  ['client_cert_fingerprint', IDENTIFIER],
])
const ORDER_FIELDS = new Map<string, number>([
  ['id', IDENTIFIER],
  ['client_order_id', IDENTIFIER],
  ['symbol', LEAVE],
  ['side', LEAVE],
  ['type', LEAVE],
  ['currency', LEAVE],
  ['venue', LEAVE],
  ['tif', LEAVE],
])

type Bag = Record<string, unknown>

function isBag(v: unknown): v is Bag {
  return typeof v === 'object' && v !== null
}

/** Writes back a masked value; counts it. A frozen event must not make masking throw. */
function store(obj: Bag, key: string, before: string, after: string): number {
  if (after === before) return 0
  try {
    obj[key] = after
  } catch {
    return 0
  }
  // Outside strict mode a frozen object ignores the write instead of throwing.
  return obj[key] === after ? 1 : 0
}

/** A free-text string under `key`, where the key name itself may say the value is a secret. */
function maskNamedText(obj: Bag, key: string, value: string): number {
  const kind = secretKeyKind(key)
  if (kind !== undefined && value.length > 0 && !value.startsWith(MASK_OPEN)) return store(obj, key, value, masked(kind))
  return store(obj, key, value, maskText(value))
}

/** Unknown nested data: every string is free text. Iterative, so depth cannot overflow the stack. */
function maskUnknown(root: Bag): number {
  let count = 0
  const seen = new WeakSet<Bag>()
  const stack: Bag[] = [root]
  while (stack.length > 0) {
    const obj = stack.pop()!
    if (seen.has(obj)) continue
    seen.add(obj)
    const isArray = Array.isArray(obj)
    for (const key of Object.keys(obj)) {
      const v = obj[key]
      if (typeof v === 'string') count += isArray ? store(obj, key, v, maskText(v)) : maskNamedText(obj, key, v)
      else if (isBag(v)) stack.push(v)
    }
  }
  return count
}

function maskStringField(obj: Bag, key: string, v: string, how: number | undefined): number {
  switch (how) {
    case LEAVE:
      return 0
    case IDENTIFIER:
    case SCOPES:
      return store(obj, key, v, maskIdentifier(v))
    case undefined:
      return maskNamedText(obj, key, v)
    default:
      return store(obj, key, v, maskText(v))
  }
}

function maskKnownObject(obj: Bag, fields: Map<string, number>): number {
  let count = 0
  for (const key in obj) {
    const v = obj[key]
    if (typeof v === 'string') count += maskStringField(obj, key, v, fields.get(key))
    else if (isBag(v)) count += maskUnknown(v)
  }
  return count
}

function maskScopes(scopes: unknown[]): number {
  let count = 0
  for (let i = 0; i < scopes.length; i++) {
    const v = scopes[i]
    if (typeof v === 'string') {
      const after = maskIdentifier(v)
      if (after !== v) {
        count += store(scopes as unknown as Bag, String(i), v, after)
      }
    } else if (isBag(v)) count += maskUnknown(v)
  }
  return count
}

function maskAttrs(attrs: Bag): number {
  let count = 0
  for (const key in attrs) {
    const v = attrs[key]
    if (typeof v === 'string') count += maskNamedText(attrs, key, v)
    else if (isBag(v)) count += maskUnknown(v)
  }
  return count
}

/**
 * Masks an audit event in place and answers how many string values it changed.
 * Identifier fields get `maskIdentifier`, free text gets `maskText`; `ts`, `action`,
 * `outcome`, `client_ip` and what ingest sets itself are left as they are.
 */
export function maskEvent(ev: Record<string, unknown>): number {
  let count = 0
  try {
    for (const key in ev) {
      const v = ev[key]
      const how = EVENT_FIELDS.get(key)
      if (typeof v === 'string') {
        count += maskStringField(ev, key, v, how)
        continue
      }
      if (!isBag(v)) continue
      if (how === SCOPES && Array.isArray(v)) count += maskScopes(v)
      else if (how === ATTRS) count += maskAttrs(v)
      else if (how === HTTP && !Array.isArray(v)) count += maskKnownObject(v, HTTP_FIELDS)
      else if (how === TLS && !Array.isArray(v)) count += maskKnownObject(v, TLS_FIELDS)
      else if (how === ORDER && !Array.isArray(v)) count += maskKnownObject(v, ORDER_FIELDS)
      else count += maskUnknown(v)
    }
  } catch {
    // A getter or proxy that throws: what was masked so far stays masked.
  }
  return count
}
