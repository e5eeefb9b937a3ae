import type { Detector } from '../detector.js'

/** volume.spike, order.fat_finger, geo.*, ids.injection, clock.skew: baselines and per-event checks. */
export const BEHAVIOUR_DETECTORS: readonly Detector[] = []
