/**
 * Robust statistics for per-key baselines: "is this key's value now far above what it
 * usually is at this time of week?" — the scoring of `volume.spike` and `order.fat_finger`
 * (CONTRACT §5), and of any rule whose `model` in `rules/` is a baseline.
 *
 * Relied on by those detectors on every tick, over histories read from rollups. The scores
 * end up in alert evidence (`value`, `median`, `mad`, `z`), so their meaning is part of what
 * operators read: `z` is how many robust standard deviations `value` sits above the
 * history's median.
 *
 * Median and MAD rather than mean and standard deviation, because the history of a key
 * that was attacked before holds the attack: one past spike must not lift the baseline
 * enough to hide the next one.
 */
import { mean, median } from 'simple-statistics'

/** MAD × 1.4826 estimates the standard deviation of normally distributed data. */
export const MAD_TO_SD = 1.4826
/** Mean absolute deviation × √(π/2) estimates the same standard deviation. */
export const MEAN_AD_TO_SD = Math.sqrt(Math.PI / 2)
/**
 * The smallest scale a score divides by, as a share of the history's median: 5 %. Without
 * it a flat history (every hour exactly 40 orders) has MAD 0 and mean absolute deviation 0,
 * and one order more would score Infinity; a near-flat one would score in the hundreds.
 * With it, a value must differ from a flat baseline by z × 5 % of it to score z.
 */
export const MIN_SCALE_RELATIVE = 0.05
/**
 * The smallest scale in absolute terms: 1 unit, the smallest change of the counts and
 * quantities baselines are kept for. It matters when the median is 0 (a key that is
 * usually silent at this hour), where the relative floor is 0 too. Override it with
 * `minScale` for metrics whose unit is not 1 (ratios).
 */
export const MIN_SCALE_ABSOLUTE = 1

export interface RobustZ {
  /** (value − median) / scale; positive above the median. */
  z: number
  /** Median of the history. */
  median: number
  /** Median absolute deviation of the history, unscaled (the raw statistic). */
  mad: number
  /**
   * What `z` was divided by: MAD × 1.4826, or when MAD is 0 the mean absolute deviation
   * × √(π/2), and never below the floor (see `MIN_SCALE_RELATIVE`, `MIN_SCALE_ABSOLUTE`).
   */
  scale: number
}

export interface RobustZOptions {
  /** Absolute floor of the scale. @defaultValue `MIN_SCALE_ABSOLUTE` (1) */
  minScale?: number
}

function finiteOnly(history: readonly number[]): readonly number[] {
  for (const x of history) {
    if (!Number.isFinite(x)) return history.filter(Number.isFinite)
  }
  return history
}

function checkValue(value: number, name = 'value'): void {
  if (!Number.isFinite(value)) throw new RangeError(`${name} must be a finite number, got ${String(value)}`)
}

/**
 * Robust z-score of `value` against `history`. Non-finite entries of `history` are left out
 * (a missing bucket is not a zero: the caller decides what a gap means, see
 * `seasonalHistory`). Throws a RangeError when `value` is not finite or no finite history
 * is left; negative values are scored like any other.
 *
 * The floor is applied whenever the data's own scale is below it, not only when MAD is 0:
 * a history that is flat but for one hour has MAD 0 and a tiny mean deviation, and would
 * otherwise turn a one-unit change into a huge score.
 */
export function robustZ(value: number, history: readonly number[], opts?: RobustZOptions): RobustZ {
  checkValue(value)
  const h = finiteOnly(history)
  if (h.length === 0) throw new RangeError('history has no finite values')
  const minScale = opts?.minScale ?? MIN_SCALE_ABSOLUTE
  if (!(minScale > 0) || minScale === Number.POSITIVE_INFINITY) throw new RangeError(`minScale must be a finite number > 0, got ${String(minScale)}`)

  const med = median(h)
  const deviations = new Array<number>(h.length)
  for (let i = 0; i < h.length; i++) deviations[i] = Math.abs(h[i]! - med)
  const mad = median(deviations)
  let scale = mad * MAD_TO_SD
  if (scale === 0) scale = mean(deviations) * MEAN_AD_TO_SD
  scale = Math.max(scale, MIN_SCALE_RELATIVE * Math.abs(med), minScale)
  return { z: (value - med) / scale, median: med, mad, scale }
}

