import { describe, expect, it } from 'vitest'
import { bucketLabel, chartRows, groupSearchResults, keyApiPath, keyPath, narrowResults, reasonError, resolveRange, summarise, type ActivityBucket, type KeySearchItem } from './model.js'

const item = (api_key_id: string, account_id: string | null): KeySearchItem => ({ api_key_id, account_id, last_seen: '2026-11-27T00:00:00Z', events_24h: 1, failures_24h: 0 })

const bucket = (t: string, over: Partial<ActivityBucket> = {}): ActivityBucket => ({ t, requests: 0, orders: 0, notional: 0, failures: 0, baseline: null, ...over })

describe('search results', () => {
  it('lists keys matched by id first, then each matching account with its keys', () => {
    const items = [item('ACC-x-key', 'ACC-1'), item('ak_1', 'ACC-1'), item('ak_2', 'ACC-2'), item('ak_3', 'ACC-1'), item('ak_old', 'OTHER')]
    const groups = groupSearchResults(items, 'ACC-')
    expect(groups.map((g) => [g.label, g.items.map((i) => i.api_key_id)])).toEqual([
      ['Keys', ['ACC-x-key']],
      ['Account ACC-1', ['ak_1', 'ak_3']],
      ['Account ACC-2', ['ak_2']],
      ['Keys that acted for a matching account before', ['ak_old']],
    ])
  })

  it('shows recently seen keys for an empty query and nothing for no answers', () => {
    expect(groupSearchResults([item('ak_1', null)], '  ')).toEqual([{ kind: 'recent', label: 'Recently seen keys', items: [item('ak_1', null)] }])
    expect(groupSearchResults([], 'ak')).toEqual([])
    expect(groupSearchResults([], '')).toEqual([])
  })

  it('puts a key matched by id under Keys even when its account matches too', () => {
    expect(groupSearchResults([item('ak_9', 'ak_account')], 'ak').map((g) => g.kind)).toEqual(['keys'])
  })
})

describe('suggestions while typing', () => {
  const answer = { q: 'ak', items: [item('ak_1', 'ACC-1'), item('ak_22', 'ak_acct'), item('ak_3', null)] }

  it('narrows an answer for a shorter prefix to what still matches by key or account', () => {
    expect(narrowResults(answer, 'ak')?.map((i) => i.api_key_id)).toEqual(['ak_1', 'ak_22', 'ak_3'])
    expect(narrowResults(answer, 'ak_2 ')?.map((i) => i.api_key_id)).toEqual(['ak_22'])
    expect(narrowResults(answer, 'ak_a')?.map((i) => i.api_key_id)).toEqual(['ak_22'])
    expect(narrowResults(answer, 'ak_9')).toEqual([])
  })

  it('has nothing to show for an answer to another query, or none yet', () => {
    expect(narrowResults(answer, 'a')).toBeNull()
    expect(narrowResults(answer, 'ACC')).toBeNull()
    expect(narrowResults(undefined, 'ak')).toBeNull()
  })
})

describe('paths', () => {
  it('encodes key ids in page and API paths', () => {
    expect(keyPath('ak/1 2?x#y')).toBe('/keys/ak%2F1%202%3Fx%23y')
    expect(keyApiPath('ak/1')).toBe('/v1/keys/ak%2F1')
    expect(keyApiPath('ak 1', 'activity')).toBe('/v1/keys/ak%201/activity')
    expect(keyApiPath('k', 'revoke')).toBe('/v1/keys/k/revoke')
  })
})

describe('activity chart rows and summary', () => {
  const buckets = [
    bucket('2026-11-27T00:00:00Z', { requests: 10, orders: 4, failures: 1, baseline: { low: 0, median: 3, high: 9 } }),
    bucket('2026-11-27T00:10:00Z', { requests: 30, orders: 20, failures: 0, baseline: { low: 1, median: 4, high: 12 } }),
    bucket('2026-11-27T00:20:00Z', { requests: 5, orders: 50, failures: 3 }),
  ]

  it('keeps one row per bucket with the band, or nulls where there is none', () => {
    expect(chartRows(buckets)).toEqual([
      { x: Date.parse('2026-11-27T00:00:00Z'), requests: 10, orders: 4, failures: 1, low: 0, median: 3, high: 9 },
      { x: Date.parse('2026-11-27T00:10:00Z'), requests: 30, orders: 20, failures: 0, low: 1, median: 4, high: 12 },
      { x: Date.parse('2026-11-27T00:20:00Z'), requests: 5, orders: 50, failures: 3, low: null, median: null, high: null },
    ])
  })

  it('counts buckets above the band only where there is a band', () => {
    const s = summarise({
      buckets,
      locations: [
        { country: 'DE', city: 'Berlin', lat: 1, lon: 1, count: 1, first_seen: '', last_seen: '' },
        { country: 'DE', city: 'Munich', lat: 1, lon: 1, count: 1, first_seen: '', last_seen: '' },
        { country: 'BR', city: null, lat: null, lon: null, count: 1, first_seen: '', last_seen: '' },
      ],
      ips: [{ client_ip: '192.0.2.1', country: 'DE', count: 2, failures: 0, last_seen: '' }],
    })
    expect(s).toEqual({ requests: 45, orders: 74, failures: 4, aboveBand: 1, withBand: 2, countries: 2, ips: 1 })
  })

  it('names bucket widths', () => {
    expect(bucketLabel(600_000)).toBe('10 min')
    expect(bucketLabel(3_600_000)).toBe('1 h')
    expect(bucketLabel(7_200_000)).toBe('2 h')
    expect(bucketLabel(86_400_000)).toBe('1 d')
  })
})

describe('reason and range', () => {
  it('requires a reason of 1 to 1000 characters that is not only blanks', () => {
    expect(reasonError('')).toMatch(/required/)
    expect(reasonError(' \n\t')).toMatch(/required/)
    expect(reasonError('x'.repeat(1001))).toMatch(/At most 1000/)
    expect(reasonError('x'.repeat(1000))).toBeNull()
    expect(reasonError('leaked in a support ticket')).toBeNull()
  })

  it('resolves relative and absolute ranges against now', () => {
    const now = new Date('2026-11-27T12:00:00.000Z')
    expect(resolveRange('now-24h', 'now', now)).toEqual({ from: '2026-11-26T12:00:00.000Z', to: '2026-11-27T12:00:00.000Z' })
    expect(resolveRange('2026-11-01T00:00:00.000Z', '2026-11-02T00:00:00.000Z', now)).toEqual({ from: '2026-11-01T00:00:00.000Z', to: '2026-11-02T00:00:00.000Z' })
    expect(resolveRange('now', 'now-1h', now)).toEqual({ error: 'The start of the time range must be before its end.' })
    expect(resolveRange('now-3q', 'now', now)).toEqual({ error: 'The time range is not valid.' })
  })
})
