/**
 * The behaviour detectors: baselines of a key's own habits (volume.spike,
 * order.fat_finger), where it is used from (geo.new_country, geo.impossible_travel), what
 * its requests carry (ids.injection) and how a source keeps time (clock.skew). Each lives in
 * its `behaviour-*.ts` file with its reasoning and its queries per tick; the score they
 * share is described in `behaviour-common.ts`.
 */
import type { Detector } from '../detector.js'
import { clockSkew } from './behaviour-clock.js'
import { orderFatFinger } from './behaviour-fat-finger.js'
import { geoImpossibleTravel, geoNewCountry } from './behaviour-geo.js'
import { idsInjection } from './behaviour-ids.js'
import { volumeSpike } from './behaviour-volume.js'

/** volume.spike, order.fat_finger, geo.*, ids.injection, clock.skew: baselines and per-event checks. */
export const BEHAVIOUR_DETECTORS: readonly Detector[] = [volumeSpike, orderFatFinger, geoNewCountry, geoImpossibleTravel, idsInjection, clockSkew]