/**
 * Exponentially weighted moving average of `values`, oldest first: each value weighs
 * `alpha`, the average so far `1 − alpha`, starting from the first value. Non-finite
 * values are skipped. Throws a RangeError when `alpha` is not in (0, 1] or no finite value
 * is given.
 */
export function ewma(values: readonly number[], alpha: number): number {
  if (!(alpha > 0 && alpha <= 1)) throw new RangeError(`alpha must be in (0, 1], got ${String(alpha)}`)
  let avg = Number.NaN
  for (const x of values) {
    if (!Number.isFinite(x)) continue
    avg = Number.isNaN(avg) ? x : alpha * x + (1 - alpha) * avg
  }
  if (Number.isNaN(avg)) throw new RangeError('values has no finite values')
  return avg
}

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS
/** One week in ms: the default season of `seasonalHistory`. */
export const WEEK_MS = 7 * DAY_MS
// 1970-01-01 was a Thursday: Monday 00:00 was 72 hours before the epoch.
const EPOCH_HOUR_OF_WEEK = 72

/**
 * Hour of the week in UTC, 0..167, Monday 00:00–00:59 = 0, Sunday 23:00–23:59 = 167. UTC
 * rather than the venue's local time, so a session that opens at 08:00 London shifts by
 * one hour here twice a year; baselines over several weeks absorb that.
 */
export function hourOfWeek(tsMs: number): number {
  checkValue(tsMs, 'tsMs')
  const h = (Math.floor(tsMs / HOUR_MS) + EPOCH_HOUR_OF_WEEK) % 168
  return h < 0 ? h + 168 : h
}

export interface SeasonalPoint {
  tsMs: number
  value: number
}

export interface SeasonalHistoryOptions {
  /** Width of a bucket, e.g. one hour. At most `periodMs`. */
  bucketMs: number
  /** How many previous seasons to look back: weeks, with the default `periodMs`. */
  weeks: number
  /**
   * Length of a season. A week by default ("this key at this time of week"); a day gives
   * "this key at this time of day", usable once a key has days but not weeks of history.
   * @defaultValue `WEEK_MS`
   */
  periodMs?: number
}

/**
 * The values of the bucket holding `atMs`, one season (week) back, two back, … `weeks`
 * back, oldest first: the history to score the current bucket against.
 *
 * Buckets are aligned to the epoch (`floor(atMs / bucketMs) × bucketMs`). Several points
 * in one past bucket are summed, so rollups finer than `bucketMs` give bucket totals. A
 * past bucket with no point counts as 0 (a rollup has no row for a quiet hour), except
 * before the key's first point, where there is no history at all: those seasons are left
 * out, so a young key has a short history and falls to the cold-start rule. Points with a
 * non-finite time or value are skipped.
 */
