/** A seeded PRNG for the simulator: mulberry32, plus the few distributions it needs. No Math.random. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number
  int(lo: number, hiInclusive: number): number
  pick<T>(list: readonly T[]): T
  /** Standard normal (Box–Muller), truncated to ±`clip`. */
  normal(clip?: number): number
  /** Exponential with the given mean (Poisson inter-arrival times). */
  exp(mean: number): number
  chance(p: number): boolean
  /** url-safe characters, for ids and nonces. */
  token(len: number): string
  /** A child generator with its own stream (stable whatever the parent draws later). */
  fork(label: string): Rng
}

function hashString(s: string): number {
  let h = 2166136261
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619)
  return h >>> 0
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-'

export function createRng(seed: number | string): Rng {
  let a = (typeof seed === 'number' ? seed : hashString(seed)) >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const rng: Rng = {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(list: readonly T[]) => list[Math.floor(next() * list.length)] as T,
    normal(clip = Infinity) {
      for (;;) {
        const u = 1 - next()
        const v = next()
        const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
        if (Math.abs(z) <= clip) return z
      }
    },
    exp: (mean) => -Math.log(1 - next()) * mean,
    chance: (p) => next() < p,
    token(len) {
      let s = ''
      for (let i = 0; i < len; i++) s += ALPHABET[Math.floor(next() * 64)]
      return s
    },
    fork: (label) => createRng((Math.floor(next() * 4294967296) ^ hashString(label)) >>> 0),
  }
  return rng
}
