/** One key: its state and actions, then its activity over a chosen period. */
import {
  EuiCallOut,
  EuiFlexGroup,
  EuiFlexItem,
  EuiLoadingChart,
  EuiPanel,
  EuiSpacer,
  EuiStat,
  EuiSuperDatePicker,
  EuiText,
  EuiTitle,
  type OnRefreshChangeProps,
} from '@elastic/eui'
import { useMemo, useState, type ReactNode } from 'react'
import { formatNumber } from '../components/format.js'
import { ActivityChart, CHART_HEIGHT } from './ActivityChart.js'
import { KeyMap } from './KeyMap.js'
import { KeyStatus } from './KeyStatus.js'
import { FailuresTable, IpTable } from './KeyTables.js'
import { bucketLabel, chartRows, summarise, type KeyActivity } from './model.js'
import { useKeyActivity } from './queries.js'

function Section({ title, children, extra }: { title: string; children: ReactNode; extra?: ReactNode }) {
  return (
    <EuiPanel hasBorder paddingSize="m">
      <EuiFlexGroup alignItems="center" justifyContent="spaceBetween" gutterSize="s" responsive={false}>
        <EuiFlexItem grow={false}>
          <EuiTitle size="xs">
            <h3>{title}</h3>
          </EuiTitle>
        </EuiFlexItem>
        {extra && <EuiFlexItem grow={false}>{extra}</EuiFlexItem>}
      </EuiFlexGroup>
      <EuiSpacer size="s" />
      {children}
    </EuiPanel>
  )
}

function Summary({ activity, loading }: { activity: KeyActivity | undefined; loading: boolean }) {
  const s = activity ? summarise(activity) : undefined
  const stat = (title: string, value: number | undefined, description: string, color?: 'danger' | 'default', test?: string, none?: string) => (
    <EuiFlexItem key={title} style={{ minWidth: 140 }}>
      <EuiStat title={value === undefined ? (none ?? '—') : formatNumber(value)} description={description} titleSize="s" isLoading={loading && !s} titleColor={color} data-test-subj={test} />
    </EuiFlexItem>
  )
  return (
    <EuiFlexGroup gutterSize="m" wrap responsive={false}>
      {stat('requests', s?.requests, 'Requests')}
      {stat('orders', s?.orders, 'Orders')}
      {stat('failures', s?.failures, 'Failures', s && s.failures > 0 ? 'danger' : 'default')}
      {stat('above', s && s.withBand === 0 ? undefined : s?.aboveBand, 'Buckets above the band', s && s.aboveBand > 0 ? 'danger' : 'default', 'keyAboveBand', s && s.withBand === 0 ? 'no baseline yet' : undefined)}
      {stat('countries', s?.countries, 'Countries')}
      {stat('ips', s?.ips, 'Client addresses')}
    </EuiFlexGroup>
  )
}

export function KeyView({ apiKeyId }: { apiKeyId: string }) {
  const [range, setRange] = useState({ start: 'now-24h', end: 'now' })
  const [refresh, setRefresh] = useState({ isPaused: true, refreshInterval: 30_000 })
  const activity = useKeyActivity(apiKeyId, range.start, range.end, refresh.isPaused ? false : refresh.refreshInterval)
  const a = activity.data
  const rows = useMemo(() => (a ? chartRows(a.buckets) : []), [a])
  const first = rows[0]?.x
  const last = rows[rows.length - 1]?.x
  const bucketMs = a?.bucket_ms ?? 60_000
  const idle = a ? a.buckets.every((b) => b.requests === 0 && b.orders === 0 && b.failures === 0) : false

  return (
    <>
      <EuiTitle size="m">
        <h2 data-test-subj="keyTitle">
          Key <code>{apiKeyId}</code>
        </h2>
      </EuiTitle>
      <EuiSpacer size="m" />
      <EuiPanel hasBorder paddingSize="m">
        <KeyStatus apiKeyId={apiKeyId} accounts={a?.account_ids} scopes={a?.scopes} />
      </EuiPanel>
      <EuiSpacer size="l" />
      <EuiFlexGroup alignItems="center" justifyContent="spaceBetween" wrap>
        <EuiFlexItem grow={false}>
          <EuiTitle size="s">
            <h3>Activity</h3>
          </EuiTitle>
        </EuiFlexItem>
        <EuiFlexItem grow={false}>
          <EuiSuperDatePicker
            data-test-subj="keyRange"
            start={range.start}
            end={range.end}
            onTimeChange={({ start, end, isInvalid }) => {
              if (!isInvalid) setRange({ start, end })
            }}
            onRefresh={() => void activity.refetch()}
            isPaused={refresh.isPaused}
            refreshInterval={refresh.refreshInterval}
            onRefreshChange={({ isPaused, refreshInterval }: OnRefreshChangeProps) => setRefresh({ isPaused, refreshInterval })}
            isLoading={activity.isFetching}
            width="auto"
          />
        </EuiFlexItem>
      </EuiFlexGroup>
      <EuiSpacer size="m" />
      {activity.error && (
        <>
          <EuiCallOut color="danger" iconType="error" title="Could not read the key’s activity" data-test-subj="keyActivityError">
            {activity.error.message}
          </EuiCallOut>
          <EuiSpacer size="m" />
        </>
      )}
      <Summary activity={a} loading={activity.isPending} />
      <EuiSpacer size="m" />
      <Section title="Requests, orders and failures against the baseline band" extra={a && <EuiText size="xs" color="subdued">{`${bucketLabel(bucketMs)} buckets`}</EuiText>}>
        <div data-test-subj="keyActivityChart" style={{ height: CHART_HEIGHT }}>
          {a && !idle && first !== undefined && last !== undefined ? (
            <ActivityChart rows={rows} bucketMs={bucketMs} from={first} to={last} />
          ) : (
            <EuiFlexGroup alignItems="center" justifyContent="center" style={{ height: CHART_HEIGHT }}>
              <EuiFlexItem grow={false}>
                {activity.isPending ? (
                  <EuiLoadingChart size="xl" />
                ) : (
                  <EuiText color="subdued" textAlign="center" size="s" data-test-subj="keyActivityEmpty">
                    <p>
                      No requests from this key in this period.
                      <br />
                      Requests, orders and failures per bucket appear here, with the baseline band once the key has enough history.
                    </p>
                  </EuiText>
                )}
              </EuiFlexItem>
            </EuiFlexGroup>
          )}
        </div>
        {a && (
          <EuiText size="xs" color="subdued">
            <p>
              The band is what volume.spike expects for this key’s orders in each bucket, from the same bucket in earlier weeks; orders above its top edge are what
              volume.spike fires on. No band where the key has too little history.
            </p>
          </EuiText>
        )}
      </Section>
      <EuiSpacer size="m" />
      <Section title="Where it was used">
        <KeyMap locations={a?.locations ?? []} />
      </Section>
      <EuiSpacer size="m" />
      <EuiFlexGroup gutterSize="m" wrap>
        <EuiFlexItem style={{ minWidth: 420 }}>
          <Section title="Client addresses">
            <IpTable ips={a?.ips ?? []} />
          </Section>
        </EuiFlexItem>
      </EuiFlexGroup>
      <EuiSpacer size="m" />
      <Section title="Recent failures">
        <FailuresTable failures={a?.recent_failures ?? []} />
      </Section>
    </>
  )
}
