/**
 * Overview (issue 7): events/s and alerts by severity over a period, open incidents, tripped
 * kill-switches, and each source's health — `GET /v1/overview?from&to`, refreshed every 10 s.
 */
import {
  EuiCallOut,
  EuiFlexGroup,
  EuiFlexItem,
  EuiLink,
  EuiPanel,
  EuiSpacer,
  EuiStat,
  EuiSuperDatePicker,
  EuiText,
  EuiTitle,
  type OnRefreshChangeProps,
  type OnTimeChangeProps,
} from '@elastic/eui'
import { keepPreviousData, useQuery } from '@tanstack/react-query'
import { useMemo, useState } from 'react'
import { useNavigate } from 'react-router-dom'
import { api } from '../api/client.js'
import { formatNumber, Time } from '../components/format.js'
import { actorName } from '../killswitches/resetState.js'
import { OverviewCharts } from '../overview/OverviewCharts.js'
import { alertTotal, type Overview } from '../overview/series.js'
import { SourceHealthTable } from '../overview/SourceHealthTable.js'
import { resolveRange } from '../overview/timeRange.js'

const DEFAULT_REFRESH_MS = 10_000

function RouterLink({ to, children, subj }: { to: string; children: React.ReactNode; subj: string }) {
  const navigate = useNavigate()
  return (
    <EuiLink
      href={to}
      data-test-subj={subj}
      onClick={(e: React.MouseEvent) => {
        e.preventDefault()
        navigate(to)
      }}
    >
      {children}
    </EuiLink>
  )
}

