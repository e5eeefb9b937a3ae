/** The overview's two charts: events per second (with failures) and alerts stacked by severity. */
import { AreaSeries, Axis, BarSeries, Chart, niceTimeFormatter, Position, ScaleType, Settings, type SeriesColorAccessor } from '@elastic/charts'
import { EuiFlexGroup, EuiFlexItem, EuiLoadingChart, EuiPanel, EuiText, EuiTitle } from '@elastic/eui'
import { useMemo } from 'react'
import { ChartStyles, useChartTheme } from '../components/chartTheme.js'
import { eventRates, severityRows, type Overview, type SeverityName } from './series.js'

/** Fixed height so live refreshes never move the page. */
export const CHART_HEIGHT = 220

function Loading() {
  return (
    <EuiFlexGroup justifyContent="center" alignItems="center" style={{ height: CHART_HEIGHT }}>
      <EuiLoadingChart size="l" />
    </EuiFlexGroup>
  )
}

function Empty({ what }: { what: string }) {
  return (
    <EuiText size="s" color="subdued" textAlign="center" style={{ paddingTop: CHART_HEIGHT / 2 - 20, height: CHART_HEIGHT }}>
      <p>{what}</p>
    </EuiText>
  )
}

export function OverviewCharts({ data, range }: { data: Overview | undefined; range: { min: number; max: number } }) {
  const t = useChartTheme()
  const rates = useMemo(() => (data ? eventRates(data.events, data.bucket_ms) : []), [data])
  const rows = useMemo(() => (data ? severityRows(data.alerts) : []), [data])
  const timeFormat = useMemo(() => niceTimeFormatter([range.min, range.max]), [range.min, range.max])
  const anyEvents = rates.some((r) => r.events > 0)
  const anyAlerts = rows.some((r) => r.count > 0)
  const severityColor: SeriesColorAccessor = (s) => t.severityColor[(s.splitAccessors.get('severity') as SeverityName) ?? 'low'] ?? t.severityColor.low
  const bucketLabel = data ? `per ${Math.round(data.bucket_ms / 1000)} s bucket` : ''

  return (
    <EuiFlexGroup gutterSize="m" wrap>
      <ChartStyles />
      <EuiFlexItem style={{ minWidth: 360 }}>
        <EuiPanel hasBorder paddingSize="m" data-test-subj="overviewEventsChart">
          <EuiTitle size="xxs">
            <h3>Events per second</h3>
          </EuiTitle>
          <div style={{ height: CHART_HEIGHT }}>
            {!data ? (
              <Loading />
            ) : !anyEvents ? (
              <Empty what="No events in this period. Events per second and failures per second appear here as sources send them." />
            ) : (
              <Chart>
                <Settings baseTheme={t.baseTheme} theme={t.theme} showLegend legendPosition={Position.Bottom} xDomain={range} locale="en" />
                <Axis id="t" position={Position.Bottom} tickFormat={timeFormat} />
                <Axis id="rate" position={Position.Left} tickFormat={(v: number) => (v >= 10 ? v.toFixed(0) : v.toFixed(1))} ticks={4} />
                <AreaSeries id="events" name="events/s" data={rates} xScaleType={ScaleType.Time} xAccessor="x" yAccessors={['events']} color={t.eventsColor} />
                <AreaSeries id="failures" name="failures/s" data={rates} xScaleType={ScaleType.Time} xAccessor="x" yAccessors={['failures']} color={t.failureColor} />
              </Chart>
            )}
          </div>
        </EuiPanel>
      </EuiFlexItem>
      <EuiFlexItem style={{ minWidth: 360 }}>
        <EuiPanel hasBorder paddingSize="m" data-test-subj="overviewAlertsChart">
          <EuiTitle size="xxs">
            <h3>Alerts by severity {bucketLabel && <small>({bucketLabel})</small>}</h3>
          </EuiTitle>
          <div style={{ height: CHART_HEIGHT }}>
            {!data ? (
              <Loading />
            ) : !anyAlerts ? (
              <Empty what="No alerts were raised in this period. New alerts appear here stacked by severity." />
            ) : (
              <Chart>
                <Settings baseTheme={t.baseTheme} theme={t.theme} showLegend legendPosition={Position.Bottom} xDomain={{ ...range, minInterval: data?.bucket_ms }} locale="en" />
                <Axis id="t" position={Position.Bottom} tickFormat={timeFormat} />
                <Axis id="n" position={Position.Left} ticks={4} tickFormat={(v: number) => String(Math.round(v))} />
                <BarSeries
                  id="alerts"
                  name={(s) => String(s.splitAccessors.get('severity') ?? '')}
                  data={rows}
                  xScaleType={ScaleType.Time}
                  xAccessor="x"
                  yAccessors={['count']}
                  splitSeriesAccessors={['severity']}
                  stackAccessors={['x']}
                  color={severityColor}
                />
              </Chart>
            )}
          </div>
        </EuiPanel>
      </EuiFlexItem>
    </EuiFlexGroup>
  )
}

