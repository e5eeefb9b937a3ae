import { describe, expect, it } from 'vitest'
import { currentCursor, DEFAULT_FILTERS, firstPage, incidentsQuery, nextPage, pageIndex, previousPage, resolveRange } from './list.js'

describe('incident list query', () => {
  const now = new Date('2026-11-27T01:00:00Z')

  it('resolves the picker range at a given time, and refuses one that ends first', () => {
    expect(resolveRange('now-7d', 'now', now)).toEqual({ from: '2026-11-20T01:00:00.000Z', to: '2026-11-27T01:00:00.000Z' })
    expect(resolveRange('now', 'now-1h', now)).toBeNull()
    expect(resolveRange('now-7q', 'now', now)).toBeNull()
  })

  it('leaves empty filters out and adds the page cursor', () => {
    expect(incidentsQuery(DEFAULT_FILTERS, null, null)).toEqual({ limit: 25 })
    expect(incidentsQuery({ ...DEFAULT_FILTERS, status: 'open', severity: 'high' }, { from: 'a', to: 'b' }, 'c1')).toEqual({
      limit: 25,
      status: 'open',
      severity: 'high',
      from: 'a',
      to: 'b',
      cursor: 'c1',
    })
  })

  it('pages forward by the answer’s next and back again', () => {
    let p = firstPage()
    expect(currentCursor(p)).toBeNull()
    p = nextPage(p, 'n1')
    p = nextPage(p, 'n2')
    expect([pageIndex(p), currentCursor(p)]).toEqual([2, 'n2'])
    expect(nextPage(p, null)).toBe(p)
    p = previousPage(p)
    expect(currentCursor(p)).toBe('n1')
    expect(previousPage(previousPage(p))).toEqual(firstPage())
  })
})
