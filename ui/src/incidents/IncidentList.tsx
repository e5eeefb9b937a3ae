/** The incident list: filters by status, severity and opening time, newest first, paged by the server's cursor. */
import {
  EuiBasicTable,
  EuiButtonEmpty,
  EuiFlexGroup,
  EuiFlexItem,
  EuiFormRow,
  EuiSelect,
  EuiSpacer,
  EuiSuperDatePicker,
  EuiText,
  type EuiBasicTableColumn,
} from '@elastic/eui'
import { keepPreviousData, useQuery } from '@tanstack/react-query'
import { useState } from 'react'
import { useNavigate } from 'react-router-dom'
import { api } from '../api/client.js'
import { useAuth } from '../auth/AuthContext.js'
import { SEVERITIES, SeverityBadge, StatusBadge, Time } from '../components/format.js'
import { ApiErrorCallOut, AppLink } from './common.js'
import { currentCursor, DEFAULT_FILTERS, firstPage, incidentsQuery, nextPage, pageIndex, previousPage, resolveRange, type IncidentFilters } from './list.js'
import { INCIDENT_STATUSES, type IncidentStatus, type IncidentSummary, type Page } from './types.js'

const REFRESH_MS = 15_000

export function IncidentList() {
  const navigate = useNavigate()
  const auth = useAuth()
  const [filters, setFilters] = useState<IncidentFilters>(DEFAULT_FILTERS)
  const [pager, setPager] = useState(firstPage)
  const [badRange, setBadRange] = useState(false)
  const cursor = currentCursor(pager)

  const list = useQuery({
    queryKey: ['incidents', filters, cursor],
    queryFn: ({ signal }) => api<Page<IncidentSummary>>('/v1/incidents', { query: incidentsQuery(filters, resolveRange(filters.start, filters.end), cursor), signal }),
    placeholderData: keepPreviousData,
    // Only the first page moves as incidents open; later pages stay where they were.
    refetchInterval: cursor === null ? REFRESH_MS : false,
  })

  const change = (patch: Partial<IncidentFilters>) => {
    setFilters((f) => ({ ...f, ...patch }))
    setPager(firstPage())
  }

  const columns: Array<EuiBasicTableColumn<IncidentSummary>> = [
    { field: 'opened_at', name: 'Opened', width: '170px', render: (at: string) => <Time iso={at} /> },
    {
      field: 'title',
      name: 'Incident',
      truncateText: true,
      render: (title: string, i: IncidentSummary) => (
        <AppLink to={`/incidents/${i.id}`} data-test-subj={`incidentLink-${i.id}`}>
          {title}
        </AppLink>
      ),
    },
    { field: 'severity', name: 'Severity', width: '100px', render: (s: string) => <SeverityBadge severity={s} /> },
    { field: 'status', name: 'Status', width: '110px', render: (s: string) => <StatusBadge status={s} /> },
    { field: 'alert_ids', name: 'Alerts', width: '70px', align: 'right', render: (ids: string[]) => ids.length },
    {
      field: 'api_key_id',
      name: 'Key',
      width: '150px',
      truncateText: true,
      render: (k: string | null) => (k ? auth.can('keys:read') ? <AppLink to={`/keys/${encodeURIComponent(k)}`}>{k}</AppLink> : k : '—'),
    },
    { field: 'account_id', name: 'Account', width: '140px', truncateText: true, render: (a: string | null) => a ?? '—' },
    { field: 'updated_at', name: 'Last change', width: '170px', render: (at: string) => <Time iso={at} /> },
  ]

  const items = list.data?.items ?? []
  const next = list.data?.next ?? null
  const filtered = filters.status !== '' || filters.severity !== ''

  return (
    <>
      <EuiFlexGroup gutterSize="m" alignItems="flexEnd" wrap responsive={false}>
        <EuiFlexItem grow={false}>
          <EuiFormRow label="Status" display="rowCompressed">
            <EuiSelect
              compressed
              data-test-subj="incidentsStatusFilter"
              value={filters.status}
              options={[{ value: '', text: 'Any status' }, ...INCIDENT_STATUSES.map((s) => ({ value: s, text: s }))]}
              onChange={(e) => change({ status: e.target.value as IncidentStatus | '' })}
            />
          </EuiFormRow>
        </EuiFlexItem>
        <EuiFlexItem grow={false}>
          <EuiFormRow label="Severity" display="rowCompressed">
            <EuiSelect
              compressed
              data-test-subj="incidentsSeverityFilter"
              value={filters.severity}
              options={[{ value: '', text: 'Any severity' }, ...SEVERITIES.map((s) => ({ value: s, text: s }))]}
              onChange={(e) => change({ severity: e.target.value })}
            />
          </EuiFormRow>
        </EuiFlexItem>
        <EuiFlexItem grow={false}>
          <EuiFormRow label="Opened" display="rowCompressed" isInvalid={badRange} error={badRange ? 'The range does not parse or ends before it starts.' : undefined}>
            <EuiSuperDatePicker
              compressed
              data-test-subj="incidentsTimeRange"
              start={filters.start}
              end={filters.end}
              isLoading={list.isFetching}
              onTimeChange={({ start, end, isInvalid }) => {
                setBadRange(isInvalid || resolveRange(start, end) === null)
                if (!isInvalid && resolveRange(start, end)) change({ start, end })
              }}
              onRefresh={() => void list.refetch()}
              commonlyUsedRanges={[
                { start: 'now-24h', end: 'now', label: 'Last 24 hours' },
                { start: 'now-7d', end: 'now', label: 'Last 7 days' },
                { start: 'now-30d', end: 'now', label: 'Last 30 days' },
                { start: 'now-1y', end: 'now', label: 'Last year' },
              ]}
            />
          </EuiFormRow>
        </EuiFlexItem>
      </EuiFlexGroup>
      <EuiSpacer size="m" />
      <ApiErrorCallOut error={list.error} title="The incidents could not be loaded" data-test-subj="incidentsError" />
      {list.error ? <EuiSpacer size="m" /> : null}
      <EuiBasicTable<IncidentSummary>
        data-test-subj="incidentsTable"
        tableCaption="Incidents, newest first"
        items={items}
        itemId="id"
        columns={columns}
        loading={list.isFetching && !list.data}
        noItemsMessage={
          list.isPending
            ? 'Loading incidents…'
            : filtered
              ? 'No incident matches these filters in this time range.'
              : 'No incident was opened in this time range. Incidents open when a playbook or an analyst acts on an alert.'
        }
        rowProps={(i) => ({
          'data-test-subj': `incidentRow-${i.id}`,
          onClick: (e: React.MouseEvent) => {
            // The title is a link already; a click elsewhere on the row opens it too.
            if ((e.target as HTMLElement).closest('a,button')) return
            navigate(`/incidents/${i.id}`)
          },
          style: { cursor: 'pointer' },
        })}
      />
      <EuiSpacer size="s" />
      <EuiFlexGroup justifyContent="spaceBetween" alignItems="center" responsive={false}>
        <EuiFlexItem grow={false}>
          <EuiText size="xs" color="subdued">
            Page {pageIndex(pager) + 1}
            {items.length > 0 ? ` · ${items.length} incident${items.length === 1 ? '' : 's'}` : ''}
          </EuiText>
        </EuiFlexItem>
        <EuiFlexItem grow={false}>
          <EuiFlexGroup gutterSize="s" responsive={false}>
            <EuiButtonEmpty size="s" iconType="chevronSingleLeft" disabled={pageIndex(pager) === 0} onClick={() => setPager(previousPage)} data-test-subj="incidentsNewer">
              Newer
            </EuiButtonEmpty>
            <EuiButtonEmpty size="s" iconType="chevronSingleRight" iconSide="right" disabled={!next} onClick={() => setPager((p) => nextPage(p, next))} data-test-subj="incidentsOlder">
              Older
            </EuiButtonEmpty>
          </EuiFlexGroup>
        </EuiFlexItem>
      </EuiFlexGroup>
    </>
  )
}
