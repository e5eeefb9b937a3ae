/**
 * Intrusion patterns in `http.path` (query string included) and `attrs` values: the scoring
 * core of the `ids.injection` rule (CONTRACT §5).
 *
 * Relied on by: the `ids.injection` detector, which calls `scanForInjection` for every event
 * it sees, and by rule files and alert evidence, which name patterns by their `pattern` id
 * (`sqli.union_select`, …). Those ids are stable: never rename one, add a new one instead,
 * because per-rule exceptions and stored alerts refer to them.
 *
 * Two properties the detector builds on:
 * - Ordinary trading-API traffic produces no match. English words that are also SQL
 *   keywords (order, select, union, drop, or, and, update, delete) are everywhere in
 *   trading paths (`order_type=limit`, `/v1/orders/drop-copy`, `note=buy or sell`), so every
 *   pattern needs SQL, HTML or shell *structure* (a quote break followed by a comparison,
 *   a statement after `;`, a tag with a handler), never a bare keyword.
 * - It never throws on its input and stays linear: every regex below avoids nested
 *   quantifiers over overlapping classes, and open-ended spans are bounded (`{0,200}`).
 *
 * The input is normalised first (see `normalise`), so one pattern covers its encoded,
 * entity-escaped, commented and case-varied forms.
 */

export type IdsCategory = 'sqli' | 'xss' | 'path_traversal' | 'cmd_injection'

export const IDS_CATEGORIES: readonly IdsCategory[] = ['sqli', 'xss', 'path_traversal', 'cmd_injection']

export interface IdsMatch {
  category: IdsCategory
  /** Stable id, `<category>.<what>`, e.g. `sqli.union_select`. */
  pattern: string
  /** At most 120 characters of the normalised text around the match. */
  excerpt: string
}

export interface ScanOptions {
  /** Only these categories are checked. @defaultValue all four */
  categories?: readonly IdsCategory[]
  /**
   * Rounds of decoding (percent, `+`, HTML entities, `\u` escapes) before matching; each
   * round undoes one layer, and decoding stops early once the text is stable.
   * @defaultValue 3
   */
  maxDecodePasses?: number
}

/** Which normalised text a pattern reads; see `normalise`. */
type TextKind = 'plain' | 'sql' | 'path' | 'cmd'

interface IdsPattern {
  id: string
  category: IdsCategory
  on: TextKind
  /**
   * A cheap necessary condition checked before the regex, so clean traffic skips most
   * regexes outright: mostly a test of `f`, the characters present in the text (see
   * `charFlags`), then at most a few `includes`. Absent: the regex always runs.
   */
  gate?: (s: string, f: number) => boolean
  re: RegExp
}

const EXCERPT_MAX = 120
const DEFAULT_DECODE_PASSES = 3
// Deeper nesting than this is not an encoding any server undoes; the cap bounds the work a
// hostile input can ask for.
const MAX_DECODE_PASSES = 16

// ---------------------------------------------------------------------------------------
// Shared regex fragments
// ---------------------------------------------------------------------------------------

// A SQL literal as injected: a number, a quoted string (the closing quote is often left to
// the application's own query), or a keyword constant.
const LIT = String.raw`(?:\d+(?:\.\d+)?|'[^']{0,30}'?|"[^"]{0,30}"?|true\b|false\b|null\b)`
const CMP = String.raw`(?:=|<>|!=|<=>|>=?|<=?|\s(?:not\s)?(?:like|rlike|regexp)\s)`
// What follows SELECT in an injected query: a column list, a function, a literal. A bare
// English word after "select" ("select best execution") is not enough; a word followed by
// `,` / FROM / INTO is.
const SELECT_BODY =
  // `(?![a-z_])` rather than `\b`: comments cut out of `SEL/**/ECT/**/1` leave `select1`.
  String.raw`select(?![a-z_])(?:\s+(?:all|distinct|top\s+\d+)\b)?\s*(?:\d|null\b|\*|@@|\(|['"\x60]|0x|` +
  String.raw`(?:count|if|char|chr|ascii|substr|substring|mid|concat|concat_ws|group_concat|version|user|database|schema|current_user|system_user|session_user|sleep|pg_sleep|cast|convert|load_file|md5|hex|unhex|floor|rand|extractvalue|updatexml)\s*\(|` +
  String.raw`case\b|[\w.$\x60"\[\]]+\s*(?:,|\bfrom\b|\binto\b))`