export default function OverviewPage() {
  const [start, setStart] = useState('now-1h')
  const [end, setEnd] = useState('now')
  const [isPaused, setPaused] = useState(false)
  const [refreshInterval, setRefreshInterval] = useState(DEFAULT_REFRESH_MS)
  // The picker's range, checked now; each fetch resolves "now-1h" … "now" again at its own time.
  const valid = useMemo(() => resolveRange(start, end) !== null, [start, end])

  const q = useQuery({
    queryKey: ['overview', start, end],
    queryFn: async ({ signal }) => {
      const range = resolveRange(start, end)
      if (!range) throw new Error('That time range does not work')
      const overview = await api<Overview>('/v1/overview', { query: { from: range.from, to: range.to }, signal })
      return { range, overview }
    },
    enabled: valid,
    placeholderData: keepPreviousData,
  })

  // Auto-refresh (the picker's timer) and the Refresh button: a refresh still answering is not
  // restarted, so a slow server is never asked again and again without an answer.
  const onRefresh = () => void q.refetch({ cancelRefetch: false })
  const data = q.data?.overview
  const alertsInRange = data ? alertTotal(data.alerts) : undefined
  const range = q.data?.range
  const chartRange = useMemo(() => (range ? { min: range.min, max: range.max } : { min: Date.now() - 3_600_000, max: Date.now() }), [range])

  return (
    <>
      <EuiFlexGroup alignItems="center" justifyContent="spaceBetween" gutterSize="m" wrap>
        <EuiFlexItem grow={false}>
          <EuiTitle size="l">
            <h1>Overview</h1>
          </EuiTitle>
        </EuiFlexItem>
        <EuiFlexItem grow={false} data-test-subj="overviewTimePicker">
          <EuiSuperDatePicker
            start={start}
            end={end}
            isPaused={isPaused}
            refreshInterval={refreshInterval}
            isLoading={q.isFetching}
            onTimeChange={({ start: s, end: e }: OnTimeChangeProps) => {
              if (s === start && e === end) onRefresh()
              setStart(s)
              setEnd(e)
            }}
            onRefresh={onRefresh}
            onRefreshChange={({ isPaused: p, refreshInterval: r }: OnRefreshChangeProps) => {
              setPaused(p)
              setRefreshInterval(r)
            }}
          />
        </EuiFlexItem>
      </EuiFlexGroup>
      <EuiSpacer size="m" />
      {!valid && (
        <>
          <EuiCallOut title="That time range does not work" color="warning" iconType="warning">
            The end must be after the start, and both must be valid times.
          </EuiCallOut>
          <EuiSpacer size="m" />
        </>
      )}
      {q.error && (
        <>
          <EuiCallOut title="Could not load the overview" color="danger" iconType="error" data-test-subj="overviewError">
            {q.error.message}
          </EuiCallOut>
          <EuiSpacer size="m" />
        </>
      )}
      <EuiFlexGroup gutterSize="m" wrap>
        <EuiFlexItem style={{ minWidth: 200 }}>
          <EuiPanel hasBorder>
            <EuiStat
              title={data ? formatNumber(data.open_incidents) : '—'}
              description={<RouterLink to="/incidents" subj="overviewOpenIncidents">Open incidents</RouterLink>}
              titleColor={data && data.open_incidents > 0 ? 'danger' : 'default'}
              isLoading={!data && q.isLoading}
              reverse
            />
          </EuiPanel>
        </EuiFlexItem>
        <EuiFlexItem style={{ minWidth: 200 }}>
          <EuiPanel hasBorder>
            <EuiStat
              title={data ? formatNumber(data.tripped_killswitches.length) : '—'}
              description={<RouterLink to="/killswitches" subj="overviewTripped">Tripped kill-switches</RouterLink>}
              titleColor={data && data.tripped_killswitches.length > 0 ? 'danger' : 'default'}
              isLoading={!data && q.isLoading}
              reverse
            />
          </EuiPanel>
        </EuiFlexItem>
        <EuiFlexItem style={{ minWidth: 200 }}>
          <EuiPanel hasBorder>
            <EuiStat
              title={alertsInRange !== undefined ? formatNumber(alertsInRange) : '—'}
              description={<RouterLink to="/alerts" subj="overviewAlertsInRange">Alerts in range</RouterLink>}
              isLoading={!data && q.isLoading}
              reverse
            />
          </EuiPanel>
        </EuiFlexItem>
      </EuiFlexGroup>
      <EuiSpacer size="m" />
      <OverviewCharts data={data} range={chartRange} />
      <EuiSpacer size="m" />
      <EuiPanel hasBorder data-test-subj="overviewTrippedList">
        <EuiTitle size="xs">
          <h2>Tripped kill-switches</h2>
        </EuiTitle>
        <EuiSpacer size="s" />
        {!data ? (
          <EuiText size="s" color="subdued" style={{ height: 150 }}>
            <p>Loading…</p>
          </EuiText>
        ) : data.tripped_killswitches.length === 0 ? (
          <EuiText size="s" color="subdued" style={{ height: 150 }}>
            <p>No kill-switch is tripped. A tripped switch (its scope, when and why) would be listed here.</p>
          </EuiText>
        ) : (
          // A fixed height, scrolled: a switch tripping during a refresh does not push the page down.
          <EuiText size="s" style={{ height: 150, overflowY: 'auto' }} tabIndex={0} aria-label="Tripped kill-switches">
            <ul>
              {data.tripped_killswitches.map((k) => (
                <li key={k.id} data-test-subj={`overviewTripped-${k.id}`}>
                  <strong>
                    {k.scope.type}
                    {k.scope.type !== 'global' && <> {k.scope.id}</>}
                  </strong>{' '}
                  — tripped <Time iso={k.tripped_at} /> by {actorName(k.tripped_by)}: {k.reason}
                  {k.reset_request && <> (reset asked by {actorName(k.reset_request.by)}, waiting for a second person)</>}
                </li>
              ))}
            </ul>
          </EuiText>
        )}
      </EuiPanel>
      <EuiSpacer size="m" />
      <EuiPanel hasBorder>
        <EuiTitle size="xs">
          <h2>Sources</h2>
        </EuiTitle>
        <EuiSpacer size="s" />
        <SourceHealthTable sources={data?.sources ?? []} loading={!data && q.isLoading} />
      </EuiPanel>
    </>
  )
}
