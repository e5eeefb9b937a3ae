import { describe, expect, it } from 'vitest'
import {
  MAD_TO_SD,
  MEAN_AD_TO_SD,
  MIN_SCALE_ABSOLUTE,
  MIN_SCALE_RELATIVE,
  WEEK_MS,
  ewma,
  hourOfWeek,
  robustZ,
  scoreAgainstBaseline,
  seasonalHistory,
} from './baseline.js'

const HOUR = 3_600_000
const DAY = 24 * HOUR
// Monday 2026-11-23 00:00 UTC.
const MONDAY = Date.UTC(2026, 10, 23)

/** Deterministic PRNG (mulberry32), so the noisy histories are the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Poisson counts: order counts per hour are Poisson-like around their rate. */
function poisson(rand: () => number, lambda: number): number {
  if (lambda > 50) {
    // Normal approximation (Box–Muller) where Knuth's method would loop too long.
    const z = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())
    return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * z))
  }
  const l = Math.exp(-lambda)
  let k = 0
  let p = 1
  do {
    k++
    p *= rand()
  } while (p > l)
  return k - 1
}

/** A trading key's hourly order rate: busy in European and US hours, quiet at night and weekends. */
function hourlyRate(tsMs: number): number {
  const hour = new Date(tsMs).getUTCHours()
  const weekend = [0, 6].includes(new Date(tsMs).getUTCDay())
  const base = hour >= 8 && hour < 21 ? 120 : hour >= 6 && hour < 22 ? 20 : 2
  return weekend ? base / 10 : base
}

describe('robustZ', () => {
  it('uses the median and MAD × 1.4826', () => {
    const history = [10, 12, 11, 13, 9, 10, 11, 100]
    const r = robustZ(20, history)
    expect(r.median).toBe(11)
    expect(r.mad).toBe(1)
    expect(r.scale).toBeCloseTo(MAD_TO_SD, 12)
    expect(r.z).toBeCloseTo(9 / MAD_TO_SD, 12)
  })

  it('is not moved by one past spike in the history', () => {
    const calm = [50, 52, 48, 51, 49, 50, 53, 47]
    const withSpike = [...calm.slice(0, -1), 5000]
    expect(Math.abs(robustZ(60, withSpike).median - robustZ(60, calm).median)).toBeLessThanOrEqual(1)
    expect(robustZ(1500, withSpike).z).toBeGreaterThan(100)
  })

  it('falls back to the mean absolute deviation when MAD is 0', () => {
    // Six of eight equal: MAD 0, mean absolute deviation (0·6 + 40 + 40) / 8 = 10.
    const history = [100, 100, 100, 100, 100, 100, 60, 140]
    const r = robustZ(150, history)
    expect(r.mad).toBe(0)
    expect(r.scale).toBeCloseTo(10 * MEAN_AD_TO_SD, 9)
    expect(r.z).toBeCloseTo(50 / (10 * MEAN_AD_TO_SD), 9)
  })

  it('gives a flat history a floor, so a tiny change scores small and a spike large, never Infinity', () => {
    const flat = Array.from({ length: 24 }, () => 40)
    const tiny = robustZ(41, flat)
    expect(tiny.scale).toBe(Math.max(MIN_SCALE_ABSOLUTE, MIN_SCALE_RELATIVE * 40))
    expect(tiny.z).toBeCloseTo(0.5, 9)
    expect(robustZ(1200, flat).z).toBeCloseTo(580, 6)
    // A usually silent key: median 0, the absolute floor of 1 unit.
    const silent = Array.from({ length: 24 }, () => 0)
    expect(robustZ(1, silent).z).toBe(1)
    expect(robustZ(1, silent, { minScale: 0.01 }).z).toBeCloseTo(100, 9)
  })

  it('ignores non-finite history entries and rejects a non-finite value or empty history', () => {
    expect(robustZ(5, [1, 2, Number.NaN, 3, Number.POSITIVE_INFINITY]).median).toBe(2)
    expect(() => robustZ(Number.NaN, [1, 2, 3])).toThrow(RangeError)
    expect(() => robustZ(Number.POSITIVE_INFINITY, [1, 2, 3])).toThrow(RangeError)
    expect(() => robustZ(1, [])).toThrow(RangeError)
    expect(() => robustZ(1, [Number.NaN])).toThrow(RangeError)
    expect(() => robustZ(1, [1], { minScale: 0 })).toThrow(RangeError)
  })

  it('scores negative values like any other', () => {
    expect(robustZ(-5, [-1, -2, -3]).z).toBeCloseTo(-3 / MAD_TO_SD, 12)
  })
})

