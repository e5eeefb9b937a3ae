import type { Detector } from '../detector.js'

/** auth.*, access.*, rate.abuse: window counts from the rollups. */
export const ACCOUNT_DETECTORS: readonly Detector[] = []
