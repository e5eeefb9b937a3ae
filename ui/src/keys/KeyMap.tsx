/**
 * Where a key was used: a world map (bundled outlines, no tiles, no fetch) with the countries
 * it was used from shaded and a point per place sized by its count, and beside it a table of
 * the same places — the table is what keyboard and screen-reader users get.
 */
import { EuiFlexGroup, EuiFlexItem, EuiInMemoryTable, EuiPanel, EuiText, useEuiTheme, type EuiBasicTableColumn } from '@elastic/eui'
import { useMemo, useState } from 'react'
import { formatNumber, Time } from '../components/format.js'
import { mapPoints, MAP_HEIGHT, MAP_WIDTH, placeName, usedCountries, worldMap, type GeoLocation, type MapPoint } from './geo.js'

function PointTip({ point }: { point: MapPoint }) {
  const l = point.location
  const left = (point.x / MAP_WIDTH) * 100
  const top = (point.y / MAP_HEIGHT) * 100
  return (
    <div
      role="presentation"
      style={{ position: 'absolute', left: `${left}%`, top: `${top}%`, transform: `translate(${left > 70 ? '-100%' : '0'}, ${top > 60 ? '-100%' : '0'})`, pointerEvents: 'none', zIndex: 1, padding: 8 }}
    >
      <EuiPanel paddingSize="s" hasShadow data-test-subj="keyMapTip">
        <EuiText size="xs">
          <strong>{placeName(l)}</strong>
          <br />
          {formatNumber(l.count)} {l.count === 1 ? 'use' : 'uses'}
          <br />
          first <Time iso={l.first_seen} />, last <Time iso={l.last_seen} />
        </EuiText>
      </EuiPanel>
    </div>
  )
}

export function WorldMap({ locations, highlight, onHover }: { locations: readonly GeoLocation[]; highlight?: string | null; onHover?: (key: string | null) => void }) {
  const { euiTheme } = useEuiTheme()
  const { projection, shapes } = worldMap()
  const used = useMemo(() => usedCountries(locations), [locations])
  const points = useMemo(() => mapPoints(locations, projection), [locations, projection])
  const [hover, setHover] = useState<string | null>(null)
  const shown = hover ?? highlight ?? null
  const tipPoint = shown ? points.find((p) => p.key === shown) : undefined
  const countries = used.size

  const setPoint = (key: string | null) => {
    setHover(key)
    onHover?.(key)
  }

  return (
    <div style={{ position: 'relative' }}>
      <svg
        data-test-subj="keyMap"
        viewBox={`0 0 ${MAP_WIDTH} ${MAP_HEIGHT}`}
        role="img"
        aria-label={`World map: ${points.length} ${points.length === 1 ? 'place' : 'places'} in ${countries} ${countries === 1 ? 'country' : 'countries'}; the table of places lists the same.`}
        style={{ width: '100%', height: 'auto', display: 'block' }}
      >
        <g>
          {shapes.map((s) => {
            const isUsed = s.alpha2 !== null && used.has(s.alpha2)
            return (
              <path
                key={s.id}
                d={s.d}
                data-country={s.alpha2 ?? undefined}
                data-used={isUsed ? 'true' : undefined}
                fill={isUsed ? euiTheme.colors.primary : euiTheme.colors.lightShade}
                fillOpacity={isUsed ? 0.45 : 1}
                stroke={isUsed ? euiTheme.colors.primary : euiTheme.colors.emptyShade}
                strokeWidth={isUsed ? 0.8 : 0.5}
              >
                <title>{s.name}</title>
              </path>
            )
          })}
        </g>
        <g>
          {points.map((p) => (
            <circle
              key={p.key}
              data-test-subj="keyMapPoint"
              data-place={p.key}
              data-count={p.location.count}
              cx={p.x}
              cy={p.y}
              r={p.r}
              fill={euiTheme.colors.danger}
              fillOpacity={shown === p.key ? 0.9 : 0.55}
              stroke={shown === p.key ? euiTheme.colors.fullShade : euiTheme.colors.emptyShade}
              strokeWidth={shown === p.key ? 2 : 1}
              onMouseEnter={() => setPoint(p.key)}
              onMouseLeave={() => setPoint(null)}
            />
          ))}
        </g>
      </svg>
      {tipPoint && <PointTip point={tipPoint} />}
    </div>
  )
}

const columns: Array<EuiBasicTableColumn<GeoLocation>> = [
  { name: 'Place', render: (l: GeoLocation) => placeName(l) },
  { field: 'count', name: 'Uses', sortable: true, align: 'right', render: (n: number) => formatNumber(n) },
  { field: 'first_seen', name: 'First seen', sortable: true, render: (t: string) => <Time iso={t} /> },
  { field: 'last_seen', name: 'Last seen', sortable: true, render: (t: string) => <Time iso={t} /> },
]

const placeKey = (l: GeoLocation) => `${l.country}|${l.city ?? ''}`

export function KeyMap({ locations }: { locations: readonly GeoLocation[] }) {
  const [highlight, setHighlight] = useState<string | null>(null)
  const items = useMemo(() => [...locations], [locations])
  return (
    <EuiFlexGroup gutterSize="l" wrap>
      <EuiFlexItem grow={3} style={{ minWidth: 360 }}>
        <WorldMap locations={locations} highlight={highlight} onHover={setHighlight} />
      </EuiFlexItem>
      <EuiFlexItem grow={2} style={{ minWidth: 320 }}>
        <EuiInMemoryTable<GeoLocation>
          tableCaption="Places the key was used from"
          data-test-subj="keyLocations"
          items={items}
          itemId={placeKey}
          columns={columns}
          compressed
          pagination={{ initialPageSize: 10, showPerPageOptions: false }}
          sorting={{ sort: { field: 'count', direction: 'desc' } }}
          noItemsMessage="No located use in this period: places appear when requests carry a client address that geolocates."
          rowProps={(l: GeoLocation) => ({
            onMouseEnter: () => setHighlight(placeKey(l)),
            onMouseLeave: () => setHighlight(null),
            className: highlight === placeKey(l) ? 'euiTableRow-isSelected' : undefined,
          })}
        />
      </EuiFlexItem>
    </EuiFlexGroup>
  )
}