describe('ewma', () => {
  it('starts from the first value and weighs each next one by alpha', () => {
    expect(ewma([10], 0.3)).toBe(10)
    expect(ewma([10, 20], 0.5)).toBe(15)
    expect(ewma([10, 20, 40], 0.5)).toBe(27.5)
    expect(ewma([10, 20, 40], 1)).toBe(40)
  })

  it('skips non-finite values and rejects a bad alpha or nothing to average', () => {
    expect(ewma([10, Number.NaN, 20], 0.5)).toBe(15)
    for (const a of [0, -0.1, 1.1, Number.NaN]) expect(() => ewma([1, 2], a)).toThrow(RangeError)
    expect(() => ewma([], 0.5)).toThrow(RangeError)
    expect(() => ewma([Number.NaN], 0.5)).toThrow(RangeError)
  })
})

describe('hourOfWeek', () => {
  it('is 0 at Monday 00:00 UTC and 167 at Sunday 23:59', () => {
    expect(hourOfWeek(MONDAY)).toBe(0)
    expect(hourOfWeek(MONDAY + 59 * 60_000)).toBe(0)
    expect(hourOfWeek(MONDAY + HOUR)).toBe(1)
    expect(hourOfWeek(MONDAY + 2 * DAY + 9 * HOUR + 30 * 60_000)).toBe(57)
    expect(hourOfWeek(MONDAY + WEEK_MS - 1)).toBe(167)
    expect(hourOfWeek(MONDAY + WEEK_MS)).toBe(0)
  })

  it('places the epoch (a Thursday) and times before it', () => {
    expect(hourOfWeek(0)).toBe(72)
    expect(hourOfWeek(-1)).toBe(71)
    expect(hourOfWeek(-73 * HOUR)).toBe(167)
  })

  it('rejects a non-finite time', () => {
    expect(() => hourOfWeek(Number.NaN)).toThrow(RangeError)
  })
})

