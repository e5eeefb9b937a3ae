/**
 * The key explorer's world map as plain data: country outlines from world-atlas (bundled into
 * the build, so the map needs no tile server and no fetch, and works under the CSP), projected
 * with d3-geo into SVG path strings that React renders. No d3 DOM manipulation.
 *
 * Locations name their country by ISO 3166-1 alpha-2 (ingest's geo, CONTRACT §1); world-atlas
 * names its countries by ISO 3166-1 numeric, hence ALPHA2_BY_NUMERIC below.
 */
import { geoEqualEarth, geoPath, type GeoProjection } from 'd3-geo'
import { feature } from 'topojson-client'
import type { Feature, FeatureCollection, Geometry } from 'geojson'
import type { GeometryCollection, Topology } from 'topojson-specification'
import countries110m from 'world-atlas/countries-110m.json'

/** The map's drawing size (an SVG viewBox; the element scales to its width). */
export const MAP_WIDTH = 960
export const MAP_HEIGHT = 470
/** Point radii in viewBox units: the smallest use, and the key's busiest location. */
export const MIN_RADIUS = 3
export const MAX_RADIUS = 16

/** ISO 3166-1 numeric → alpha-2, for every country world-atlas's 110m map draws. */
const ALPHA2_BY_NUMERIC: Readonly<Record<string, string>> = {
  '004': 'AF', '008': 'AL', '010': 'AQ', '012': 'DZ', '024': 'AO', '031': 'AZ', '032': 'AR', '036': 'AU', '040': 'AT', '044': 'BS',
  '050': 'BD', '051': 'AM', '056': 'BE', '064': 'BT', '068': 'BO', '070': 'BA', '072': 'BW', '076': 'BR', '084': 'BZ', '090': 'SB',
  '096': 'BN', '100': 'BG', '104': 'MM', '108': 'BI', '112': 'BY', '116': 'KH', '120': 'CM', '124': 'CA', '140': 'CF', '144': 'LK',
  '148': 'TD', '152': 'CL', '156': 'CN', '158': 'TW', '170': 'CO', '178': 'CG', '180': 'CD', '188': 'CR', '191': 'HR', '192': 'CU',
  '196': 'CY', '203': 'CZ', '204': 'BJ', '208': 'DK', '214': 'DO', '218': 'EC', '222': 'SV', '226': 'GQ', '231': 'ET', '232': 'ER',
  '233': 'EE', '238': 'FK', '242': 'FJ', '246': 'FI', '250': 'FR', '260': 'TF', '262': 'DJ', '266': 'GA', '268': 'GE', '270': 'GM',
  '275': 'PS', '276': 'DE', '288': 'GH', '300': 'GR', '304': 'GL', '320': 'GT', '324': 'GN', '328': 'GY', '332': 'HT', '340': 'HN',
  '348': 'HU', '352': 'IS', '356': 'IN', '360': 'ID', '364': 'IR', '368': 'IQ', '372': 'IE', '376': 'IL', '380': 'IT', '384': 'CI',
  '388': 'JM', '392': 'JP', '398': 'KZ', '400': 'JO', '404': 'KE', '408': 'KP', '410': 'KR', '414': 'KW', '417': 'KG', '418': 'LA',
  '422': 'LB', '426': 'LS', '428': 'LV', '430': 'LR', '434': 'LY', '440': 'LT', '442': 'LU', '450': 'MG', '454': 'MW', '458': 'MY',
  '466': 'ML', '478': 'MR', '484': 'MX', '496': 'MN', '498': 'MD', '499': 'ME', '504': 'MA', '508': 'MZ', '512': 'OM', '516': 'NA',
  '524': 'NP', '528': 'NL', '540': 'NC', '548': 'VU', '554': 'NZ', '558': 'NI', '562': 'NE', '566': 'NG', '578': 'NO', '586': 'PK',
  '591': 'PA', '598': 'PG', '600': 'PY', '604': 'PE', '608': 'PH', '616': 'PL', '620': 'PT', '624': 'GW', '626': 'TL', '630': 'PR',
  '634': 'QA', '642': 'RO', '643': 'RU', '646': 'RW', '682': 'SA', '686': 'SN', '688': 'RS', '694': 'SL', '703': 'SK', '704': 'VN',
  '705': 'SI', '706': 'SO', '710': 'ZA', '716': 'ZW', '724': 'ES', '728': 'SS', '729': 'SD', '732': 'EH', '740': 'SR', '748': 'SZ',
  '752': 'SE', '756': 'CH', '760': 'SY', '762': 'TJ', '764': 'TH', '768': 'TG', '780': 'TT', '784': 'AE', '788': 'TN', '792': 'TR',
  '795': 'TM', '800': 'UG', '804': 'UA', '807': 'MK', '818': 'EG', '826': 'GB', '834': 'TZ', '840': 'US', '854': 'BF', '858': 'UY',
  '860': 'UZ', '862': 'VE', '887': 'YE', '894': 'ZM',
}

