import { describe, it, expect } from 'vitest'
import { MASK_KINDS, maskEvent, maskIdentifier, maskText } from './masking.js'

/** Appends the Luhn check digit, so tests can build valid numbers of any shape. */
function withLuhnDigit(body: string): string {
  for (let d = 0; d <= 9; d++) {
    const candidate = body + d
    let sum = 0
    for (let i = 0; i < candidate.length; i++) {
      let n = Number(candidate[candidate.length - 1 - i])
      if (i % 2 === 1) n = n * 2 > 9 ? n * 2 - 9 : n * 2
      sum += n
    }
    if (sum % 10 === 0) return candidate
  }
  throw new Error('unreachable')
}

const JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c'
const BASE64_SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYzEXAMPLEKEY8q3'
const HEX_SECRET = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

/** Text from an ordinary trading API that no rule may touch. */
const CLEAN_TRADING_TEXT = [
  '2026-11-24T09:30:00.123456Z',
  '2026-11-24 2026-11-25',
  'BRK.B',
  '550e8400-e29b-41d4-a716-446655440000',
  '550e8400e29b41d4a716446655440000',
  '01JD5W3X9K8Q7R6T5V4B3N2M1P',
  'cursor=AbCdEf0123456789AbCdEf0123456',
  '/v1/orders/12345',
  '/v1/orders?symbol=BRK.B&side=buy&limit=50&cursor=c_9f8e7d',
  'order ORD-2026-100001 qty 123456789012 price 189.50',
  'ts_ms=' + withLuhnDigit('176400000012'),
  'python-requests/2.31.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  'ConcurrentOrderModificationRejectedBecauseOfRiskLimits',
  'order_status_changed_because_of_the_daily_notional_limit',
  'reason=bad_password',
  'api_key_id=key_live_8f3a2c91',
  'token_type=bearer',
  'missing bearer token',
  'Basic settings',
  '+1 212-555-0100',
]

describe('MASK_KINDS', () => {
  it('lists every kind a mask can carry', () => {
    expect(MASK_KINDS).toEqual(
      expect.arrayContaining(['authorization', 'password', 'secret', 'token', 'api_key', 'signature', 'card', 'jwt']),
    )
    expect(new Set(MASK_KINDS).size).toBe(MASK_KINDS.length)
  })
})

describe('maskText: (a) Authorization values', () => {
  it('masks Bearer and Basic credentials and whole Authorization values', () => {
    expect(maskText('Authorization: Bearer abc123def456')).toBe('Authorization: [masked:authorization]')
    expect(maskText('authorization=Basic dXNlcjpwYXNz&next=1')).toBe('authorization=[masked:authorization]&next=1')
    expect(maskText('{"Authorization":"Bearer abc.def-123","host":"x"}')).toBe('{"Authorization":"[masked:authorization]","host":"x"}')
    expect(maskText('Proxy-Authorization: Negotiate YIIC9wYGKwYBBQUCo abc\r\nHost: api')).toBe(
      'Proxy-Authorization: [masked:authorization]\r\nHost: api',
    )
    expect(maskText(`called with Bearer ${JWT} ok`)).toBe('called with Bearer [masked:authorization] ok')
    expect(maskText('Basic dXNlcjpwYXNz')).toBe('Basic [masked:authorization]')
    expect(maskText('Basic YWxhZGRpbjpvcGVuc2VzYW1l')).toBe('Basic [masked:authorization]')
  })

  it('leaves prose about auth schemes alone', () => {
    for (const s of ['missing bearer token', 'Bearer Auth required', 'Basic settings page', 'token_type=bearer', 'auth_method=basic']) {
      expect(maskText(s)).toBe(s)
    }
  })
})