describe('seasonalHistory', () => {
  const opts = { bucketMs: HOUR, weeks: 4 }
  const at = MONDAY + 4 * WEEK_MS + 10 * HOUR + 17 * 60_000 // Monday 10:17, four weeks on

  it('takes the same hour-of-week bucket of each previous week, oldest first', () => {
    const points = [1, 2, 3, 4].map((k) => ({ tsMs: at - k * WEEK_MS - 17 * 60_000, value: 10 * k }))
    points.push({ tsMs: at - WEEK_MS + HOUR, value: 999 }) // next hour, a week back: not this bucket
    points.push({ tsMs: at - WEEK_MS - HOUR, value: 999 }) // previous hour: not this bucket
    points.push({ tsMs: at, value: 999 }) // the current bucket itself is not history
    points.push({ tsMs: at - 5 * WEEK_MS, value: 999 }) // beyond `weeks`
    expect(seasonalHistory(points, at, opts)).toEqual([40, 30, 20, 10])
  })

  it('sums finer points within a bucket, including both edges of it', () => {
    const bucketStart = at - 17 * 60_000 - WEEK_MS
    const points = [
      { tsMs: bucketStart - 5 * WEEK_MS, value: 0 }, // the key existed long before
      { tsMs: bucketStart, value: 1 },
      { tsMs: bucketStart + 30 * 60_000, value: 2 },
      { tsMs: bucketStart + HOUR - 1, value: 4 },
      { tsMs: bucketStart + HOUR, value: 100 },
      { tsMs: bucketStart - 1, value: 100 },
    ]
    expect(seasonalHistory(points, at, opts)).toEqual([0, 0, 0, 7])
  })

  it('counts a quiet bucket as 0 but leaves out weeks before the key existed', () => {
    // First seen two and a half weeks ago: weeks 1 and 2 back are history (quiet or not),
    // weeks 3 and 4 back predate the key.
    const points = [
      { tsMs: at - 2.5 * WEEK_MS, value: 3 },
      { tsMs: at - WEEK_MS - 17 * 60_000, value: 8 },
    ]
    expect(seasonalHistory(points, at, opts)).toEqual([0, 8])
    expect(seasonalHistory([], at, opts)).toEqual([])
  })

  it('looks back by days with periodMs: one day', () => {
    const points = Array.from({ length: 10 }, (_, d) => ({ tsMs: at - (d + 1) * DAY, value: d + 1 }))
    expect(seasonalHistory(points, at, { bucketMs: HOUR, weeks: 7, periodMs: DAY })).toEqual([7, 6, 5, 4, 3, 2, 1])
  })

  it('skips non-finite points and rejects bad options', () => {
    const points = [
      { tsMs: at - WEEK_MS, value: Number.NaN },
      { tsMs: Number.NaN, value: 5 },
      { tsMs: at - WEEK_MS, value: 2 },
    ]
    expect(seasonalHistory(points, at, { bucketMs: HOUR, weeks: 1 })).toEqual([2])
    expect(() => seasonalHistory([], Number.NaN, opts)).toThrow(RangeError)
    expect(() => seasonalHistory([], at, { bucketMs: 0, weeks: 1 })).toThrow(RangeError)
    expect(() => seasonalHistory([], at, { bucketMs: 2 * WEEK_MS, weeks: 1 })).toThrow(RangeError)
    expect(() => seasonalHistory([], at, { bucketMs: HOUR, weeks: -1 })).toThrow(RangeError)
    expect(() => seasonalHistory([], at, { bucketMs: HOUR, weeks: 1.5 })).toThrow(RangeError)
    expect(() => seasonalHistory([], at, { bucketMs: HOUR, weeks: 1, periodMs: 0 })).toThrow(RangeError)
  })
})

