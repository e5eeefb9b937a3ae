import { describe, expect, it } from 'vitest'
import { applyLiveAlert, composeRows, emptyLive, parseAlertMessage, type LiveState, type LoadedPage } from './merge.js'
import { resolveRange, type AlertFilters } from './query.js'
import { alert } from './test-fixtures.js'

const NOW = Date.parse('2026-11-27T01:00:00.000Z')
const filters: AlertFilters = { start: 'now-24h', end: 'now' }
const range = resolveRange(filters.start, filters.end, NOW)

function apply(state: LiveState, pages: LoadedPage[], a: ReturnType<typeof alert>, f: AlertFilters = filters) {
  const shown = new Set(pages.flatMap((p) => p.items.map((x) => x.id)))
  return applyLiveAlert(state, a, { filters: f, range: resolveRange(f.start, f.end, NOW), shown: (id) => shown.has(id) })
}

describe('merging the live stream into the grid', () => {
  const page: LoadedPage = {
    seq: 0,
    items: [alert({ id: 'al_b', first_seen: '2026-11-27T00:20:00Z' }), alert({ id: 'al_a', first_seen: '2026-11-27T00:10:00Z' })],
  }

  it('inserts a new alert at the top and keeps the loaded rows in order', () => {
    const { state, outcome } = apply(emptyLive(), [page], alert({ id: 'al_c', first_seen: '2026-11-27T00:50:00Z' }))
    expect(outcome).toBe('inserted')
    expect(composeRows([page], state).map((a) => a.id)).toEqual(['al_c', 'al_b', 'al_a'])
    const next = apply(state, [page], alert({ id: 'al_d', first_seen: '2026-11-27T00:55:00Z' }))
    expect(composeRows([page], next.state).map((a) => a.id)).toEqual(['al_d', 'al_c', 'al_b', 'al_a'])
  })

  it('replaces an update in place, and the newest version wins over an older answer', () => {
    const up = alert({ id: 'al_a', first_seen: '2026-11-27T00:10:00Z', last_seen: '2026-11-27T00:40:00Z', count: 7, status: 'acknowledged' })
    const { state, outcome } = apply(emptyLive(), [page], up)
    expect(outcome).toBe('updated')
    const rows = composeRows([page], state)
    expect(rows.map((a) => a.id)).toEqual(['al_b', 'al_a'])
    expect(rows[1]).toMatchObject({ count: 7, status: 'acknowledged' })
    // A page whose request started after the update (a refetch) is newer than it.
    const refetched: LoadedPage = { seq: state.seq, items: [page.items[0]!, { ...up, status: 'resolved' }] }
    expect(composeRows([refetched], state)[1]?.status).toBe('resolved')
  })

  it('dedupes by id: an alert sent twice is one row, and a replayed older version does not win', () => {
    const first = apply(emptyLive(), [page], alert({ id: 'al_c', first_seen: '2026-11-27T00:50:00Z', last_seen: '2026-11-27T00:51:00Z', count: 3 }))
    const again = apply(first.state, [page], alert({ id: 'al_c', first_seen: '2026-11-27T00:50:00Z', last_seen: '2026-11-27T00:52:00Z', count: 4 }))
    expect(again.outcome).toBe('updated')
    const stale = apply(again.state, [page], alert({ id: 'al_c', first_seen: '2026-11-27T00:50:00Z', last_seen: '2026-11-27T00:51:00Z', count: 3 }))
    expect(stale.outcome).toBe('ignored')
    const rows = composeRows([page], stale.state)
    expect(rows.map((a) => a.id)).toEqual(['al_c', 'al_b', 'al_a'])
    expect(rows[0]?.count).toBe(4)
    // A later page that also holds the inserted alert does not list it twice.
    const more: LoadedPage = { seq: 0, items: [alert({ id: 'al_c', first_seen: '2026-11-27T00:50:00Z', count: 1 })] }
    const withMore = composeRows([page, more], stale.state)
    expect(withMore.map((a) => a.id)).toEqual(['al_c', 'al_b', 'al_a'])
    expect(withMore[0]?.count).toBe(4)
  })

  it('does not insert an alert outside the filters or the time range', () => {
    const critical: AlertFilters = { ...filters, severity: 'critical' }
    expect(apply(emptyLive(), [page], alert({ id: 'al_x', severity: 'high', first_seen: '2026-11-27T00:50:00Z' }), critical).outcome).toBe('ignored')
    expect(apply(emptyLive(), [page], alert({ id: 'al_y', first_seen: '2026-11-20T00:00:00Z' })).outcome).toBe('ignored')
    const past: AlertFilters = { start: '2026-11-26T00:00:00.000Z', end: '2026-11-26T12:00:00.000Z' }
    const r = apply(emptyLive(), [page], alert({ id: 'al_z', first_seen: '2026-11-27T00:50:00Z' }), past)
    expect(r.outcome).toBe('ignored')
    expect(composeRows([page], r.state).map((a) => a.id)).toEqual(['al_b', 'al_a'])
    // …but a row already on the grid is updated in place even if it no longer matches.
    const acked = apply(emptyLive(), [page], alert({ id: 'al_b', first_seen: '2026-11-27T00:20:00Z', status: 'acknowledged' }), { ...filters, status: 'open' })
    expect(acked.outcome).toBe('updated')
    expect(composeRows([page], acked.state)[0]?.status).toBe('acknowledged')
  })

  it('reads only alert-shaped messages', () => {
    expect(parseAlertMessage(JSON.stringify(alert({ id: 'al_1' })))?.id).toBe('al_1')
    expect(parseAlertMessage('{"at":"2026-11-27T00:00:00Z"}')).toBeUndefined()
    expect(parseAlertMessage('not json')).toBeUndefined()
    expect(range).not.toBeNull()
  })
})
