/**
 * Geo enrichment from `client_ip` with geoip-lite's bundled database, in process.
 * Lookups were the largest JavaScript cost of the ingest path when measured (≈ 430 k/s),
 * and trading API traffic repeats the same few thousand addresses, so answers are cached
 * per address (including "no answer", for private ranges).
 */
import geoip from 'geoip-lite'
import { LRUCache } from 'lru-cache'

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
  const cache = new LRUCache<string, Geo>({ max })
  return (ip) => {
    let g = cache.get(ip)
    if (g === undefined) {
      const r = geoip.lookup(ip)
      g = r && r.country ? { country: r.country, region: r.region ?? '', city: r.city ?? '', lat: r.ll?.[0], lon: r.ll?.[1] } : NONE
      cache.set(ip, g)
    }
    return g === NONE ? undefined : g
  }
}
