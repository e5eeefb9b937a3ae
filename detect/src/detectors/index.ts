/**
 * Every built-in detector, one per CONTRACT §5 rule. The engine pairs each with its rule
 * file by `ruleId`.
 */
import type { Detector } from '../detector.js'
import { ACCOUNT_DETECTORS } from './access-detectors.js'
import { BEHAVIOUR_DETECTORS } from './behaviour-detectors.js'

export const BUILTIN_DETECTORS: readonly Detector[] = [...ACCOUNT_DETECTORS, ...BEHAVIOUR_DETECTORS]
