/**
 * Geo enrichment from `client_ip` with geoip-lite's bundled database, in process.
 * Lookups were the largest JavaScript cost of the ingest path when measured (≈ 430 k/s),
 * and trading API traffic repeats the same few thousand addresses, so answers are cached
 * per address (including "no answer", for private ranges).
 *
 * geoip-lite reads its whole database (≈ 0.7 s, ≈ 100 MB) when it is loaded, so it is
 * loaded on the first lookup, or by `loadGeoDatabase()` at start-up; a `vigil` command that
 * never looks up an address never pays for it.
 */
import { createRequire } from 'node:module'
import type geoipModule from 'geoip-lite'
import { LRUCache } from 'lru-cache'
import { lazy } from '@vigil/core'

const require = createRequire(import.meta.url)

/** Loads geoip-lite's database now (idempotent), so the first request does not wait for it. */
export const loadGeoDatabase = lazy((): typeof geoipModule => require('geoip-lite') as typeof geoipModule)

export interface Geo {
  country: string
  region: string
  city: string
  lat?: number
  lon?: number
}

export type GeoLookup = (ip: string) => Geo | undefined

const NONE: Geo = { country: '', region: '', city: '' }

export function createGeoLookup(max = 100_000): GeoLookup {
  // maxSize, not max: the same bound without preallocating arrays for every entry at start.
  const cache = new LRUCache<string, Geo>({ maxSize: max, sizeCalculation: () => 1 })
  return (ip) => {
    let g = cache.get(ip)
    if (g === undefined) {
      const r = loadGeoDatabase().lookup(ip)
      g = r && r.country ? { country: r.country, region: r.region ?? '', city: r.city ?? '', lat: r.ll?.[0], lon: r.ll?.[1] } : NONE
      cache.set(ip, g)
    }
    return g === NONE ? undefined : g
  }
}