describe('maskText: (b) secret key=value pairs', () => {
  const keys: [string, string][] = [
    ['password', 'password'],
    ['passwd', 'passwd'],
    ['pwd', 'pwd'],
    ['secret', 'secret'],
    ['client_secret', 'client_secret'],
    ['token', 'token'],
    ['access_token', 'access_token'],
    ['refresh_token', 'refresh_token'],
    ['api_key', 'api_key'],
    ['apikey', 'apikey'],
    ['api_secret', 'api_secret'],
    ['private_key', 'private_key'],
    ['signature', 'signature'],
    ['PASSWORD', 'password'],
    ['X-Api-Key', 'api_key'],
    ['apiKey', 'apikey'],
    ['clientSecret', 'client_secret'],
    ['db_password', 'password'],
    ['newPassword', 'password'],
  ]

  it.each(keys)('masks the value of %s and keeps the key', (key, kind) => {
    expect(maskText(`${key}=s3cr3t-Value`)).toBe(`${key}=[masked:${kind}]`)
    expect(maskText(`${key}: s3cr3t-Value\nnext line`)).toBe(`${key}: [masked:${kind}]\nnext line`)
    expect(maskText(`{"${key}":"s3cr3t Value","user":"bob"}`)).toBe(`{"${key}":"[masked:${kind}]","user":"bob"}`)
  })

  it('masks only the value inside a query string, quoted or escaped JSON', () => {
    expect(maskText('/v1/orders?symbol=AAPL&password=hunter2&limit=50')).toBe('/v1/orders?symbol=AAPL&password=[masked:password]&limit=50')
    expect(maskText(`{'token': 'abc def'}`)).toBe(`{'token': '[masked:token]'}`)
    expect(maskText('{\\"token\\":\\"abc\\"}')).toBe('{\\"token\\":\\"[masked:token]\\"}')
    expect(maskText('"password" : "with \\" quote"')).toBe('"password" : "[masked:password]"')
    expect(maskText('Vigil-Signature: v1=aa11,v1=bb22\nnext')).toBe('Vigil-Signature: [masked:signature]\nnext')
  })

  it('leaves keys that only look alike, and empty values, alone', () => {
    for (const s of [
      'api_key_id=key_123',
      'token_type=bearer',
      'passwordless=true',
      'secrets_manager=vault',
      'mytoken=abc',
      'reason=bad_password',
      'password=',
      'password=&user=bob',
      '"token": null',
      'symbol=AAPL&limit=50',
    ]) {
      expect(maskText(s)).toBe(s)
    }
  })
})

describe('maskText: (c) payment card numbers', () => {
  it('masks Luhn-valid numbers of 13-19 digits, keeping the last four', () => {
    expect(maskText('card 4111111111111111 ok')).toBe('card [masked:card …1111] ok')
    expect(maskText('card 4111 1111 1111 1111, exp 12/26')).toBe('card [masked:card …1111], exp 12/26')
    expect(maskText('4111-1111-1111-1111')).toBe('[masked:card …1111]')
    expect(maskText('5555555555554444')).toBe('[masked:card …4444]')
    expect(maskText('amex 378282246310005')).toBe('amex [masked:card …0005]')
    expect(maskText('amex 3782 822463 10005')).toBe('amex [masked:card …0005]')
    expect(maskText('visa13 4222222222222')).toBe('visa13 [masked:card …2222]')
    expect(maskText('19 digits ' + withLuhnDigit('622202000000000000'))).toMatch(/^19 digits \[masked:card …\d{4}\]$/)
    expect(maskText('qty 12 4111111111111111')).toBe('qty 12 [masked:card …1111]')
    expect(maskText('4111 1111 1111 1111 5555 5555 5555 4444')).toBe('[masked:card …1111] [masked:card …4444]')
  })

  it('leaves other numbers alone', () => {
    for (const s of [
      '4111111111111112', // fails Luhn
      '123456789012', // 12 digits
      '41111111111111111111', // 20 digits
      'ORD4111111111111111', // inside an identifier
      '/v1/orders/12345',
      '2026-11-24 2026-11-25',
      withLuhnDigit('176400000012'), // epoch milliseconds
      withLuhnDigit('176400000012345678'), // epoch nanoseconds
      '+1 212-555-0100',
    ]) {
      expect(maskText(s)).toBe(s)
    }
  })
})