// Commands an attacker chains after a shell separator, each with the argument shape that
// makes it a command rather than a word in a note or a field list.
const SHELL_CMD =
  String.raw`(?:(?:\/usr)?(?:\/local)?\/s?bin\/)?(?:` +
  String.raw`(?:cat|head|tail|more|less|nl|tac|strings|xxd|od|base64)(?:\s+-\w+(?:\s+\d+)?)*\s*<?\s*[\/~.$]|` +
  String.raw`(?:wget|curl|fetch|tftp|ftp|scp|rsync|lwp-download)\s+\S|` +
  String.raw`(?:nc|ncat|netcat|socat|telnet)\s+(?:-\w+\s+)*[\w.:\[\]-]+|` +
  String.raw`(?:ba|z|da|k|tc|fi)sh\b(?![=._-])|sh\s+-\w*[ci]|` +
  String.raw`(?:python[\d.]*|perl|ruby|php|node|lua)\s+-[cer]\b|` +
  String.raw`(?:whoami|ifconfig|ipconfig|uname|systeminfo|netstat)\b(?![=._-])|` +
  String.raw`(?:ls|dir)(?:\s+-\w+)*\s+[\/~.\\]|` +
  String.raw`rm\s+-\w*[rf]|(?:chmod|chown)\s+[+\w]|mkfifo\b|(?:kill|pkill|killall)\s+-?\w|` +
  String.raw`(?:echo|printf)\s+(?:['"$\x60]|[^;|&\n]{0,80}?[>|])|ping\s+(?:-\w+\s+\w+\s+)*[\w-]+\.[\w.-]+|(?:nslookup|dig)\s+\S|` +
  String.raw`sleep\s+\d|timeout\s+\d|` +
  String.raw`net\s+(?:user|localgroup|view)\b|(?:certutil|bitsadmin|mshta|rundll32|regsvr32|wmic|cscript|wscript)\b|` +
  String.raw`(?:powershell|pwsh)\b|cmd(?:\.exe)?\s*\/[ck]\b)`
const BACKTICK_CMD = String.raw`(?:id|whoami|uname|cat|ls|wget|curl|nc|sleep|ping|echo|pwd|hostname|ifconfig|bash|sh|python\d?|perl|php|rm|touch|nslookup|dig|env|printenv|head|tail|base64)`

// ---------------------------------------------------------------------------------------
// Character flags: which of the characters the patterns hinge on a text contains. Computed
// once per text, they let each pattern's gate be a bit test, since calling `includes` for
// every pattern's literals cost more than all the regexes on clean traffic.
// ---------------------------------------------------------------------------------------

const Q1 = 1 << 0 // '
const Q2 = 1 << 1 // "
const BT = 1 << 2 // `
const LP = 1 << 3 // (
const SEMI = 1 << 4 // ;
const PIPE = 1 << 5 // |
const AMPX = 1 << 6 // `&&`, or `&` then whitespace: `&` alone separates query parameters
const LT = 1 << 7 // <
const DOLLAR = 1 << 8 // $
const SP = 1 << 9 // any whitespace
const NL = 1 << 10 // newline
const AT = 1 << 11 // @
const HASH = 1 << 12 // #
const STAR = 1 << 13 // *
const BSL = 1 << 14 // backslash
const DOTDOT = 1 << 15 // ..

const CHAR_FLAG = new Uint32Array(128)
for (const [ch, flag] of [
  ["'", Q1],
  ['"', Q2],
  ['`', BT],
  ['(', LP],
  [';', SEMI],
  ['|', PIPE],
  ['<', LT],
  ['$', DOLLAR],
  [' ', SP],
  ['\t', SP],
  ['\v', SP],
  ['\f', SP],
  ['\r', SP],
  ['\n', SP | NL],
  ['@', AT],
  ['#', HASH],
  ['*', STAR],
  ['\\', BSL],
] as const) {
  CHAR_FLAG[ch.charCodeAt(0)] = flag
}
// Any one of the characters above; most clean paths have none, and one regex scan is
// several times faster than a loop over char codes.
const SPECIAL_CHAR_RE = /['"`(;|<$\s@#*\\]/

function charFlags(s: string): number {
  let f = 0
  if (s.includes('..')) f |= DOTDOT
  if (s.includes('&&')) f |= AMPX
  if (!SPECIAL_CHAR_RE.test(s)) return f
  const n = s.length
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    // NFKC turned most non-ASCII spaces into ' ', but not all (U+2028), and `\s` in the
    // patterns matches them: any non-ASCII character counts as possible whitespace.
    f |= c < 128 ? CHAR_FLAG[c]! : SP
    if (c === 38 && i + 1 < n && (CHAR_FLAG[s.charCodeAt(i + 1)] ?? 0) & SP) f |= AMPX
  }
  return f
}

const any =
  (mask: number) =>
  (_s: string, f: number): boolean =>
    (f & mask) !== 0
const has = (needle: string) => (s: string) => s.includes(needle)
// After `or` / `and` an injected comparison needs a space, a quote or a parenthesis.
const SQL_SPACED = any(SP | Q1 | Q2 | LP)

// ---------------------------------------------------------------------------------------
// The patterns. Order is the order of results.
// ---------------------------------------------------------------------------------------

