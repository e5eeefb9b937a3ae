/**
 * A key's activity per bucket against volume.spike's baseline band: the band (low..high) as an
 * area, its median as a dashed line, orders (what the band is about) as a line, requests and
 * failures as bars. Colours come from the EUI theme's visualisation palette and the charts
 * theme and stylesheet (overview/chartTheme.tsx's ChartStyles) follow the EUI colour mode.
 */
import { AreaSeries, Axis, BarSeries, Chart, getChartsTheme, LineSeries, niceTimeFormatter, Position, ScaleType, Settings, Tooltip } from '@elastic/charts'
import { useEuiTheme } from '@elastic/eui'
import { useMemo } from 'react'
import { ChartStyles } from '../components/chartTheme.js'
import type { ChartRow } from './model.js'

export const CHART_HEIGHT = 300

export function ActivityChart({ rows, bucketMs, from, to }: { rows: ChartRow[]; bucketMs: number; from: number; to: number }) {
  const { euiTheme, colorMode } = useEuiTheme()
  const theme = getChartsTheme(euiTheme.themeName, colorMode === 'DARK' ? 'DARK' : 'LIGHT')
  const vis = euiTheme.colors.vis
  const formatX = useMemo(() => niceTimeFormatter([from, to]), [from, to])
  const xDomain = useMemo(() => ({ min: from, max: to, minInterval: bucketMs }), [from, to, bucketMs])
  const common = { xScaleType: ScaleType.Time, yScaleType: ScaleType.Linear, xAccessor: 'x', data: rows } as const

  return (
    <>
      <ChartStyles />
      <Chart size={{ height: CHART_HEIGHT }}>
        <Settings
          baseTheme={theme}
          theme={{ background: { color: 'transparent' } }}
          showLegend
          legendPosition={Position.Bottom}
          xDomain={xDomain}
          locale="en"
          ariaLabel="Requests, orders and failures per bucket against the baseline band"
          ariaUseDefaultSummary
        />
        <Tooltip headerFormatter={({ value }) => formatX(value as number)} />
        <Axis id="time" position={Position.Bottom} tickFormat={formatX} gridLine={{ visible: false }} />
        <Axis id="count" position={Position.Left} ticks={5} gridLine={{ visible: true }} tickFormat={(v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(1))} />
        <AreaSeries
          id="band"
          name="Baseline"
          {...common}
          y1AccessorFormat=" high"
          y0AccessorFormat=" low"
          // The band draws as one area but would take two legend rows (upper, lower); the median's row names it.
          hideInLegend
          yAccessors={['high']}
          y0Accessors={['low']}
          color={vis.euiColorVis0}
          areaSeriesStyle={{ area: { opacity: 0.2 }, line: { visible: false }, point: { visible: 'never' } }}
        />
        <LineSeries
          id="median"
          name="Baseline median (band shaded)"
          {...common}
          yAccessors={['median']}
          color={vis.euiColorVis0}
          lineSeriesStyle={{ line: { strokeWidth: 1.5, dash: [4, 3] }, point: { visible: 'never' } }}
        />
        <BarSeries id="requests" name="Requests" {...common} yAccessors={['requests']} color={vis.euiColorVisGrey1} />
        <BarSeries id="failures" name="Failures" {...common} yAccessors={['failures']} color={vis.euiColorVisDanger0} />
        <LineSeries id="orders" name="Orders" {...common} yAccessors={['orders']} color={vis.euiColorVis2} lineSeriesStyle={{ line: { strokeWidth: 2 }, point: { visible: 'auto' } }} />
      </Chart>
    </>
  )
}
