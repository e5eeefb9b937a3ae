import { geoContains } from 'd3-geo'
import { describe, expect, it } from 'vitest'
import { mapPoints, MAP_HEIGHT, MAP_WIDTH, MAX_RADIUS, MIN_RADIUS, placeName, pointRadius, usedCountries, worldCountries, worldMap, type GeoLocation } from './geo.js'

const loc = (over: Partial<GeoLocation>): GeoLocation => ({
  country: 'DE',
  city: 'Berlin',
  lat: 52.52,
  lon: 13.4,
  count: 1,
  first_seen: '2026-11-27T00:00:00Z',
  last_seen: '2026-11-27T01:00:00Z',
  ...over,
})

describe('world map shapes', () => {
  it('names every drawn country by its ISO alpha-2 code, once', () => {
    const { shapes } = worldMap()
    expect(shapes.length).toBeGreaterThan(170)
    expect(shapes.filter((s) => s.alpha2 === null).map((s) => s.name)).toEqual([])
    const byCode = new Map(shapes.map((s) => [s.alpha2, s.name]))
    expect(byCode.get('DE')).toBe('Germany')
    expect(byCode.get('BR')).toBe('Brazil')
    expect(byCode.get('NG')).toBe('Nigeria')
    expect(byCode.get('US')).toBe('United States of America')
    expect(byCode.has('AQ')).toBe(false)
    // Northern Cyprus and Somaliland are drawn apart but shaded with Cyprus and Somalia.
    const codes = shapes.map((s) => s.alpha2)
    expect(codes.length - new Set(codes).size).toBe(2)
  })

  it('draws every shape inside the viewBox', () => {
    for (const s of worldMap().shapes) {
      expect(s.d.startsWith('M')).toBe(true)
      expect(s.bounds[0][0]).toBeGreaterThanOrEqual(0)
      expect(s.bounds[0][1]).toBeGreaterThanOrEqual(0)
      expect(s.bounds[1][0]).toBeLessThanOrEqual(MAP_WIDTH)
      expect(s.bounds[1][1]).toBeLessThanOrEqual(MAP_HEIGHT)
    }
  })

  it.each([
    ['DE', 52.52, 13.4],
    ['BR', -30.03, -51.24],
    ['NG', 6.45, 3.39],
    ['AU', -33.87, 151.21],
    ['US', 40.71, -74.0],
    ['JP', 35.68, 139.69],
  ])('projects a point in %s inside that country’s path bounds', (code, lat, lon) => {
    const { projection, shapes } = worldMap()
    const shape = shapes.find((s) => s.alpha2 === code)
    const feature = worldCountries().find((f) => String(f.id) === shape?.id)
    expect(shape).toBeDefined()
    expect(feature && geoContains(feature, [lon, lat])).toBe(true)
    const [x, y] = projection([lon, lat]) as [number, number]
    const [[x0, y0], [x1, y1]] = shape!.bounds
    expect(x).toBeGreaterThan(x0)
    expect(x).toBeLessThan(x1)
    expect(y).toBeGreaterThan(y0)
    expect(y).toBeLessThan(y1)
  })
})

describe('countries and points of a key', () => {
  it('marks the countries the key was used from, French Guiana as France', () => {
    const used = usedCountries([loc({ country: 'DE' }), loc({ country: 'BR', city: 'Porto Alegre' }), loc({ country: 'GF', city: 'Cayenne' }), loc({ country: 'de', city: null })])
    expect([...used].sort()).toEqual(['BR', 'DE', 'FR'])
    expect(usedCountries([]).size).toBe(0)
  })

  it('sizes points by count: larger never smaller, within the limits', () => {
    const counts = [0, 1, 2, 3, 5, 10, 50, 99, 100]
    const radii = counts.map((c) => pointRadius(c, 100))
    for (let i = 1; i < radii.length; i++) expect(radii[i]).toBeGreaterThanOrEqual(radii[i - 1] as number)
    expect(radii[0]).toBe(MIN_RADIUS)
    expect(radii[radii.length - 1]).toBe(MAX_RADIUS)
    expect(pointRadius(10, 100)).toBeLessThan(pointRadius(11, 100))
    expect(pointRadius(5, 0)).toBe(MIN_RADIUS)
    expect(pointRadius(500, 100)).toBe(MAX_RADIUS)
  })

  it('places located uses only, largest first, with radius by count', () => {
    const { projection } = worldMap()
    const points = mapPoints(
      [loc({ count: 3 }), loc({ country: 'BR', city: 'Porto Alegre', lat: -30.03, lon: -51.24, count: 12 }), loc({ country: 'FR', city: null, lat: null, lon: null, count: 40 })],
      projection,
    )
    expect(points.map((p) => p.key)).toEqual(['BR|Porto Alegre', 'DE|Berlin'])
    // The unlocated 40 is the busiest, so 12 does not get the largest radius.
    expect(points[0]!.r).toBeLessThan(MAX_RADIUS)
    expect(points[0]!.r).toBeGreaterThan(points[1]!.r)
    expect(points[0]!.x).toBeLessThan(points[1]!.x)
  })

  it('names a place by city and country', () => {
    expect(placeName({ city: 'Lagos', country: 'NG' })).toBe('Lagos, NG')
    expect(placeName({ city: null, country: 'NG' })).toBe('NG')
  })
})
