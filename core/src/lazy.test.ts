import { describe, expect, it } from 'vitest'
import { lazy } from './lazy.js'

describe('lazy', () => {
  it('builds on first use only, then returns the same value', () => {
    let builds = 0
    const get = lazy(() => ({ n: ++builds }))
    expect(builds).toBe(0)
    const a = get()
    expect(get()).toBe(a)
    expect(builds).toBe(1)
  })

  it('builds again after a build that threw', () => {
    let calls = 0
    const get = lazy(() => {
      calls++
      if (calls === 1) throw new Error('first fails')
      return calls
    })
    expect(() => get()).toThrow('first fails')
    expect(get()).toBe(2)
  })
})
