import { describe, expect, it } from 'vitest'
import { addMonthsUtc, doraDeadlines } from './dora-deadlines.js'

const iso = (ms: number) => new Date(ms).toISOString()

describe('addMonthsUtc', () => {
  it('moves to the same day next month, clamped to the month end, in UTC', () => {
    const cases: Array<[string, string]> = [
      ['2026-01-31T10:00:00.000Z', '2026-02-28T10:00:00.000Z'],
      ['2028-01-31T10:00:00.000Z', '2028-02-29T10:00:00.000Z'], // leap year
      ['2026-03-31T23:59:59.999Z', '2026-04-30T23:59:59.999Z'],
      ['2026-02-28T00:00:00.000Z', '2026-03-28T00:00:00.000Z'],
      ['2026-12-31T12:00:00.000Z', '2027-01-31T12:00:00.000Z'], // year end
      ['2026-08-31T01:00:00.000Z', '2026-09-30T01:00:00.000Z'],
    ]
    for (const [from, to] of cases) expect(iso(addMonthsUtc(Date.parse(from), 1)), from).toBe(to)
  })
})

describe('doraDeadlines', () => {
  it('initial: 4 h after classification when that is earlier than 24 h after detection, across a month end', () => {
    const d = doraDeadlines({ detectedAt: '2026-01-31T21:00:00Z', classifiedAt: '2026-01-31T22:30:00Z', asOf: '2026-01-31T23:00:00Z' })
    expect(d.map((x) => [x.stage, x.due, x.status])).toEqual([
      ['initial', '2026-02-01T02:30:00.000Z', 'pending'],
      ['intermediate', '2026-02-04T02:30:00.000Z', 'pending'],
      ['final', '2026-03-04T02:30:00.000Z', 'pending'],
    ])
    expect(d[0]?.basis).toBe('4 h after classification')
  })

  it('initial: 24 h after detection when classification came late', () => {
    const d = doraDeadlines({ detectedAt: '2026-04-29T10:00:00Z', classifiedAt: '2026-04-30T08:00:00Z', asOf: '2026-05-10T00:00:00Z' })
    expect(d[0]).toMatchObject({ due: '2026-04-30T10:00:00.000Z', basis: expect.stringMatching(/^24 h after detection/), status: 'overdue' })
  })

  it('reads local offsets as the UTC instants they are (a month end in one zone is not in another)', () => {
    // 01:30 on 1 March in Berlin (+01:00) is 00:30 UTC on 1 March; in New York (-05:00) 28 Feb 20:30 is 1 March 01:30 UTC.
    const berlin = doraDeadlines({ detectedAt: '2026-03-01T01:00:00+01:00', classifiedAt: '2026-03-01T01:30:00+01:00', asOf: '2026-03-01T00:00:00Z' })
    expect(berlin[0]?.due).toBe('2026-03-01T04:30:00.000Z')
    const ny = doraDeadlines({ detectedAt: '2026-02-28T20:00:00-05:00', classifiedAt: '2026-02-28T20:30:00-05:00', asOf: '2026-03-01T00:00:00Z' })
    expect(ny[0]?.due).toBe('2026-03-01T05:30:00.000Z')
  })

  it('judges submissions met or overdue, and counts later deadlines from the actual submissions', () => {
    const d = doraDeadlines({
      detectedAt: '2026-10-30T12:00:00Z',
      classifiedAt: '2026-10-30T13:00:00Z',
      initialSubmittedAt: '2026-10-30T16:00:00Z', // due 17:00: met
      lastIntermediateSubmittedAt: '2026-11-03T17:00:00Z', // due 2 Nov 16:00: overdue
      finalSubmittedAt: null,
      asOf: '2026-12-31T00:00:00Z',
    })
    expect(d.map((x) => [x.stage, x.due, x.submitted_at, x.status])).toEqual([
      ['initial', '2026-10-30T17:00:00.000Z', '2026-10-30T16:00:00.000Z', 'met'],
      ['intermediate', '2026-11-02T16:00:00.000Z', '2026-11-03T17:00:00.000Z', 'overdue'],
      // one month after the last intermediate report (3 Nov → 3 Dec), not submitted by 31 Dec
      ['final', '2026-12-03T17:00:00.000Z', null, 'overdue'],
    ])
  })

  it('a deadline exactly at the as-of time is still pending; a submission exactly at the deadline is met', () => {
    const d = doraDeadlines({ detectedAt: '2026-05-31T20:00:00Z', classifiedAt: '2026-05-31T20:00:00Z', initialSubmittedAt: '2026-06-01T00:00:00Z', asOf: '2026-06-04T00:00:00Z' })
    expect(d[0]).toMatchObject({ due: '2026-06-01T00:00:00.000Z', status: 'met' })
    expect(d[1]).toMatchObject({ due: '2026-06-04T00:00:00.000Z', status: 'pending' })
    expect(d[2]).toMatchObject({ due: '2026-07-04T00:00:00.000Z', status: 'pending' })
  })
})