describe('maskText: (d) JWTs', () => {
  it('masks a JWT wherever it appears', () => {
    expect(maskText(`jwt ${JWT} end`)).toBe('jwt [masked:jwt] end')
    expect(maskText('eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.')).toBe('[masked:jwt]')
  })

  it('leaves text that merely starts like one alone', () => {
    for (const s of ['eyJ', 'eyJhbGciOiJIUzI1NiJ9', 'the eye.of.the storm', 'keyJar.value.x']) expect(maskText(s)).toBe(s)
  })
})

describe('maskText: (e) things shaped like API secrets', () => {
  it('masks well-known prefixes', () => {
    for (const secret of [
      'sk_live_4eC39HqLyjWDarjtT1zdp7dc',
      'sk_test_4eC39HqLyjWDarjtT1zdp7dc',
      'rk_live_51H8abcdEFGH1234',
      'ghp_abcdefghijklmnopqrstuvwxyz0123456789',
      'xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy',
      'xoxp-1234567890-abcdefghij',
      'AKIAIOSFODNN7EXAMPLE',
      'vgs_' + 'Ab3_-'.repeat(8) + 'xyz',
      'vgt_abcDEF123_-xyz',
    ]) {
      expect(maskText(`key ${secret} used`)).toBe('key [masked:secret] used')
    }
  })

  it('masks long high-entropy tokens, keeping the route of a path', () => {
    expect(maskText(`aws ${BASE64_SECRET} end`)).toBe('aws [masked:secret] end')
    expect(maskText(`sha ${HEX_SECRET}`)).toBe('sha [masked:secret]')
    expect(maskText('k=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-xy')).toBe('k=[masked:secret]')
    expect(maskText('/v1/keys/AbCdEfGh0123456789IjKlMnOp9876543210/rotate')).toBe('/v1/keys/[masked:secret]/rotate')
  })

  it('leaves near misses alone', () => {
    for (const s of [
      'sk_test_abc', // too short to be a key
      'task_live_4eC39HqLyjWDarjtT', // prefix inside a word
      'AKIAiosfodnn7example',
      '12345678901234567890123456789012345', // digits only
      'abcdefghijklmnopqrstuvwxyzabcdefghij', // one class
      'AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh', // no digit
    ]) {
      expect(maskText(s)).toBe(s)
    }
  })
})

describe('maskText: ordinary trading-API text', () => {
  it.each(CLEAN_TRADING_TEXT)('leaves %s alone', (s) => {
    expect(maskText(s)).toBe(s)
  })
})

describe('maskIdentifier', () => {
  it('masks what no identifier can be', () => {
    expect(maskIdentifier('sk_live_4eC39HqLyjWDarjtT1zdp7dc')).toBe('[masked:secret]')
    expect(maskIdentifier(JWT)).toBe('[masked:jwt]')
    expect(maskIdentifier('Bearer abc123def456')).toBe('Bearer [masked:authorization]')
    expect(maskIdentifier('sess?token=abc123')).toBe('sess?token=[masked:token]')
  })

  it('never applies the card or entropy rules', () => {
    for (const s of ['4111111111111111', HEX_SECRET, BASE64_SECRET, 'SHA256:' + HEX_SECRET, ...CLEAN_TRADING_TEXT]) {
      expect(maskIdentifier(s)).toBe(s)
    }
  })
})

