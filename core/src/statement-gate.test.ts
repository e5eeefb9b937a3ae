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
const waiting = (urgent: number, prompt: number, normal: number) => ({ urgent, prompt, normal })

describe('statement gate', () => {
  it('runs at most `limit` normal statements and starts the rest in order of arrival', async () => {
    const gate = createStatementGate(2)
    const log: string[] = []
    const s = ['a', 'b', 'c', 'd'].map((n) => held(log, n))
    const results = s.map((x) => gate.run('normal', x.run))
    await tick()
    expect(log).toEqual(['a', 'b'])
    expect(gate.stats()).toEqual({ running: 2, waiting: waiting(0, 0, 2), held: waiting(0, 0, 0) })
    s[1]!.release()
    await tick()
    expect(log).toEqual(['a', 'b', 'c'])
    s[0]!.release()
    s[2]!.release()
    s[3]!.release()
    expect(await Promise.all(results)).toEqual(['a', 'b', 'c', 'd'])
    expect(gate.stats()).toEqual({ running: 0, waiting: waiting(0, 0, 0), held: waiting(0, 0, 0) })
  })

  it('starts an urgent statement at once in a spare slot, ahead of every waiting normal one', async () => {
    const gate = createStatementGate(2)
    const log: string[] = []
    const normal = ['n1', 'n2', 'n3', 'n4'].map((n) => held(log, n))
    const results = normal.map((x) => gate.run('normal', x.run))
    await tick()
    const u1 = held(log, 'u1')
    const u2 = held(log, 'u2')
    const u3 = held(log, 'u3')
    const urgent = [u1, u2, u3].map((x) => gate.run('urgent', x.run))
    await tick()
    // Two spare slots for urgent: u1 and u2 start, u3 waits, still ahead of n3 and n4.
    expect(log).toEqual(['n1', 'n2', 'u1', 'u2'])
    expect(gate.stats()).toEqual({ running: 4, waiting: waiting(1, 0, 2), held: waiting(0, 0, 0) })
    normal[0]!.release()
    await tick()
    expect(log).toEqual(['n1', 'n2', 'u1', 'u2', 'u3'])
    // Four running (n2, u1, u2, u3) is over the normal limit: n3 waits until three finish.
    u1.release()
    u2.release()
    await tick()
    expect(log).toEqual(['n1', 'n2', 'u1', 'u2', 'u3'])
    u3.release()
    await tick()
    expect(log).toEqual(['n1', 'n2', 'u1', 'u2', 'u3', 'n3'])
    for (const x of normal) x.release()
    expect(await Promise.all([...results, ...urgent])).toEqual(['n1', 'n2', 'n3', 'n4', 'u1', 'u2', 'u3'])
  })

  it('puts prompt statements between the two: one spare slot, behind waiting urgent ones, ahead of normal ones', async () => {
    const gate = createStatementGate(1)
    const log: string[] = []
    const n1 = held(log, 'n1')
    const n2 = held(log, 'n2')
    const p1 = held(log, 'p1')
    const p2 = held(log, 'p2')
    const u1 = held(log, 'u1')
    const u2 = held(log, 'u2')
    const all = [gate.run('normal', n1.run), gate.run('normal', n2.run), gate.run('prompt', p1.run), gate.run('prompt', p2.run)]
    await tick()
    // Limit 1: n1 runs; p1 takes prompt's spare slot; p2 and n2 wait.
    expect(log).toEqual(['n1', 'p1'])
    all.push(gate.run('urgent', u1.run), gate.run('urgent', u2.run))
    await tick()
    // Urgent's second spare slot: u1 starts; u2 waits, and now holds back p2 and n2.
    expect(log).toEqual(['n1', 'p1', 'u1'])
    expect(gate.stats()).toEqual({ running: 3, waiting: waiting(1, 1, 1), held: waiting(0, 0, 0) })
    n1.release()
    await tick()
    expect(log).toEqual(['n1', 'p1', 'u1', 'u2'])
    p1.release()
    await tick()
    // Two running (u1, u2): prompt's cap is 2, so p2 still waits.
    expect(log).toEqual(['n1', 'p1', 'u1', 'u2'])
    u1.release()
    await tick()
    expect(log).toEqual(['n1', 'p1', 'u1', 'u2', 'p2'])
    u2.release()
    p2.release()
    await tick()
    expect(log).toEqual(['n1', 'p1', 'u1', 'u2', 'p2', 'n2'])
    n2.release()
    expect(await Promise.all(all)).toEqual(['n1', 'n2', 'p1', 'p2', 'u1', 'u2'])
  })

  it('while a lane is held, starts no statement of a lower lane; its own and higher ones go on', async () => {
    const gate = createStatementGate(2)
    const log: string[] = []
    const n1 = held(log, 'n1')
    const first = gate.run('normal', n1.run)
    await tick()
    const release = gate.hold('prompt')
    const n2 = held(log, 'n2')
    const p1 = held(log, 'p1')
    const u1 = held(log, 'u1')
    const results = [gate.run('normal', n2.run), gate.run('prompt', p1.run), gate.run('urgent', u1.run)]
    await tick()
    // n2 had a free slot, but the hold keeps it waiting; n1, already running, is not stopped.
    expect(log).toEqual(['n1', 'p1', 'u1'])
    expect(gate.stats()).toEqual({ running: 3, waiting: waiting(0, 0, 1), held: waiting(0, 1, 0) })
    p1.release()
    u1.release()
    n1.release()
    await tick()
    expect(log).toEqual(['n1', 'p1', 'u1'])
    // Holds count: a second hold of the same lane keeps it held until both are released.
    const again = gate.hold('prompt')
    release()
    release() // a second call does nothing
    await tick()
    expect(log).toEqual(['n1', 'p1', 'u1'])
    again()
    await tick()
    expect(log).toEqual(['n1', 'p1', 'u1', 'n2'])
    n2.release()
    expect(await Promise.all([first, ...results])).toEqual(['n1', 'n2', 'p1', 'u1'])
    expect(gate.stats()).toEqual({ running: 0, waiting: waiting(0, 0, 0), held: waiting(0, 0, 0) })
    // The lowest lane held holds nothing back; an unknown lane is refused.
    const normalHeld = gate.hold('normal')
    const n3 = held(log, 'n3')
    const r3 = gate.run('normal', n3.run)
    await tick()
    expect(log.at(-1)).toBe('n3')
    n3.release()
    await r3
    normalHeld()
    expect(() => gate.hold('bulk' as never)).toThrow(RangeError)
  })

  it('lets a statement held back by a hold start once it has waited heldMaxWaitMs, in order, the hold still on', async () => {
    const gate = createStatementGate(2, { heldMaxWaitMs: 30 })
    const log: string[] = []
    const release = gate.hold('prompt')
    const n1 = held(log, 'n1')
    const n2 = held(log, 'n2')
    const n3 = held(log, 'n3')
    const results = [gate.run('normal', n1.run), gate.run('normal', n2.run)]
    await tick()
    expect(log).toEqual([])
    const until = Date.now() + 5000
    while (log.length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 5))
    expect(log).toEqual(['n1', 'n2'])
    expect(gate.stats()).toMatchObject({ running: 2, held: waiting(0, 1, 0) })
    // The limit still holds: n3 waits for a slot, not for the hold.
    results.push(gate.run('normal', n3.run))
    await new Promise((r) => setTimeout(r, 60))
    expect(log).toEqual(['n1', 'n2'])
    n1.release()
    await tick()
    expect(log).toEqual(['n1', 'n2', 'n3'])
    n2.release()
    n3.release()
    release()
    expect(await Promise.all(results)).toEqual(['n1', 'n2', 'n3'])
  })

  it('frees the slot of a statement that fails, and passes its error on', async () => {
    const gate = createStatementGate(1)
    const failing = gate.run('normal', async () => {
      throw new Error('engine said no')
    })
    const next = gate.run('normal', async () => 'ran')
    await expect(failing).rejects.toThrow('engine said no')
    expect(await next).toBe('ran')
    expect(gate.stats().running).toBe(0)
  })

  it('refuses a limit that is not a whole number of at least 1, and a lane it does not know', async () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => createStatementGate(bad)).toThrow(RangeError)
    await expect(createStatementGate(1).run('fast' as never, async () => 1)).rejects.toThrow(RangeError)
  })
})
