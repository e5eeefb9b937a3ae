import { describe, it, expect } from 'vitest'
import { createStatementGate } from './statement-gate.js'

/** A statement that runs until released, recording when it started. */
function held(log: string[], name: string) {
  let release!: () => void
  const done = new Promise<void>((r) => (release = r))
  return {
    release: () => release(),
    run: async () => {
      log.push(name)
      await done
      return name
    },
  }
}

const tick = () => new Promise<void>((r) => setImmediate(r))

describe('statement gate', () => {
  it('runs at most `limit` normal statements and starts the rest in order of arrival', async () => {
    const gate = createStatementGate(2)
    const log: string[] = []
    const s = ['a', 'b', 'c', 'd'].map((n) => held(log, n))
    const results = s.map((x) => gate.run(false, x.run))
    await tick()
    expect(log).toEqual(['a', 'b'])
    expect(gate.stats()).toEqual({ running: 2, waitingUrgent: 0, waitingNormal: 2 })
    s[1]!.release()
    await tick()
    expect(log).toEqual(['a', 'b', 'c'])
    s[0]!.release()
    s[2]!.release()
    s[3]!.release()
    expect(await Promise.all(results)).toEqual(['a', 'b', 'c', 'd'])
    expect(gate.stats()).toEqual({ running: 0, waitingUrgent: 0, waitingNormal: 0 })
  })

  it('starts an urgent statement at once in the spare slot, ahead of every waiting normal one', async () => {
    const gate = createStatementGate(2)
    const log: string[] = []
    const normal = ['n1', 'n2', 'n3', 'n4'].map((n) => held(log, n))
    const results = normal.map((x) => gate.run(false, x.run))
    await tick()
    const u1 = held(log, 'u1')
    const r1 = gate.run(true, u1.run)
    await tick()
    expect(log).toEqual(['n1', 'n2', 'u1'])
    // The spare slot is taken: a second urgent one waits, but still ahead of n3 and n4.
    const u2 = held(log, 'u2')
    const r2 = gate.run(true, u2.run)
    await tick()
    expect(gate.stats()).toEqual({ running: 3, waitingUrgent: 1, waitingNormal: 2 })
    normal[0]!.release()
    await tick()
    expect(log).toEqual(['n1', 'n2', 'u1', 'u2'])
    // Three running (n2, u1, u2) is over the normal limit: n3 waits until two finish.
    u1.release()
    await tick()
    expect(log).toEqual(['n1', 'n2', 'u1', 'u2'])
    u2.release()
    await tick()
    expect(log).toEqual(['n1', 'n2', 'u1', 'u2', 'n3'])
    for (const x of normal) x.release()
    expect(await Promise.all([...results, r1, r2])).toEqual(['n1', 'n2', 'n3', 'n4', 'u1', 'u2'])
  })

  it('frees the slot of a statement that fails, and passes its error on', async () => {
    const gate = createStatementGate(1)
    const failing = gate.run(false, async () => {
      throw new Error('engine said no')
    })
    const next = gate.run(false, async () => 'ran')
    await expect(failing).rejects.toThrow('engine said no')
    expect(await next).toBe('ran')
    expect(gate.stats().running).toBe(0)
  })

  it('refuses a limit that is not a whole number of at least 1', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => createStatementGate(bad)).toThrow(RangeError)
  })
})