describe('maskEvent', () => {
  function event(): Record<string, unknown> {
    return {
      id: '01JD5W3X9K8Q7R6T5V4B3N2M1P',
      ts: '2026-11-24T09:30:00.123456Z',
      action: 'order.new',
      outcome: 'failure',
      reason: 'bad_password',
      api_key_id: 'key_live_8f3a2c91',
      account_id: 'ACC-10042',
      client_ip: '203.0.113.7',
      user_agent: 'python-requests/2.31.0',
      scopes: ['orders:write', 'orders:read'],
      http: { method: 'POST', path: '/v1/orders?symbol=AAPL&limit=50', status: 201, latency_ms: 3.2, request_id: 'req-1' },
      tls: { version: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256', client_cert_fingerprint: HEX_SECRET },
      order: { id: '4111111111111111', client_order_id: 'cli-1', symbol: 'BRK.B', side: 'buy', type: 'limit', qty: 100, price: 189.5 },
      attrs: { strategy: 'twap-v2' },
    }
  }

  it('changes nothing in a clean event and answers 0', () => {
    const ev = event()
    expect(maskEvent(ev)).toBe(0)
    expect(ev).toEqual(event())
  })

  it('masks free text and identifiers in place and counts the values it changed', () => {
    const ev = event()
    const http = ev.http as Record<string, unknown>
    http.path = '/v1/orders?symbol=AAPL&api_key=abc123&limit=50'
    http.request_id = 'Bearer abc123def456'
    ev.user_agent = `bot/1.0 ${JWT}`
    ev.session_id = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'
    ev.scopes = ['orders:write', 'ghp_abcdefghijklmnopqrstuvwxyz0123456789']
    ev.attrs = { note: 'paid with 4111 1111 1111 1111', password: 'hunter2', 'X-Api-Key': 'k1' }
    ev.extra = { deep: { list: ['Authorization: Basic dXNlcjpwYXNz'] } }
    expect(maskEvent(ev)).toBe(9)
    expect(http.path).toBe('/v1/orders?symbol=AAPL&api_key=[masked:api_key]&limit=50')
    expect(http.request_id).toBe('Bearer [masked:authorization]')
    expect(http.status).toBe(201)
    expect(ev.user_agent).toBe('bot/1.0 [masked:jwt]')
    expect(ev.session_id).toBe('[masked:secret]')
    expect(ev.scopes).toEqual(['orders:write', '[masked:secret]'])
    expect(ev.attrs).toEqual({ note: 'paid with [masked:card …1111]', password: '[masked:password]', 'X-Api-Key': '[masked:api_key]' })
    expect(ev.extra).toEqual({ deep: { list: ['Authorization: [masked:authorization]'] } })
    expect(maskEvent(ev)).toBe(0)
  })

  it('keeps card and entropy rules off identifier fields, and leaves ts/action/outcome/client_ip alone', () => {
    const ev = event()
    ev.action = 'password=hunter2'
    const before = structuredClone(ev)
    expect(maskEvent(ev)).toBe(0)
    expect(ev).toEqual(before)
    expect((ev.order as Record<string, unknown>).id).toBe('4111111111111111')
    expect((ev.tls as Record<string, unknown>).client_cert_fingerprint).toBe(HEX_SECRET)
  })

  it('masks the reason and unknown fields as free text', () => {
    const ev = { ...event(), reason: 'token=abc', note: 'card 4111111111111111' }
    expect(maskEvent(ev)).toBe(2)
    expect(ev.reason).toBe('token=[masked:token]')
    expect(ev.note).toBe('card [masked:card …1111]')
  })

  it('never throws: frozen events, cycles, odd values', () => {
    const frozen = Object.freeze({ ...event(), reason: 'password=abc' })
    expect(maskEvent(frozen)).toBe(0)
    const cyclic: Record<string, unknown> = { s: 'token=abc' }
    cyclic.self = cyclic
    expect(maskEvent({ x: cyclic })).toBe(1)
    expect(maskEvent({ http: null, tls: 'pwd=x', order: [1, 'token=x'], scopes: 'a', attrs: 5, id: 7 })).toBe(2)
    expect(maskEvent(null as unknown as Record<string, unknown>)).toBe(0)
  })
})

describe('idempotency', () => {
  const samples = [
    'Authorization: Bearer abc123def456',
    'Basic dXNlcjpwYXNz',
    '/v1/orders?password=hunter2&token=abc',
    '{"password":"x","api_key":"y"}',
    'card 4111 1111 1111 1111 and 5555555555554444',
    `jwt ${JWT}`,
    'sk_live_4eC39HqLyjWDarjtT1zdp7dc AKIAIOSFODNN7EXAMPLE',
    `aws ${BASE64_SECRET} sha ${HEX_SECRET}`,
    '/v1/keys/AbCdEfGh0123456789IjKlMnOp9876543210/rotate',
    ...CLEAN_TRADING_TEXT,
  ]

  it.each(samples)('masking the masked text of %s changes nothing', (s) => {
    const once = maskText(s)
    expect(maskText(once)).toBe(once)
    const id = maskIdentifier(s)
    expect(maskIdentifier(id)).toBe(id)
  })

  it('holds on random mixtures of secret fragments', () => {
    const fragments = [
      'password=', 'token: ', 'Bearer ', 'Basic ', 'dXNlcjpwYXNz', '4111 1111 1111 1111', '4111', '-', ' ', 'eyJhbGciOiJIUzI1NiJ9',
      '.', 'eyJzdWIiOiIxIn0', 'sk_live_', 'AbCdEf0123456789AbCdEf0123456789xyz', '"', "'", '\\', '[masked:token]', '=', ':',
      'Authorization', '&', '\n', '/v1/', 'é', '\ud800', '12', '…', ']', '[', 'api_key', '5555555555554444', HEX_SECRET.slice(0, 32), '/', '_',
    ]
    let seed = 20261124
    const next = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed / 0x7fffffff
    }
    for (let i = 0; i < 5000; i++) {
      let s = ''
      const n = 1 + Math.floor(next() * 14)
      for (let k = 0; k < n; k++) s += fragments[Math.floor(next() * fragments.length)]
      const once = maskText(s)
      expect(maskText(once), JSON.stringify(s)).toBe(once)
      const id = maskIdentifier(s)
      expect(maskIdentifier(id), JSON.stringify(s)).toBe(id)
    }
  })
})

