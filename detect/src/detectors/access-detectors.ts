/**
 * The account rules' detectors (auth.*, access.*, rate.abuse): window counts from the
 * rollups (access-windows.ts), and for auth.success_after_failures the order of raw events.
 */
import type { Detector } from '../detector.js'
import { ipNotAllowedDetector, scopeViolationDetector } from './access-denials.js'
import { bruteForceDetector } from './auth-brute-force.js'
import { credentialStuffingDetector } from './auth-credential-stuffing.js'
import { successAfterFailuresDetector } from './auth-success-after-failures.js'
import { rateAbuseDetector } from './rate-abuse.js'

/** auth.*, access.*, rate.abuse: window counts from the rollups. */
export const ACCOUNT_DETECTORS: readonly Detector[] = [
  bruteForceDetector,
  credentialStuffingDetector,
  successAfterFailuresDetector,
  ipNotAllowedDetector,
  scopeViolationDetector,
  rateAbuseDetector,
]
