import { describe, expect, it } from 'vitest'
import { filtersFromSearch, filtersToSearch, matchesFilters, resolveRange, sortAlerts, toAlertsQuery, type AlertFilters } from './query.js'
import { alert } from './test-fixtures.js'

const NOW = Date.parse('2026-11-27T01:00:00.000Z')
const base: AlertFilters = { start: 'now-24h', end: 'now' }

describe('alerts filters → GET /v1/alerts query', () => {
  it('maps the default last 24 h to from only, so the range keeps moving with now', () => {
    expect(toAlertsQuery(base, NOW)).toEqual({ from: '2026-11-26T01:00:00.000Z', limit: '100' })
  })

  it('maps every filter and an absolute range to their parameters', () => {
    const f: AlertFilters = {
      severity: 'critical',
      status: 'open',
      rule: 'geo.new_country',
      api_key_id: ' ak_9 ',
      account_id: 'ACC-9',
      start: '2026-11-20T00:00:00.000Z',
      end: '2026-11-21T00:00:00.000Z',
    }
    expect(toAlertsQuery(f, NOW, 50)).toEqual({
      severity: 'critical',
      status: 'open',
      rule: 'geo.new_country',
      api_key_id: 'ak_9',
      account_id: 'ACC-9',
      from: '2026-11-20T00:00:00.000Z',
      to: '2026-11-21T00:00:00.000Z',
      limit: '50',
    })
  })

  it('rounds a relative end up and refuses a range that does not parse or is empty', () => {
    const r = resolveRange('now-7d/d', 'now-1d/d', NOW)
    // Day rounding is in the browser's time zone.
    expect(r?.toMs).toBe(new Date(NOW - 86_400_000).setHours(23, 59, 59, 999))
    expect(r?.fromMs).toBe(new Date(NOW - 7 * 86_400_000).setHours(0, 0, 0, 0))
    expect(resolveRange('yesterday-ish', 'now', NOW)).toBeNull()
    expect(resolveRange('now', 'now-1h', NOW)).toBeNull()
    expect(resolveRange('now+1h', 'now', NOW)).toBeNull()
    expect(toAlertsQuery({ start: 'nonsense', end: 'now' }, NOW)).toBeNull()
  })

  it('round-trips the filters through the URL, leaving defaults out', () => {
    expect(filtersToSearch(base)).toBe('')
    const f: AlertFilters = { severity: 'high', api_key_id: 'ak_1', account_id: 'ACC 1', start: 'now-15m', end: 'now' }
    const search = filtersToSearch(f)
    expect(search).toBe('?severity=high&key=ak_1&account=ACC+1&start=now-15m')
    expect(filtersFromSearch(search)).toEqual(f)
    expect(filtersFromSearch('?status=&rule=%20')).toEqual(base)
  })
})

describe('a live alert against the active filters', () => {
  const range = resolveRange('now-24h', 'now', NOW)
  it('matches only when every filter and the time range agree (first_seen in [from, to))', () => {
    const a = alert({ id: 'al_1', first_seen: '2026-11-27T00:30:00.000Z' })
    expect(matchesFilters(a, base, range)).toBe(true)
    expect(matchesFilters(a, { ...base, severity: 'high', status: 'open', rule: 'auth.brute_force', api_key_id: 'ak_1', account_id: 'ACC-1' }, range)).toBe(true)
    expect(matchesFilters(a, { ...base, severity: 'low' }, range)).toBe(false)
    expect(matchesFilters(a, { ...base, status: 'resolved' }, range)).toBe(false)
    expect(matchesFilters(a, { ...base, rule: 'geo.new_country' }, range)).toBe(false)
    expect(matchesFilters(a, { ...base, api_key_id: 'ak_2' }, range)).toBe(false)
    expect(matchesFilters(a, { ...base, account_id: 'ACC-2' }, range)).toBe(false)
    expect(matchesFilters(alert({ id: 'old', first_seen: '2026-11-25T00:00:00.000Z' }), base, range)).toBe(false)
    const closed = resolveRange('2026-11-26T00:00:00.000Z', '2026-11-27T00:30:00.000Z', NOW)
    expect(matchesFilters(a, base, closed)).toBe(false)
    expect(matchesFilters(alert({ id: 'in', first_seen: '2026-11-27T00:29:59.999Z' }), base, closed)).toBe(true)
    expect(matchesFilters(a, base, null)).toBe(false)
  })
})

describe('sorting the grid', () => {
  const rows = [
    alert({ id: 'a', severity: 'low', count: 5, last_seen: '2026-11-27T00:01:00Z' }),
    alert({ id: 'b', severity: 'critical', count: 1, last_seen: '2026-11-27T00:03:00Z' }),
    alert({ id: 'c', severity: 'medium', count: 5, last_seen: '2026-11-27T00:02:00Z' }),
  ]
  it('sorts severity by rank, times as times, and keeps ties in their order', () => {
    expect(sortAlerts(rows, [{ id: 'severity', direction: 'desc' }]).map((a) => a.id)).toEqual(['b', 'c', 'a'])
    expect(sortAlerts(rows, [{ id: 'last_seen', direction: 'asc' }]).map((a) => a.id)).toEqual(['a', 'c', 'b'])
    expect(sortAlerts(rows, [{ id: 'count', direction: 'desc' }]).map((a) => a.id)).toEqual(['a', 'c', 'b'])
    expect(sortAlerts(rows, []).map((a) => a.id)).toEqual(['a', 'b', 'c'])
  })
})
