import { describe, expect, it } from 'vitest'
import { affectedOf, allowedMoves, noteError, statusBody, statusChangeErrors } from './status.js'

describe('incident status moves', () => {
  it('go forward open → contained → resolved → closed, or back to open', () => {
    expect(allowedMoves('open')).toEqual(['contained', 'resolved', 'closed'])
    expect(allowedMoves('contained')).toEqual(['open', 'resolved', 'closed'])
    expect(allowedMoves('resolved')).toEqual(['open', 'closed'])
    expect(allowedMoves('closed')).toEqual(['open'])
  })

  it('ask for a resolution when resolving or closing, and none when reopening', () => {
    expect(statusChangeErrors('open', { status: 'closed', note: '', resolution: '  ' })).toEqual({ resolution: 'Say how the incident was resolved.' })
    expect(statusChangeErrors('open', { status: 'closed', note: '', resolution: 'rotated the key' })).toEqual({})
    expect(statusChangeErrors('closed', { status: 'open', note: '', resolution: '' })).toEqual({})
    expect(statusChangeErrors('closed', { status: 'resolved', note: '', resolution: 'x' }).status).toMatch(/cannot become resolved/)
    expect(statusChangeErrors('open', { status: 'contained', note: 'x'.repeat(4001), resolution: '' }).note).toMatch(/4000/)
  })

  it('send only what the route takes', () => {
    expect(statusBody({ status: 'closed', note: '', resolution: 'done' })).toEqual({ status: 'closed', resolution: 'done' })
    expect(statusBody({ status: 'open', note: 'again', resolution: 'left over' })).toEqual({ status: 'open', note: 'again' })
  })

  it('refuse an empty or overlong note', () => {
    expect(noteError(' \n')).toMatch(/Write a note/)
    expect(noteError('x'.repeat(4001))).toMatch(/4000/)
    expect(noteError('called the owner')).toBeNull()
  })

  it('list the keys and accounts of the incident and its alerts once each', () => {
    expect(
      affectedOf({
        api_key_id: 'ak_1',
        account_id: 'ACC-1',
        alerts: [
          { api_key_id: 'ak_1', account_id: 'ACC-1' },
          { api_key_id: 'ak_2', account_id: null },
          { api_key_id: null, account_id: 'ACC-2' },
        ],
      }),
    ).toEqual({ keys: ['ak_1', 'ak_2'], accounts: ['ACC-1', 'ACC-2'] })
    expect(affectedOf({ api_key_id: null, account_id: null })).toEqual({ keys: [], accounts: [] })
  })
})
