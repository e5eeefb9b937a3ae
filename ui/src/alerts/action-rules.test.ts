import { describe, expect, it } from 'vitest'
import { noteError, revokeReasonFor, statusBody } from './action-rules.js'

describe('the flyout actions', () => {
  it('requires a note for a false positive only', () => {
    expect(noteError('false_positive', '')).toMatch(/note is required/)
    expect(noteError('false_positive', '   ')).toMatch(/note is required/)
    expect(noteError('false_positive', 'test traffic from our QA key')).toBeNull()
    expect(noteError('acknowledged', '')).toBeNull()
    expect(noteError('resolved', '')).toBeNull()
    expect(noteError('resolved', 'x'.repeat(4001))).toMatch(/longer than 4000/)
  })

  it('sends the note trimmed, and none when it is empty', () => {
    expect(statusBody('acknowledged', '  ')).toEqual({ status: 'acknowledged' })
    expect(statusBody('false_positive', ' QA key \n')).toEqual({ status: 'false_positive', note: 'QA key' })
  })

  it('prefills the revocation reason with the alert and its rule', () => {
    expect(revokeReasonFor({ id: 'al_1', rule: 'auth.brute_force' })).toBe('alert al_1: auth.brute_force')
  })
})
