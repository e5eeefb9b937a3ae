/** The key's client addresses and its recent failures (each expandable to the stored event). */
import { EuiBadge, EuiButtonIcon, EuiCodeBlock, EuiInMemoryTable, EuiScreenReaderOnly, type EuiBasicTableColumn } from '@elastic/eui'
import { useState, type ReactNode } from 'react'
import { formatNumber, Time } from '../components/format.js'
import type { EventView, KeyIp } from './model.js'

const ipColumns: Array<EuiBasicTableColumn<KeyIp>> = [
  { field: 'client_ip', name: 'IP', sortable: true, render: (ip: string) => <code>{ip}</code> },
  { field: 'country', name: 'Country', sortable: true, render: (c: string | null) => c ?? '—' },
  { field: 'count', name: 'Requests', sortable: true, align: 'right', render: (n: number) => formatNumber(n) },
  { field: 'failures', name: 'Failures', sortable: true, align: 'right', render: (n: number) => (n > 0 ? <EuiBadge color="danger">{formatNumber(n)}</EuiBadge> : '0') },
  { field: 'last_seen', name: 'Last seen', sortable: true, render: (t: string) => <Time iso={t} /> },
]

export function IpTable({ ips }: { ips: readonly KeyIp[] }) {
  return (
    <EuiInMemoryTable<KeyIp>
      tableCaption="Client addresses the key was used from"
      data-test-subj="keyIps"
      items={[...ips]}
      itemId="client_ip"
      columns={ipColumns}
      compressed
      pagination={{ initialPageSize: 10, showPerPageOptions: false }}
      sorting={{ sort: { field: 'count', direction: 'desc' } }}
      noItemsMessage="No request in this period carried a client address."
    />
  )
}

const OUTCOME_COLOR: Record<string, string> = { failure: 'warning', denied: 'danger', error: 'danger' }

export function FailuresTable({ failures }: { failures: readonly EventView[] }) {
  const [expanded, setExpanded] = useState<Record<string, boolean>>({})
  const expandedRows: Record<string, ReactNode> = {}
  for (const e of failures)
    if (expanded[e.id])
      expandedRows[e.id] = (
        <EuiCodeBlock language="json" fontSize="s" paddingSize="s" overflowHeight={320} isCopyable transparentBackground style={{ width: '100%' }}>
          {JSON.stringify(e, null, 2)}
        </EuiCodeBlock>
      )

  const columns: Array<EuiBasicTableColumn<EventView>> = [
    { field: 'ts', name: 'Time', render: (t: string) => <Time iso={t} />, width: '190px' },
    { field: 'action', name: 'Action' },
    { field: 'outcome', name: 'Outcome', render: (o: string) => <EuiBadge color={OUTCOME_COLOR[o] ?? 'hollow'}>{o}</EuiBadge> },
    { field: 'reason', name: 'Reason', render: (r?: string) => r ?? '—' },
    { field: 'client_ip', name: 'IP', render: (ip?: string) => (ip ? <code>{ip}</code> : '—') },
    { name: 'Path', render: (e: EventView) => (e.http?.path ? <code>{`${e.http.method ?? ''} ${e.http.path}`.trim()}</code> : '—'), truncateText: true },
    {
      align: 'right',
      width: '48px',
      isExpander: true,
      name: (
        <EuiScreenReaderOnly>
          <span>Show event</span>
        </EuiScreenReaderOnly>
      ),
      render: (e: EventView) => (
        <EuiButtonIcon
          data-test-subj="keyFailureExpand"
          onClick={() => setExpanded((x) => ({ ...x, [e.id]: !x[e.id] }))}
          aria-label={expanded[e.id] ? 'Hide the stored event' : 'Show the stored event'}
          aria-expanded={!!expanded[e.id]}
          iconType={expanded[e.id] ? 'chevronSingleUp' : 'chevronSingleDown'}
        />
      ),
    },
  ]

  return (
    <EuiInMemoryTable<EventView>
      tableCaption="The key's most recent failed, denied or erroneous requests, newest first"
      data-test-subj="keyFailures"
      items={[...failures]}
      itemId="id"
      itemIdToExpandedRowMap={expandedRows}
      columns={columns}
      compressed
      pagination={{ initialPageSize: 10, showPerPageOptions: false }}
      noItemsMessage="No failed, denied or erroneous request in this period."
    />
  )
}