describe('scoreAgainstBaseline', () => {
  const opts = { minHistory: 5, zThreshold: 6, coldStartMax: 1000, minValue: 10 }

  describe('a key with 7 days of steady hourly counts', () => {
    // Seven days of hourly order counts with Poisson noise around a weekday/weekend,
    // day/night profile, then day 8 scored hour by hour against the same hour of the
    // previous seven days ("this key at this time of day").
    const rand = prng(20261124)
    const start = MONDAY
    const points = Array.from({ length: 7 * 24 }, (_, i) => {
      const tsMs = start + i * HOUR
      return { tsMs, value: poisson(rand, hourlyRate(tsMs)) }
    })
    const day8 = Array.from({ length: 24 }, (_, h) => start + 7 * DAY + h * HOUR)
    const historyAt = (tsMs: number) => seasonalHistory(points, tsMs, { bucketMs: HOUR, weeks: 7, periodMs: DAY })

    it('has seven values of history for every hour of day 8', () => {
      for (const t of day8) expect(historyAt(t)).toHaveLength(7)
    })

    it('does not fire on any normal hour of day 8', () => {
      for (const t of day8) {
        const value = poisson(rand, hourlyRate(t))
        const r = scoreAgainstBaseline(value, historyAt(t), opts)
        expect(r.reason).not.toBe('cold_start')
        expect(r.fires, `hour ${new Date(t).getUTCHours()}: ${value} vs median ${r.median}, z ${r.z.toFixed(2)}`).toBe(false)
      }
    })

    it('fires far above the threshold on a 30× hour, in trading hours and at night', () => {
      for (const hour of [3, 10, 15]) {
        const t = day8[hour]!
        const history = historyAt(t)
        const value = 30 * Math.max(1, median(history))
        const r = scoreAgainstBaseline(value, history, { ...opts, minValue: 1 })
        expect(r.reason).toBe('zscore')
        expect(r.fires).toBe(true)
        // Night hours (about 2 orders, weekends fewer) have the widest relative spread and
        // still score over three times the threshold.
        expect(r.z).toBeGreaterThan(3 * opts.zThreshold)
      }
    })

    it('against the whole week, hour by hour, a normal trading hour stays below and a 30× hour fires', () => {
      // Without time-of-day buckets the night hours widen the spread; robust statistics
      // still separate a 30× spike.
      const week = points.map((p) => p.value)
      const normal = scoreAgainstBaseline(120, week, opts)
      expect(normal.fires).toBe(false)
      expect(scoreAgainstBaseline(30 * 120, week, opts).fires).toBe(true)
    })
  })

  it('on a flat history fires for a spike, not for a small change', () => {
    const flat = Array.from({ length: 24 }, () => 40)
    expect(scoreAgainstBaseline(42, flat, opts)).toMatchObject({ fires: false, reason: 'zscore', median: 40, mad: 0 })
    expect(scoreAgainstBaseline(1200, flat, opts)).toMatchObject({ fires: true, reason: 'zscore' })
  })

  it('on empty or short history falls back to the absolute cold-start threshold', () => {
    expect(scoreAgainstBaseline(500, [], opts)).toEqual({ fires: false, z: 0, median: 0, mad: 0, reason: 'cold_start' })
    expect(scoreAgainstBaseline(5000, [], opts)).toEqual({ fires: true, z: 0, median: 0, mad: 0, reason: 'cold_start' })
    const short = scoreAgainstBaseline(5000, [10, 11, 12], opts)
    expect(short).toMatchObject({ fires: true, reason: 'cold_start', median: 11 })
    expect(short.z).toBeGreaterThan(0)
    // A value only a little above a short history does not fire: the z-score is not trusted.
    expect(scoreAgainstBaseline(500, [1, 1, 1], opts)).toMatchObject({ fires: false, reason: 'cold_start' })
  })

  it('without a cold-start threshold, short history never fires', () => {
    const { coldStartMax: _unused, ...noCold } = opts
    expect(scoreAgainstBaseline(1e9, [1, 2], noCold)).toMatchObject({ fires: false, reason: 'insufficient_history' })
    expect(scoreAgainstBaseline(1e9, [], noCold)).toMatchObject({ fires: false, reason: 'insufficient_history' })
  })

  it('never fires below minValue, whatever the score', () => {
    const silent = Array.from({ length: 24 }, () => 0)
    expect(scoreAgainstBaseline(8, silent, opts)).toMatchObject({ fires: false, reason: 'below_min', z: 8 })
    expect(scoreAgainstBaseline(8, [], opts)).toMatchObject({ fires: false, reason: 'below_min' })
  })

  it('fires on spikes only: a drop scores negative and does not fire', () => {
    const steady = [100, 101, 99, 100, 102, 98, 100]
    const drop = scoreAgainstBaseline(0, steady, { ...opts, minValue: undefined })
    expect(drop.z).toBeLessThan(-opts.zThreshold)
    expect(drop).toMatchObject({ fires: false, reason: 'zscore' })
  })

  it('handles NaN and negative inputs explicitly', () => {
    expect(() => scoreAgainstBaseline(Number.NaN, [1, 2, 3, 4, 5], opts)).toThrow(RangeError)
    // NaN in history is a gap, not a zero: it does not count towards minHistory.
    expect(scoreAgainstBaseline(5000, [10, 11, 12, 13, Number.NaN], opts).reason).toBe('cold_start')
    // A negative value is scored like any other (below a positive baseline: no spike).
    expect(scoreAgainstBaseline(-5, [10, 11, 12, 13, 14], { ...opts, minValue: undefined })).toMatchObject({ fires: false, reason: 'zscore' })
    for (const bad of [
      { ...opts, minHistory: -1 },
      { ...opts, minHistory: 1.5 },
      { ...opts, zThreshold: 0 },
      { ...opts, zThreshold: Number.NaN },
      { ...opts, coldStartMax: Number.NaN },
      { ...opts, minValue: Number.NaN },
    ]) {
      expect(() => scoreAgainstBaseline(1, [1, 2, 3, 4, 5], bad)).toThrow(RangeError)
    }
  })

  it('fills the score in for evidence whatever the reason', () => {
    const r = scoreAgainstBaseline(5, [10, 11, 12, 13, 14, 15], { ...opts, minValue: 100 })
    expect(r.reason).toBe('below_min')
    expect(r.median).toBe(12.5)
    expect(r.z).toBeLessThan(0)
  })
})

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}
