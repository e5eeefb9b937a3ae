/** Per-source health: last event, lag, events in 5 min, clock skew against its RTS 25 limit. */
import { EuiBadge, EuiBasicTable, EuiHealth, EuiToolTip, type EuiBasicTableColumn } from '@elastic/eui'
import { formatDuration, formatNumber, Time } from '../components/format.js'
import { formatSkew, SOURCE_STATUS_COLOR, skewHealth, type SourceHealth } from './series.js'

const STATUS_HELP: Record<SourceHealth['status'], string> = {
  ok: 'Receiving events; clock within its limit',
  stale: 'No event received for 5 minutes or more',
  skew_breach: "Clock skew beyond the RTS 25 limit (clock.skew's judged percentile over the period)",
  silent: 'No event received for an hour or more (or never)',
}

const columns: Array<EuiBasicTableColumn<SourceHealth>> = [
  { field: 'source', name: 'Source', render: (s: string) => <code>{s}</code> },
  { field: 'last_event_at', name: 'Last event', render: (t: string | null) => <Time iso={t} /> },
  { field: 'lag_ms', name: 'Lag', render: (ms: number | null) => formatDuration(ms) },
  { field: 'events_5m', name: 'Events (5 min)', align: 'right', render: (n: number) => formatNumber(n) },
  {
    name: 'Clock skew p50 / p99 / max',
    render: (s: SourceHealth) => {
      const h = skewHealth(s)
      const k = s.clock_skew_ms
      const text = k ? `${formatSkew(k.p50)} / ${formatSkew(k.p99)} / ${formatSkew(k.max)}` : 'no readings'
      return (
        <EuiToolTip content={h === 'subdued' ? 'No skew readings or no clock.skew limit' : `Negative: the source's clock is ahead of Vigil's. Limit ±${s.limit_ms} ms.`}>
          <EuiHealth color={h} tabIndex={0}>
            {text}
          </EuiHealth>
        </EuiToolTip>
      )
    },
  },
  { field: 'limit_ms', name: 'Limit (RTS 25)', render: (ms: number | null) => (ms === null ? '—' : `±${formatNumber(ms)} ms`) },
  {
    field: 'status',
    name: 'Status',
    render: (st: SourceHealth['status']) => (
      <EuiToolTip content={STATUS_HELP[st] ?? st}>
        <EuiBadge color={SOURCE_STATUS_COLOR[st] ?? 'hollow'} tabIndex={0} data-test-subj={`sourceStatus-${st}`}>
          {st.replace('_', ' ')}
        </EuiBadge>
      </EuiToolTip>
    ),
  },
]

export function SourceHealthTable({ sources, loading }: { sources: SourceHealth[]; loading: boolean }) {
  return (
    <EuiBasicTable
      tableCaption="Health of each event source"
      items={sources}
      rowHeader="source"
      columns={columns}
      loading={loading}
      noItemsMessage={loading ? 'Loading sources…' : 'No sources yet. Each registered source (vigil sources add) and any that sends events appears here with its lag and clock skew.'}
      data-test-subj="overviewSources"
    />
  )
}