/** Shapes world-atlas draws without a numeric id, by their name. */
const ALPHA2_BY_NAME: Readonly<Record<string, string>> = { Kosovo: 'XK', 'N. Cyprus': 'CY', Somaliland: 'SO' }

/** Codes geolocation may answer that the 110m map draws as part of another shape. */
const DRAWN_AS: Readonly<Record<string, string>> = { GF: 'FR' }

export interface CountryShape {
  /** world-atlas's id (ISO 3166-1 numeric), or the name where it has none. */
  id: string
  name: string
  /** ISO 3166-1 alpha-2, or null if unknown. */
  alpha2: string | null
  /** SVG path data in viewBox units. */
  d: string
  /** [[x0, y0], [x1, y1]] of the path in viewBox units. */
  bounds: [[number, number], [number, number]]
}

export interface GeoLocation {
  country: string
  city: string | null
  lat: number | null
  lon: number | null
  count: number
  first_seen: string
  last_seen: string
}

export interface MapPoint {
  key: string
  x: number
  y: number
  r: number
  location: GeoLocation
}

type CountryProps = { name: string }

/** Every country of world-atlas's 110m map as GeoJSON, Antarctica left out (it only takes room). */
export function worldCountries(): Array<Feature<Geometry, CountryProps>> {
  const topology = countries110m as unknown as Topology<{ countries: GeometryCollection<CountryProps> }>
  const fc = feature(topology, topology.objects.countries) as FeatureCollection<Geometry, CountryProps>
  return fc.features.filter((f) => f.id !== '010')
}

/** Equal Earth (areas stay comparable), fitted to the map's viewBox. */
export function mapProjection(countries: Array<Feature<Geometry, CountryProps>> = worldCountries(), width = MAP_WIDTH, height = MAP_HEIGHT): GeoProjection {
  return geoEqualEarth().fitExtent(
    [
      [4, 4],
      [width - 4, height - 4],
    ],
    { type: 'FeatureCollection', features: countries },
  )
}

export function alpha2Of(f: Feature<Geometry, CountryProps>): string | null {
  const id = f.id === undefined ? undefined : String(f.id)
  return (id !== undefined ? ALPHA2_BY_NUMERIC[id] : undefined) ?? ALPHA2_BY_NAME[f.properties.name] ?? null
}

/** The country shape a location's ISO alpha-2 code is drawn in. */
export function shapeCode(alpha2: string): string {
  const code = alpha2.toUpperCase()
  return DRAWN_AS[code] ?? code
}

/** Country outlines as SVG path strings for `projection`. */
export function countryShapes(projection: GeoProjection, countries: Array<Feature<Geometry, CountryProps>> = worldCountries()): CountryShape[] {
  const path = geoPath(projection)
  return countries.flatMap((f) => {
    const d = path(f)
    if (!d) return []
    return [{ id: f.id === undefined ? f.properties.name : String(f.id), name: f.properties.name, alpha2: alpha2Of(f), d, bounds: path.bounds(f) }]
  })
}

let cached: { projection: GeoProjection; shapes: CountryShape[] } | undefined

/** The projection and outlines at the default size, computed once per page load. */
export function worldMap(): { projection: GeoProjection; shapes: CountryShape[] } {
  if (!cached) {
    const countries = worldCountries()
    const projection = mapProjection(countries)
    cached = { projection, shapes: countryShapes(projection, countries) }
  }
  return cached
}

/** Alpha-2 codes of the shapes to shade: every country the key was used from. */
export function usedCountries(locations: readonly Pick<GeoLocation, 'country'>[]): Set<string> {
  return new Set(locations.filter((l) => l.country).map((l) => shapeCode(l.country)))
}

/**
 * A point's radius for `count` uses when the busiest location has `maxCount`: area grows with
 * the count (radius with its square root), never smaller than MIN_RADIUS nor larger than
 * MAX_RADIUS, and never smaller for a larger count.
 */
export function pointRadius(count: number, maxCount: number): number {
  if (!(maxCount > 0) || !(count > 0)) return MIN_RADIUS
  const share = Math.min(1, count / maxCount)
  return MIN_RADIUS + (MAX_RADIUS - MIN_RADIUS) * Math.sqrt(share)
}

/** Points for the locations that have coordinates, the largest first so small ones stay on top. */
export function mapPoints(locations: readonly GeoLocation[], projection: GeoProjection): MapPoint[] {
  const max = locations.reduce((m, l) => Math.max(m, l.count), 0)
  const points: MapPoint[] = []
  for (const l of locations) {
    if (l.lat === null || l.lon === null || !Number.isFinite(l.lat) || !Number.isFinite(l.lon)) continue
    const xy = projection([l.lon, l.lat])
    if (!xy) continue
    points.push({ key: `${l.country}|${l.city ?? ''}`, x: xy[0], y: xy[1], r: pointRadius(l.count, max), location: l })
  }
  return points.sort((a, b) => b.r - a.r)
}

/** "Berlin, DE" or "DE". */
export function placeName(l: Pick<GeoLocation, 'city' | 'country'>): string {
  return l.city ? `${l.city}, ${l.country}` : l.country
}
