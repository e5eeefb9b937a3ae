import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { MemoryKeyStore, generateSecret } from './key-store.js'
import type { GuardEvent, GuardKey } from './seams.js'

const key = (over: Partial<GuardKey> = {}): GuardKey => ({ id: 'k1', account_id: 'acc-1', scopes: ['orders:read'], tier: 'retail', ...over })

function setup() {
  let now = Date.parse('2026-11-24T09:00:00Z')
  const events: GuardEvent[] = []
  const store = new MemoryKeyStore({ encryptionKey: randomBytes(32), now: () => now, sink: { emit: (e) => events.push(e) } })
  return { store, events, advance: (ms: number) => (now += ms) }
}

describe('MemoryKeyStore', () => {
  it('gives back the secret it was given, and nothing for an unknown key', async () => {
    const { store } = setup()
    const secret = generateSecret()
    store.add(key(), secret)
    expect(await store.secretsFor('k1')).toEqual([secret])
    expect(await store.get('k1')).toMatchObject({ id: 'k1', account_id: 'acc-1' })
    expect(await store.get('nope')).toBeUndefined()
    expect(await store.secretsFor('nope')).toEqual([])
  })

  it('keeps the secret encrypted: its bytes appear nowhere in the store object', () => {
    const { store } = setup()
    const secret = 'plain-secret-value-0123456789'
    store.add(key(), secret)
    expect(JSON.stringify(store)).not.toContain(secret)
    expect(String(store)).not.toContain(secret)
  })

  it('keeps both secrets valid during the rotation overlap, then only the new one', async () => {
    const { store, advance } = setup()
    store.add(key(), 'old-secret-0123456789')
    store.rotate('k1', 'new-secret-0123456789', { overlapMs: 60_000 })
    expect(await store.secretsFor('k1')).toEqual(['new-secret-0123456789', 'old-secret-0123456789'])
    advance(59_999)
    expect(await store.secretsFor('k1')).toHaveLength(2)
    advance(2)
    expect(await store.secretsFor('k1')).toEqual(['new-secret-0123456789'])
  })

  it('a second rotation does not extend the first overlap', async () => {
    const { store, advance } = setup()
    store.add(key(), 'secret-a-0123456789')
    store.rotate('k1', 'secret-b-0123456789', { overlapMs: 10_000 })
    advance(5_000)
    store.rotate('k1', 'secret-c-0123456789', { overlapMs: 60_000 })
    advance(5_001)
    expect(await store.secretsFor('k1')).toEqual(['secret-c-0123456789', 'secret-b-0123456789'])
  })

  it('expire sets expires_at', async () => {
    const { store } = setup()
    store.add(key(), generateSecret())
    store.expire('k1', new Date('2026-11-24T10:00:00Z'))
    expect((await store.get('k1'))?.expires_at).toBe('2026-11-24T10:00:00.000Z')
  })

  it('refuses bad keys, weak secrets and a wrong-size encryption key, without echoing the secret', () => {
    const { store } = setup()
    expect(() => new MemoryKeyStore({ encryptionKey: randomBytes(16) })).toThrow(/32 bytes/)
    expect(() => store.add(key({ id: 'bad id with spaces' }), generateSecret())).toThrow()
    expect(() => store.add(key({ ip_allowlist: ['10.0.0.0/40'] }), generateSecret())).toThrow()
    expect(() => store.add(key({ expires_at: 'tomorrow' }), generateSecret())).toThrow()
    try {
      store.add(key(), 'short-secret')
      expect.unreachable()
    } catch (err) {
      expect(String(err)).not.toContain('short-secret')
    }
    store.add(key(), generateSecret())
    expect(() => store.add(key(), generateSecret())).toThrow(/exists/)
    expect(() => store.rotate('nope', generateSecret(), { overlapMs: 0 })).toThrow()
    expect(() => store.rotate('k1', generateSecret(), { overlapMs: -1 })).toThrow()
  })

  it('emits lifecycle events without the secret', () => {
    const { store, events } = setup()
    const secret = generateSecret()
    store.add(key(), secret)
    store.rotate('k1', generateSecret(), { overlapMs: 1000 })
    store.expire('k1')
    expect(events.map((e) => e.action)).toEqual(['key.create', 'key.rotate', 'key.expire'])
    expect(events[0]).toMatchObject({ outcome: 'success', api_key_id: 'k1', account_id: 'acc-1' })
    expect(JSON.stringify(events)).not.toContain(secret)
  })
})
