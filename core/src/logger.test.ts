import { describe, it, expect } from 'vitest'
import { createLogger, maskingSerializers } from './logger.js'

const SECRET = 'hunter2-s3cr3t'

function capture(level = 'info'): { logger: ReturnType<typeof createLogger>; output: () => string; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = []
  const logger = createLogger({ level, name: 'test', destination: { write: (s: string) => void chunks.push(s) } })
  const output = (): string => chunks.join('')
  const lines = (): Record<string, unknown>[] => chunks.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
  return { logger, output, lines }
}

describe('createLogger', () => {
  it('masks a secret in the message and keeps the text around it', () => {
    const { logger, output, lines } = capture()
    logger.info(`login for bob with password=${SECRET} accepted`)
    expect(output()).not.toContain(SECRET)
    expect(lines()[0]!.msg).toBe('login for bob with password=[masked:password] accepted')
    expect(lines()[0]!.name).toBe('test')
  })

  it('masks secrets in a merged object, at the top and nested 3 deep', () => {
    const { logger, output, lines } = capture()
    const merged = {
      path: `/v1/orders?symbol=AAPL&token=${SECRET}`,
      a: { b: { c: `Authorization: Bearer ${SECRET}`, d: 'plain text' } },
      x: { y: { apiKey: SECRET } },
    }
    logger.info(merged, 'request done')
    expect(output()).not.toContain(SECRET)
    const line = lines()[0]!
    expect(line.msg).toBe('request done')
    expect(line.path).toBe('/v1/orders?symbol=AAPL&token=[masked:token]')
    expect(line.a).toEqual({ b: { c: 'Authorization: [masked:authorization]', d: 'plain text' } })
    expect(line.x).toEqual({ y: { apiKey: '[masked:apikey]' } })
    // The caller's object is left as it was.
    expect(merged.x.y.apiKey).toBe(SECRET)
  })

  it("masks an Error's message, stack and causes", () => {
    const { logger, output, lines } = capture()
    const err = new Error(`connect failed: password=${SECRET}`, { cause: new Error(`upstream said token=${SECRET}`) })
    logger.error(err)
    logger.error({ err }, 'while connecting')
    logger.warn({ context: { attempt: { last: err } } }, 'retrying')
    expect(output()).not.toContain(SECRET)
    const [first, second, third] = lines()
    expect(first!.msg).toBe('connect failed: password=[masked:password]')
    const serialized = second!.err as Record<string, unknown>
    expect(serialized.type).toBe('Error')
    expect(serialized.message).toBe('connect failed: password=[masked:password] upstream said token=[masked:token]')
    expect(serialized.stack).toContain('Error: connect failed: password=[masked:password]')
    expect(second!.msg).toBe('while connecting')
    expect(JSON.stringify(third)).toContain('connect failed: password=[masked:password]')
  })

  it('masks interpolated values, including secrets only formed by interpolation', () => {
    const { logger, output } = capture()
    logger.info('user %s sent %j', 'bob', { token: SECRET })
    logger.info('%s=%s', 'password', SECRET)
    expect(output()).not.toContain(SECRET)
    expect(output()).toContain('user bob sent')
  })

  it('censors always-secret keys with redact', () => {
    const { logger, output, lines } = capture()
    logger.info({ password: 'x', token: 'y', secret: 'z', headers: { authorization: 'Basic abc' }, db: { password: 'w' } }, 'cfg')
    logger.info({ req: { headers: { authorization: 'Bearer q', 'vigil-signature': 'v1=00' } } }, 'req')
    const [cfg] = lines()
    expect(cfg).toMatchObject({ password: '[masked]', token: '[masked]', secret: '[masked]', headers: { authorization: '[masked]' }, db: { password: '[masked]' } })
    expect(output()).not.toContain('v1=00')
    expect(output()).not.toContain('Bearer q')
  })

  it('masks child bindings, at every generation', () => {
    const { logger, output, lines } = capture()
    logger.child({ source: 'acme', key: 'sk_live_4eC39HqLyjWDarjtT1zdp7dc' }).child({ note: `pwd=${SECRET}` }).info('from child')
    expect(output()).not.toContain(SECRET)
    expect(output()).not.toContain('4eC39HqLyjWDarjtT1zdp7dc')
    expect(lines()[0]).toMatchObject({ source: 'acme', key: '[masked:secret]', note: 'pwd=[masked:pwd]', msg: 'from child' })
  })

  it('survives what JSON.stringify chokes on', () => {
    const { logger, lines } = capture()
    const cyclic: Record<string, unknown> = { s: `token=${SECRET}` }
    cyclic.self = cyclic
    logger.info({ cyclic, when: new Date(0), url: new URL(`https://api.example.com/v1?api_key=${SECRET}`) }, 'odd')
    expect(lines()[0]).toMatchObject({
      cyclic: { s: 'token=[masked:token]', self: '[Circular]' },
      when: '1970-01-01T00:00:00.000Z',
      url: 'https://api.example.com/v1?api_key=[masked:api_key]',
    })
  })

  it('honours the level', () => {
    const { logger, output } = capture('warn')
    logger.info('not written')
    logger.warn('written')
    expect(output()).not.toContain('not written')
    expect(output()).toContain('written')
  })
})

describe('maskingSerializers', () => {
  it('writes a request without headers and with its URL masked', () => {
    const req = {
      id: 'req-1',
      method: 'GET',
      url: `/v1/events?token=${SECRET}&limit=10`,
      headers: { host: 'vigil.local', authorization: `Bearer ${SECRET}` },
      socket: { remoteAddress: '203.0.113.7', remotePort: 51234 },
    }
    const out = maskingSerializers.req(req)
    expect(JSON.stringify(out)).not.toContain(SECRET)
    expect(out).toEqual({
      id: 'req-1',
      method: 'GET',
      url: '/v1/events?token=[masked:token]&limit=10',
      hostname: 'vigil.local',
      remoteAddress: '203.0.113.7',
      remotePort: 51234,
    })
  })

  it('writes a response as its status and an error masked', () => {
    expect(maskingSerializers.res({ statusCode: 202, getHeaders: () => ({}) })).toEqual({ statusCode: 202 })
    const out = maskingSerializers.err(new TypeError(`bad secret=${SECRET}`)) as Record<string, unknown>
    expect(out.type).toBe('TypeError')
    expect(out.message).toBe('bad secret=[masked:secret]')
    expect(JSON.stringify(out)).not.toContain(SECRET)
  })
})