export function seasonalHistory(points: readonly SeasonalPoint[], atMs: number, opts: SeasonalHistoryOptions): number[] {
  checkValue(atMs, 'atMs')
  const periodMs = opts.periodMs ?? WEEK_MS
  if (!(periodMs > 0) || !Number.isFinite(periodMs)) throw new RangeError(`periodMs must be a finite number > 0, got ${String(periodMs)}`)
  if (!(opts.bucketMs > 0 && opts.bucketMs <= periodMs)) {
    throw new RangeError(`bucketMs must be > 0 and at most periodMs (${periodMs}), got ${String(opts.bucketMs)}`)
  }
  if (!Number.isInteger(opts.weeks) || opts.weeks < 0) throw new RangeError(`weeks must be an integer ≥ 0, got ${String(opts.weeks)}`)
  const { bucketMs, weeks } = opts
  const start = Math.floor(atMs / bucketMs) * bucketMs

  // sums[k]: total of the bucket k seasons back. One pass over the points, whatever `weeks`.
  const sums = new Float64Array(weeks + 1)
  let earliest = Number.POSITIVE_INFINITY
  for (const p of points) {
    if (!Number.isFinite(p.tsMs) || !Number.isFinite(p.value)) continue
    if (p.tsMs < earliest) earliest = p.tsMs
    // The bucket k seasons back is [start − k·period, start − k·period + bucket), i.e. the
    // points whose distance d = start − t is in (k·period − bucket, k·period].
    const d = start - p.tsMs
    if (d <= 0) continue
    const k = Math.ceil(d / periodMs)
    if (k <= weeks && d > k * periodMs - bucketMs) sums[k] = sums[k]! + p.value
  }

  const out: number[] = []
  for (let k = weeks; k >= 1; k--) {
    if (start - k * periodMs + bucketMs <= earliest) continue
    out.push(sums[k]!)
  }
  return out
}

export interface BaselineOptions {
  /** Fewer finite history values than this: the cold-start rule decides, not the z-score. */
  minHistory: number
  /** Fires when z ≥ this. Spikes only: a value far below its baseline never fires. */
  zThreshold: number
  /** The rule's absolute threshold for keys with short history: fires when value > this. */
  coldStartMax?: number
  /** Values below this never fire, whatever the score (too small to matter). */
  minValue?: number
  /** Absolute floor of the scale, as in `robustZ`. @defaultValue 1 */
  minScale?: number
}

export interface BaselineScore {
  fires: boolean
  /** 0 when the history is empty. */
  z: number
  /** 0 when the history is empty. */
  median: number
  /** 0 when the history is empty. */
  mad: number
  /**
   * What decided: `zscore` (enough history, scored), `cold_start` (short history, judged by
   * `coldStartMax`), `insufficient_history` (short history and no `coldStartMax`: never
   * fires), `below_min` (value under `minValue`: never fires).
   */
  reason: 'zscore' | 'cold_start' | 'below_min' | 'insufficient_history'
}

/**
 * Scores `value` against `history` with `robustZ` and decides whether the rule fires. The
 * score is filled in whatever the reason, as evidence. Throws a RangeError for a non-finite
 * value or options out of range; non-finite history entries are left out and do not count
 * towards `minHistory`.
 */
export function scoreAgainstBaseline(value: number, history: readonly number[], opts: BaselineOptions): BaselineScore {
  checkValue(value)
  if (!Number.isInteger(opts.minHistory) || opts.minHistory < 0) throw new RangeError(`minHistory must be an integer ≥ 0, got ${String(opts.minHistory)}`)
  if (!(opts.zThreshold > 0) || !Number.isFinite(opts.zThreshold)) throw new RangeError(`zThreshold must be a finite number > 0, got ${String(opts.zThreshold)}`)
  if (opts.coldStartMax !== undefined && Number.isNaN(opts.coldStartMax)) throw new RangeError('coldStartMax must be a number')
  if (opts.minValue !== undefined && Number.isNaN(opts.minValue)) throw new RangeError('minValue must be a number')

  const h = finiteOnly(history)
  const stats = h.length > 0 ? robustZ(value, h, opts.minScale === undefined ? undefined : { minScale: opts.minScale }) : undefined
  const score = { z: stats?.z ?? 0, median: stats?.median ?? 0, mad: stats?.mad ?? 0 }

  if (opts.minValue !== undefined && value < opts.minValue) return { fires: false, ...score, reason: 'below_min' }
  if (h.length < opts.minHistory || stats === undefined) {
    if (opts.coldStartMax === undefined) return { fires: false, ...score, reason: 'insufficient_history' }
    return { fires: value > opts.coldStartMax, ...score, reason: 'cold_start' }
  }
  return { fires: score.z >= opts.zThreshold, ...score, reason: 'zscore' }
}