describe('hostile input', () => {
  const MB = 1 << 20
  const hostile: Record<string, string> = {
    'digits': '7'.repeat(MB),
    'card groups': '4111 '.repeat(MB / 5),
    'three-digit groups': '123 '.repeat(MB / 4),
    'one letter': 'a'.repeat(MB),
    'base64 alphabet': 'aA1+/'.repeat(MB / 5),
    'unterminated quotes': 'password="'.repeat(MB / 10),
    'keys without values': 'token:'.repeat(MB / 6),
    'schemes without tokens': 'Bearer '.repeat(MB / 7),
    'JWT starts': 'eyJ'.repeat(MB / 3),
    'JWT pieces': 'eyJaaaaaaaaa.'.repeat(MB / 13),
    'prefixes': ' sk_live_'.repeat(MB / 9),
    'path segments': '/AbCdEfGhIjKlMnOp1234'.repeat(MB / 21),
    'lone surrogates': '\ud800x\udc00'.repeat(MB / 3),
    'unicode': '€ 4111 ü 😀 password=ключ '.repeat(MB / 32),
  }

  // Generous bounds: they guard against catastrophic backtracking, not against a slow machine.
  it.each(Object.keys(hostile))('%s: finishes fast and never throws', (name) => {
    const s = hostile[name]!
    for (const run of [() => maskText(s), () => maskIdentifier(s), () => maskEvent({ reason: s, id: s })]) {
      const start = performance.now()
      expect(run).not.toThrow()
      expect(performance.now() - start).toBeLessThan(1000)
    }
    expect(maskText(s).length).toBeGreaterThan(0)
  })

  it('accepts values that are not strings without throwing', () => {
    expect(maskText(undefined as unknown as string)).toBeUndefined()
    expect(maskText('')).toBe('')
    expect(maskIdentifier(42 as unknown as string)).toBe(42)
  })
})
