/** The raw events behind an alert: those around it (its key, account or address, over its window), the evidence's samples marked and shown first. */
import { EuiBadge, EuiBasicTable, EuiButtonIcon, EuiCallOut, EuiCodeBlock, EuiScreenReaderOnly, EuiSpacer, EuiSwitch, EuiText, type Criteria, type EuiBasicTableColumn } from '@elastic/eui'
import { useQuery } from '@tanstack/react-query'
import { useMemo, useState, type ReactNode } from 'react'
import { api } from '../api/client.js'
import { Time } from '../components/format.js'
import { rawEventsQuery, shapeEvidence } from './evidence.js'
import { errorText } from './toasts.js'
import type { Alert, EventView } from './types.js'

const PAGE = 10

export function RawEvents({ alert }: { alert: Alert }) {
  const query = useMemo(() => rawEventsQuery(alert), [alert])
  const samples = useMemo(() => new Set(shapeEvidence(alert).sampleEventIds), [alert])
  const events = useQuery({
    queryKey: ['alerts', 'events', alert.id, query],
    queryFn: ({ signal }) => api<{ items: EventView[]; next: string | null }>('/v1/events', { query, signal }),
  })
  const [onlySamples, setOnlySamples] = useState(true)
  const [pageIndex, setPageIndex] = useState(0)
  const [expanded, setExpanded] = useState<Record<string, boolean>>({})

  const all = events.data?.items ?? []
  const found = all.filter((e) => samples.has(e.id))
  const shown = onlySamples && found.length > 0 ? found : [...found, ...all.filter((e) => !samples.has(e.id))]
  const page = shown.slice(pageIndex * PAGE, pageIndex * PAGE + PAGE)

  const expandedRows: Record<string, ReactNode> = {}
  for (const e of page) {
    if (expanded[e.id]) {
      expandedRows[e.id] = (
        <div style={{ width: '100%' }}>
          <EuiCodeBlock language="json" fontSize="s" paddingSize="s" overflowHeight={320} isCopyable>
            {JSON.stringify(e, null, 2)}
          </EuiCodeBlock>
        </div>
      )
    }
  }

  const columns: EuiBasicTableColumn<EventView>[] = [
    {
      width: '40px',
      isExpander: true,
      name: (
        <EuiScreenReaderOnly>
          <span>Show JSON</span>
        </EuiScreenReaderOnly>
      ),
      render: (e: EventView) => (
        <EuiButtonIcon
          iconType={expanded[e.id] ? 'chevronSingleDown' : 'chevronSingleRight'}
          aria-label={expanded[e.id] ? `Hide event ${e.id}` : `Show event ${e.id} as JSON`}
          aria-expanded={!!expanded[e.id]}
          data-test-subj={`alertEventExpand-${e.id}`}
          onClick={() => setExpanded((x) => ({ ...x, [e.id]: !x[e.id] }))}
        />
      ),
    },
    { field: 'ts', name: 'Time', width: '150px', render: (ts: string) => <Time iso={ts} /> },
    { field: 'action', name: 'Action', width: '130px', truncateText: true },
    { field: 'outcome', name: 'Outcome', width: '90px' },
    { field: 'reason', name: 'Reason', width: '130px', truncateText: true, render: (r: string | null) => r || '—' },
    { field: 'client_ip', name: 'Client IP', width: '130px', render: (ip: string | null) => ip || '—' },
    { name: 'Where', width: '110px', render: (e: EventView) => [e.geo?.city, e.geo?.country].filter(Boolean).join(', ') || '—' },
    { name: 'Evidence', width: '80px', render: (e: EventView) => (samples.has(e.id) ? <EuiBadge color="accent">sample</EuiBadge> : null) },
  ]

  if (events.isError) {
    return (
      <EuiCallOut announceOnMount size="s" color="danger" iconType="error" title="The raw events could not be read">
        {errorText(events.error)}
      </EuiCallOut>
    )
  }
  const missing = samples.size - found.length
  return (
    <div data-test-subj="alertRawEvents">
      <EuiText size="xs" color="subdued">
        Events {query.api_key_id ? `of key ${query.api_key_id}` : query.account_id ? `of account ${query.account_id}` : query.client_ip ? `from ${query.client_ip}` : 'of every source'} from a minute before the alert to a minute after (newest 200).
        {samples.size > 0 && missing > 0 && !events.isLoading ? ` ${missing} of the evidence's ${samples.size} sample events are not among them.` : ''}
      </EuiText>
      {found.length > 0 && (
        <>
          <EuiSpacer size="xs" />
          <EuiSwitch
            compressed
            label={`Only the evidence's sample events (${found.length})`}
            checked={onlySamples}
            onChange={(e) => (setOnlySamples(e.target.checked), setPageIndex(0))}
            data-test-subj="alertEventsOnlySamples"
          />
        </>
      )}
      <EuiSpacer size="s" />
      <EuiBasicTable<EventView>
        tableCaption="Raw events"
        items={page}
        itemId="id"
        itemIdToExpandedRowMap={expandedRows}
        columns={columns}
        loading={events.isLoading}
        noItemsMessage={events.isLoading ? 'Loading events…' : 'No events of this alert in that period (they may be past the retention, or the alert names no key, account or address).'}
        pagination={{ pageIndex, pageSize: PAGE, totalItemCount: shown.length, showPerPageOptions: false }}
        onChange={({ page: p }: Criteria<EventView>) => p && setPageIndex(p.index)}
        compressed
      />
    </div>
  )
}