const PATTERNS: readonly IdsPattern[] = [
  // --- SQL injection: read the text with SQL comments stripped ---
  {
    id: 'sqli.tautology',
    category: 'sqli',
    on: 'sql',
    gate: SQL_SPACED,
    // `or 1=1`, `' or 'a'='a`, `" or ""="`, `'or'1'='1`; or a quote break straight into
    // `or true` / `or 1` at the end of the value.
    re: new RegExp(
      String.raw`(?:\bx?or|\|\|)(?:\s+|(?=['"(]))\(*\s*${LIT}\s*${CMP}\s*\(*\s*${LIT}` +
        String.raw`|['"]\s*\)*\s*(?:or|\|\|)\s+(?:true|not\s+false|\d+)\s*(?=$|[;&)])`,
    ),
  },
  {
    id: 'sqli.boolean_blind',
    category: 'sqli',
    on: 'sql',
    gate: SQL_SPACED,
    re: new RegExp(
      String.raw`(?:\band|&&)(?:\s+|(?=['"(]))\(*\s*${LIT}\s*${CMP}\s*\(*\s*${LIT}` +
        String.raw`|\band\s+\(*\s*(?:ascii|substring|substr|mid|length|char_length|ord|exists|if)\s*\(`,
    ),
  },
  {
    id: 'sqli.union_select',
    category: 'sqli',
    on: 'sql',
    gate: has('union'),
    // `\s*` also accepts `unionselect`, and `(?<![a-z_])` accepts `1union`: what
    // `1/**/union/**/select` becomes once the comments are cut.
    re: new RegExp(String.raw`(?<![a-z_])union\s*(?:all\s*|distinct\s*)?\(*\s*${SELECT_BODY}`),
  },
  {
    id: 'sqli.stacked_query',
    category: 'sqli',
    on: 'sql',
    gate: any(SEMI),
    re: new RegExp(
      String.raw`;\s*\(?\s*(?:drop\s+(?:table|database|schema|view|user|procedure|function|index|trigger)\b|` +
        String.raw`delete\s+from\b|insert\s+into\b|update\s+[\w.\x60"\[\]]+\s+set\b|${SELECT_BODY}|` +
        String.raw`create\s+(?:table|user|database|login|procedure|function|trigger|role)\b|` +
        String.raw`alter\s+(?:table|user|database|login|role)\b|truncate\s+(?:table\s+)?[\w\x60"]|` +
        String.raw`exec(?:ute)?\s*(?:\(|xp_|sp_|master\.|immediate\b)|declare\s+@|shutdown\b|` +
        String.raw`grant\s+(?:all|select|insert|update|delete|execute)\b|copy\s+[\w.(]+[^;]{0,60}\bprogram\b|` +
        String.raw`waitfor\s+delay\b|set\s+@)`,
    ),
  },
  {
    id: 'sqli.time_blind',
    category: 'sqli',
    on: 'sql',
    gate: (s, f) => (f & LP) !== 0 || ((f & SP) !== 0 && s.includes('waitfor')),
    re: new RegExp(
      String.raw`\b(?:sleep|pg_sleep)\s*\(\s*(?:\d|\(|if\b|select\b)|\bbenchmark\s*\(\s*\d+\s*,|` +
        String.raw`\bwaitfor\s+(?:delay|time)\s*['"]\s*\d|\bdbms_(?:pipe\.receive_message|lock\.sleep)\s*\(|` +
        String.raw`\brandomblob\s*\(\s*\d{6,}`,
    ),
  },
  {
    id: 'sqli.information_schema',
    category: 'sqli',
    on: 'sql',
    gate: has('information_schema'),
    re: /\binformation_schema\b/,
  },
  {
    id: 'sqli.system_catalog',
    category: 'sqli',
    on: 'sql',
    re: /\b(?:sqlite_master|sqlite_schema|pg_catalog|pg_shadow|mysql\.user|sys\.(?:objects|tables|columns|databases|sql_logins)|sysobjects|syscolumns|dba_users|msysobjects|master\.\.sys\w+)\b|\bv\$version\b/,
  },
  {
    id: 'sqli.comment_terminator',
    category: 'sqli',
    on: 'plain',
    gate: any(Q1 | Q2 | BT),
    // A quote closing a value, then a comment swallowing the rest of the query (`admin'--`,
    // `' #`, `')/*`). Read before comments are stripped, since the comment is the signal.
    // A quote opening a JSON string (after `:`, `,`, `[`, `{`) is not a break: `{"tag":"#x"}`;
    // nor is a dash or hash that starts a word (`"--verbose"`, `'#earnings`).
    re: /(?:^|[^\s:,[{])['"`]\s*\)*\s*(?:(?:--|#)(?=\s|$|&)|\/\*)/,
  },
  {
    id: 'sqli.order_by_probe',
    category: 'sqli',
    on: 'sql',
    gate: (s, f) => (f & (Q1 | Q2)) !== 0 && s.includes(' by'),
    // Column-count probing: `' order by 5--`, `1' group by 3`.
    re: /['"]\s*\)*\s*(?:order|group)\s+by\s+\d+\b|['"]\s*\)*\s*having\s+\d+\s*=\s*\d+/,
  },
  {
    id: 'sqli.subquery',
    category: 'sqli',
    on: 'sql',
    gate: any(LP),
    re: new RegExp(String.raw`(?:['"]|\b(?:and|or|xor|not|in|exists)\b|\|\||&&)\s*\(+\s*${SELECT_BODY}`),
  },
  {
    id: 'sqli.db_function',
    category: 'sqli',
    on: 'sql',
    gate: (s, f) => (f & (LP | AT)) !== 0 || s.includes('xp_cmdshell') || ((f & SP) !== 0 && s.includes('into')),
    re: /@@(?:version|datadir|hostname|basedir|servername)\b|\bload_file\s*\(|\binto\s+(?:out|dump)file\b|\b(?:extractvalue|updatexml|sys_eval|sys_exec)\s*\(|\bxp_cmdshell\b|\bchar\s*\(\s*\d+(?:\s*,\s*\d+)+\s*\)|\bchr\s*\(\s*\d+\s*\)\s*\|\||\bconcat(?:_ws)?\s*\(\s*(?:0x|@@|char\s*\()|\butl_(?:http|inaddr)\.|\bcast\s*\(\s*\(?\s*select\b/,
  },

  // --- XSS: the decoded, folded text ---
  {
    id: 'xss.script_tag',
    category: 'xss',
    on: 'plain',
    gate: any(LT),
    // `< script>` is not a tag to a browser: the name must follow `<` directly.
    re: /<\/?script\b/,
  },
  {
    id: 'xss.event_handler',
    category: 'xss',
    on: 'plain',
    gate: any(LT),
    // A handler inside a tag: `<img src=x onerror=…>`, `<svg/onload=…>`. `&` ends the span
    // because entities are already decoded, so a raw `&` is a query separator: keeps
    // `filter=px<limit&onhold=1` clean.
    re: /<[a-z][a-z0-9:-]*[\s/](?:[^<>&]{0,256}?[\s/"'])?on[a-z]{3,}\s*=/,
  },
  {
    id: 'xss.attribute_break',
    category: 'xss',
    on: 'plain',
    gate: any(Q1 | Q2),
    // Leaving an attribute value to add a handler: `" onmouseover="alert(1)`.
    re: /['"]\s*\/?\s*on[a-z]{3,}\s*=\s*['"]?[a-z(`]/,
  },
  {
    id: 'xss.javascript_uri',
    category: 'xss',
    on: 'plain',
    // Every scheme below ends in `t:` (or `t :` once a tab became a space).
    gate: (s) => s.includes('t:') || s.includes('t :'),
    // Browsers drop tabs and newlines inside a scheme (`java&Tab;script:`), and whitespace
    // is collapsed to one space by then, hence `\s?` between letters.
    re: /\b(?:j\s?a\s?v\s?a\s?s\s?c\s?r\s?i\s?p\s?t|v\s?b\s?s\s?c\s?r\s?i\s?p\s?t|livescript)\s?:/,
  },
  {
    id: 'xss.data_uri',
    category: 'xss',
    on: 'plain',
    gate: has('data:'),
    // `+` may have been decoded to a space by then: `image/svg xml`.
    re: /\bdata:\s?(?:text\/(?:html|xml|javascript)|image\/svg[+ ]xml|application\/(?:x-)?(?:javascript|ecmascript|xhtml[+ ]xml))/,
  },
  {
    id: 'xss.dangerous_tag',
    category: 'xss',
    on: 'plain',
    gate: any(LT),
    // The tag name must be followed by what follows a tag name, so `price<base` in a filter
    // expression stays clean.
    re: /<(?:iframe|frame|frameset|object|embed|applet|svg|math|meta|base|link|style|form|body|xml|isindex|marquee|template|noscript|video|audio|img|image|input|details|dialog)(?=[\s/>])/,
  },
  {
    id: 'xss.document_cookie',
    category: 'xss',
    on: 'plain',
    gate: has('document'),
    re: /\bdocument\s*\.\s*(?:cookie|domain)\b/,
  },
  {
    id: 'xss.dom_sink',
    category: 'xss',
    on: 'plain',
    re: /\bdocument\s*\.\s*(?:write(?:ln)?\s*\(|location\b)|\bwindow\s*\.\s*location\b|\b(?:local|session)storage\s*\.\s*\w|\.innerhtml\s*=|\.outerhtml\s*=/,
  },
  {
    id: 'xss.js_eval',
    category: 'xss',
    on: 'plain',
    gate: any(LP | BT),
    // The call must follow the name directly: `price alert (1h)` in a note is not a call.
    re: /\beval\(|\b(?:alert|prompt|confirm)(?:\(\s*(?:[\d'"`/]|document|window|this|top|self|string|origin|location)|`)|\bstring\s*\.\s*fromcharcode\s*\(|\batob\s*\(|\bnew\s+function\s*\(|\bset(?:timeout|interval)\s*\(\s*['"`]|\bconstructor\s*\.\s*constructor\s*\(/,
  },

  // --- Path traversal: backslashes read as slashes ---
  {
    id: 'path_traversal.dot_dot_slash',
    category: 'path_traversal',
    on: 'path',
    gate: any(DOTDOT),
    // A `..` segment: going up one directory is the whole attack (`/v1/orders/../admin`),
    // and `....//` is what a naive `../` filter turns back into `../`. A `..` inside a
    // segment (`BRK..B`, ranges like `1..5`) is not one.
    re: /(?:^|[/=?&;:,'"\s(])\.{2,};?\/|(?:^|\/)\.\.(?=$|[?&#])/,
  },
  {
    id: 'path_traversal.sensitive_file',
    category: 'path_traversal',
    on: 'path',
    re: /\/etc\/(?:passwd|shadow|group|hosts|issue|sudoers|crontab|hostname)\b|\/proc\/(?:self|\d+)\/|\b(?:win|boot|system)\.ini\b|\bsystem32\b|\b[a-z]:\/(?:windows|winnt|inetpub)\b|\/\.ssh\/|\bid_rsa\b|\/\.aws\/credentials|\/\.env(?=$|[?&/.])|\/\.git\/|\/\.ht(?:passwd|access)\b|\bweb-inf\/web\.xml\b|\bfile:\/\/\//,
  },
  {
    id: 'path_traversal.null_byte',
    category: 'path_traversal',
    on: 'path',
    // Matched by the NUL check in `scanForInjection`, not by this regex: NULs are removed
    // from the text before any regex runs.
    gate: () => false,
    re: /\0/,
  },

  // --- Command injection: shell quoting tricks undone ---
  {
    id: 'cmd_injection.chained_command',
    category: 'cmd_injection',
    on: 'cmd',
    gate: any(SEMI | PIPE | AMPX | NL),
    // A separator then a command with its argument shape. `&` alone separates query
    // parameters, so a lone `&` counts only with whitespace after it.
    re: new RegExp(String.raw`(?:[;\n]|\|\|?|&&|&(?=\s))\s*${SHELL_CMD}`),
  },
  {
    id: 'cmd_injection.id_probe',
    category: 'cmd_injection',
    on: 'cmd',
    gate: any(SEMI | PIPE | AMPX | NL),
    // `id` is also a field name (`fields=qty|id`), so only the separators that never list
    // fields count, and only with nothing but a separator or the end after it.
    re: /(?:;|&&|\|\||\n)\s*(?:\/usr)?(?:\/bin\/)?id\s*(?=$|[;|&`)#\n])/,
  },
  {
    id: 'cmd_injection.subshell',
    category: 'cmd_injection',
    on: 'cmd',
    gate: (s, f) => (f & DOLLAR) !== 0 && s.includes('$('),
    // `$(id)`, `$((1+1))`; a digit after `$(` is an accounting negative, `$(100)`.
    re: /\$\(\s*[a-z/.(]/,
  },
  {
    id: 'cmd_injection.backtick',
    category: 'cmd_injection',
    on: 'cmd',
    gate: any(BT),
    re: new RegExp(String.raw`\x60\s*(?:\/(?:usr\/)?s?bin\/)?${BACKTICK_CMD}\b[^\x60]{0,200}\x60`),
  },
  {
    id: 'cmd_injection.shell_binary',
    category: 'cmd_injection',
    on: 'cmd',
    gate: (s) => s.includes('bin/') || s.includes('cmd.exe') || s.includes('/dev/'),
    re: /\/(?:usr\/)?(?:local\/)?s?bin\/(?:ba|z|da|k|c|tc|fi)?sh\b|\bcmd\.exe\b|\/dev\/(?:tcp|udp)\//,
  },
  {
    id: 'cmd_injection.powershell_encoded',
    category: 'cmd_injection',
    on: 'cmd',
    gate: (s) => s.includes('sh') && (s.includes('powershell') || s.includes('pwsh')),
    re: /\b(?:powershell|pwsh)(?:\.exe)?\b[^&\n]{0,80}?\s[-/](?:e|ec|en|enc|enco|encod|encode|encoded|encodedcommand)\s/,
  },
  {
    id: 'cmd_injection.ifs_evasion',
    category: 'cmd_injection',
    on: 'plain',
    gate: (s, f) => (f & DOLLAR) !== 0 && s.includes('ifs'),
    re: /\$\{ifs\}|\$ifs\b/,
  },
  {
    id: 'cmd_injection.jndi_lookup',
    category: 'cmd_injection',
    on: 'plain',
    gate: (s, f) => (f & DOLLAR) !== 0 && s.includes('${'),
    // Log4Shell: the lookup makes the server load and run remote code.
    re: /\$\{\s*jndi\s*:/,
  },
]

/** Every pattern id with its category, for rule files and docs that refer to them. */
export const IDS_PATTERN_IDS: readonly { readonly pattern: string; readonly category: IdsCategory }[] = PATTERNS.map(
  (p) => ({ pattern: p.id, category: p.category }),
)

const NULL_BYTE_PATTERN = PATTERNS.find((p) => p.id === 'path_traversal.null_byte')!

// ---------------------------------------------------------------------------------------
// Normalisation
// ---------------------------------------------------------------------------------------

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48
  const l = c | 0x20
  if (l >= 97 && l <= 102) return l - 87
  return -1
}

/** The byte of `%XX` at `i`, or -1 when there is none (malformed `%` stays as text). */
function pctByte(s: string, i: number): number {
  if (i + 2 >= s.length || s.charCodeAt(i) !== 37) return -1
  const h = hexVal(s.charCodeAt(i + 1))
  const l = hexVal(s.charCodeAt(i + 2))
  return h < 0 || l < 0 ? -1 : (h << 4) | l
}

/** One round of percent-decoding with `+` as space; never throws. */
function percentDecode(s: string): string {
  const hasPct = s.indexOf('%') !== -1
  if (!hasPct && s.indexOf('+') === -1) return s
  const spaced = s.includes('+') ? s.replaceAll('+', ' ') : s
  if (!hasPct) return spaced
  // Well-formed input (the clean case) decodes natively, many times faster than the loop
  // below; only malformed, overlong or `%u` input (which throw) take the lenient path.
  try {
    return decodeURIComponent(spaced)
  } catch {
    return percentDecodeLenient(s)
  }
}

/**
 * Percent-decoding that accepts what `decodeURIComponent` refuses. UTF-8 is decoded
 * leniently, overlong forms included (`%c0%ae` → `.`), because that is what the vulnerable
 * decoders these encodings target did; a byte that starts no sequence is read as Latin-1;
 * a malformed `%` stays as text. IIS's `%uXXXX` is decoded too.
 */
function percentDecodeLenient(s: string): string {
  let out = ''
  let last = 0
  const n = s.length
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c === 43) {
      out += s.slice(last, i) + ' '
      last = i + 1
      continue
    }
    if (c !== 37) continue
    if (i + 5 < n && (s.charCodeAt(i + 1) | 0x20) === 117) {
      const a = hexVal(s.charCodeAt(i + 2))
      const b = hexVal(s.charCodeAt(i + 3))
      const d = hexVal(s.charCodeAt(i + 4))
      const e = hexVal(s.charCodeAt(i + 5))
      if (a >= 0 && b >= 0 && d >= 0 && e >= 0) {
        out += s.slice(last, i) + String.fromCharCode((a << 12) | (b << 8) | (d << 4) | e)
        last = i + 6
        i += 5
        continue
      }
    }
    const b0 = pctByte(s, i)
    if (b0 < 0) continue
    let width = 1
    let cp = b0
    if (b0 >= 0xc0 && b0 < 0xf8) {
      const need = b0 < 0xe0 ? 1 : b0 < 0xf0 ? 2 : 3
      let acc = b0 & (0x3f >> need)
      let ok = true
      for (let k = 1; k <= need; k++) {
        const bk = pctByte(s, i + 3 * k)
        if (bk < 0x80 || bk > 0xbf) {
          ok = false
          break
        }
        acc = (acc << 6) | (bk & 0x3f)
      }
      if (ok && acc <= 0x10ffff) {
        width = need + 1
        cp = acc
      }
    }
    out += s.slice(last, i) + String.fromCodePoint(cp)
    last = i + 3 * width
    i = last - 1
  }
  return out + s.slice(last)
}

const NAMED_ENTITIES: Readonly<Record<string, string>> = {
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  amp: '&',
  sol: '/',
  bsol: '\\',
  colon: ':',
  semi: ';',
  lpar: '(',
  rpar: ')',
  lsqb: '[',
  rsqb: ']',
  lcub: '{',
  rcub: '}',
  equals: '=',
  excl: '!',
  num: '#',
  percnt: '%',
  period: '.',
  comma: ',',
  grave: '`',
  tab: '\t',
  newline: '\n',
  nbsp: ' ',
  dollar: '$',
  verbar: '|',
  vert: '|',
  ast: '*',
  plus: '+',
  hyphen: '-',
  dash: '-',
}

// Named entities need their `;` (a query parameter called `lt` must stay `&lt=5`); numeric
// ones do not, as in browsers.
const ENTITY_RE = /&(?:#(\d{1,7});?|#x([0-9a-f]{1,6});?|([a-z]{2,10});)/gi

function entityReplace(m: string, dec: string | undefined, hex: string | undefined, name: string | undefined): string {
  if (name !== undefined) return NAMED_ENTITIES[name.toLowerCase()] ?? m
  const cp = dec !== undefined ? parseInt(dec, 10) : parseInt(hex ?? '', 16)
  if (!(cp >= 0 && cp <= 0x10ffff) || (cp >= 0xd800 && cp <= 0xdfff)) return m
  return String.fromCodePoint(cp)
}

function entityDecode(s: string): string {
  // Every query string has `&`; only `&#` or a `;` somewhere can make an entity.
  if (s.indexOf('&#') === -1 && (s.indexOf('&') === -1 || s.indexOf(';') === -1)) return s
  return s.replace(ENTITY_RE, entityReplace)
}

const JS_ESCAPE_RE = /\\(?:u\{([0-9a-f]{1,6})\}|u([0-9a-f]{4})|x([0-9a-f]{2}))/gi

function jsEscapeReplace(m: string, braced: string | undefined, u4: string | undefined, x2: string | undefined): string {
  const cp = parseInt(braced ?? u4 ?? x2 ?? '', 16)
  return cp <= 0x10ffff ? String.fromCodePoint(cp) : m
}

function jsEscapeDecode(s: string): string {
  if (s.indexOf('\\') === -1) return s
  return s.replace(JS_ESCAPE_RE, jsEscapeReplace)
}

// NFKC folds fullwidth and compatibility forms (`＜`, `．．／`) into ASCII; only worth
// running when the text is not plain ASCII.
// eslint-disable-next-line no-control-regex
const NON_ASCII_RE = /[^\x00-\x7f]/

function decodeOnce(s: string): string {
  let t = jsEscapeDecode(entityDecode(percentDecode(s)))
  if (NON_ASCII_RE.test(t)) t = t.normalize('NFKC')
  return t
}

const WS_RUN_RE = /\s+/g
// Only collapse when there is something to collapse: a run, or whitespace other than ' '.
const WS_NEEDS_COLLAPSE_RE = /\s\s|[^\S ]/
const collapseRun = (m: string): string => (m.includes('\n') ? '\n' : ' ')

function collapseWhitespace(s: string): string {
  return WS_NEEDS_COLLAPSE_RE.test(s) ? s.replace(WS_RUN_RE, collapseRun) : s
}

// MySQL runs the body of `/*!50000 … */`, so it is kept as text; other inline comments go.
const VERSIONED_COMMENT_RE = /\/\*!\d{0,6}([\s\S]*?)\*\//g
const INLINE_COMMENT_RE = /\/\*[\s\S]*?(?:\*\/|$)/g
// A line comment runs to the end of the line; `&` also ends it, so a comment cannot hide the
// query parameters after it.
const LINE_COMMENT_RE = /(?:--|#)[^\n&]*/g

/**
 * The SQL view of the text: comments cut out. Inline comments are both joined (`UN/**\/ION`
 * → `UNION`, how filter-evading payloads split keywords) and, when present, also read as
 * whitespace (`union/**\/select`), so this returns one or two texts.
 */
function sqlViews(plain: string, flags: number): [string] | [string, string] {
  const hasInline = (flags & STAR) !== 0 && plain.includes('/*')
  if (!hasInline && (flags & HASH) === 0 && !plain.includes('--')) return [plain]
  let base = plain
  if (hasInline) base = base.replace(VERSIONED_COMMENT_RE, ' $1 ')
  base = base.replace(LINE_COMMENT_RE, ' ')
  if (!base.includes('/*')) return [collapseWhitespace(base)]
  return [collapseWhitespace(base.replace(INLINE_COMMENT_RE, '')), collapseWhitespace(base.replace(INLINE_COMMENT_RE, ' '))]
}

/** The shell view: `${IFS}` as a space, and the quoting tricks `c''at`, `c\at` undone. */
function cmdView(plain: string, flags: number): string {
  let s = plain
  if (flags & DOLLAR && s.includes('ifs')) s = s.replace(/\$\{ifs\}|\$ifs\b/g, ' ')
  if (flags & (Q1 | Q2) && (s.includes("''") || s.includes('""'))) s = s.replace(/(?<=[a-z])(?:''|"")(?=[a-z])/g, '')
  if (flags & BSL) s = s.replace(/(?<=[a-z])\\(?=[a-z])/g, '')
  return s
}

interface Normalised {
  plain: string
  /** `charFlags(plain)` */
  flags: number
  /** Index in `plain` near where the first NUL was, or -1 when there was none. */
  nulAt: number
}

/**
 * Decode (up to `passes` rounds, stopping once stable), fold case, drop NULs (remembering
 * where the first was: truncation is a signal of its own), collapse whitespace.
 */
function normalise(input: string, passes: number): Normalised {
  let s = input
  for (let p = 0; p < passes; p++) {
    const next = decodeOnce(s)
    if (next === s) break
    s = next
  }
  s = s.toLowerCase()
  let nulAt = s.indexOf('\0')
  if (nulAt !== -1) {
    const before = s.slice(0, nulAt)
    s = s.replaceAll('\0', '')
    nulAt = collapseWhitespace(before).length
  }
  let flags = charFlags(s)
  if (flags & SP) {
    const collapsed = collapseWhitespace(s)
    if (collapsed !== s) {
      s = collapsed
      flags = charFlags(s)
    }
  }
  return { plain: s, flags, nulAt }
}

function excerptOf(text: string, index: number, length: number): string {
  if (text.length <= EXCERPT_MAX) return text
  const len = Math.min(length, EXCERPT_MAX)
  const pad = (EXCERPT_MAX - len) >> 1
  const start = Math.max(0, Math.min(index - pad, text.length - EXCERPT_MAX))
  return text.slice(start, start + EXCERPT_MAX)
}

function tryPattern(p: IdsPattern, text: string, flags: number): IdsMatch | undefined {
  if (p.gate !== undefined && !p.gate(text, flags)) return undefined
  const m = p.re.exec(text)
  return m === null ? undefined : { category: p.category, pattern: p.id, excerpt: excerptOf(text, m.index, m[0].length) }
}

const PATTERNS_BY_CATEGORY = new Map<IdsCategory, readonly IdsPattern[]>(
  IDS_CATEGORIES.map((c) => [c, PATTERNS.filter((p) => p.category === c)]),
)

/**
 * Every intrusion pattern found in `input`, at most one match per pattern, in pattern order.
 * An empty array means clean. Never throws on any string; throws a RangeError only for a
 * `maxDecodePasses` that is not an integer from 0 to 16.
 */
export function scanForInjection(input: string, opts?: ScanOptions): IdsMatch[] {
  const passes = opts?.maxDecodePasses ?? DEFAULT_DECODE_PASSES
  if (!Number.isInteger(passes) || passes < 0 || passes > MAX_DECODE_PASSES) {
    throw new RangeError(`maxDecodePasses must be an integer from 0 to ${MAX_DECODE_PASSES}, got ${String(passes)}`)
  }
  const matches: IdsMatch[] = []
  if (input.length === 0) return matches
  const categories = opts?.categories ?? IDS_CATEGORIES
  if (categories.length === 0) return matches
  const { plain, flags: plainFlags, nulAt } = normalise(input, passes)

  // Each view is built, and its characters flagged, only when a pattern needs it; most are
  // the plain text itself, and then share its flags.
  let sql: [string] | [string, string] | undefined
  let sqlFlags: [number] | [number, number] | undefined
  let path: string | undefined
  let pathFlags = 0
  let cmd: string | undefined
  let cmdFlags = 0
  for (const category of categories) {
    const patterns = PATTERNS_BY_CATEGORY.get(category)
    if (patterns === undefined) continue
    for (const p of patterns) {
      let found: IdsMatch | undefined
      if (p === NULL_BYTE_PATTERN) {
        found = nulAt < 0 ? undefined : { category, pattern: p.id, excerpt: excerptOf(plain, nulAt, 1) }
      } else {
        switch (p.on) {
          case 'plain':
            found = tryPattern(p, plain, plainFlags)
            break
          case 'path':
            if (path === undefined) {
              path = plainFlags & BSL ? plain.replaceAll('\\', '/') : plain
              pathFlags = path === plain ? plainFlags : charFlags(path)
            }
            found = tryPattern(p, path, pathFlags)
            break
          case 'cmd':
            if (cmd === undefined) {
              cmd = cmdView(plain, plainFlags)
              cmdFlags = cmd === plain ? plainFlags : charFlags(cmd)
            }
            found = tryPattern(p, cmd, cmdFlags)
            break
          case 'sql':
            if (sql === undefined || sqlFlags === undefined) {
              sql = sqlViews(plain, plainFlags)
              sqlFlags = sql.length === 1 ? [sql[0] === plain ? plainFlags : charFlags(sql[0])] : [charFlags(sql[0]), charFlags(sql[1])]
            }
            found = tryPattern(p, sql[0], sqlFlags[0])
            if (found === undefined && sql.length === 2) found = tryPattern(p, sql[1], sqlFlags[1] ?? 0)
            break
        }
      }
      if (found !== undefined) matches.push(found)
    }
  }
  return matches
}
