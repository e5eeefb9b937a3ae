/**
 * One incident: its header (title, severity, status, when, how many alerts, which keys and
 * accounts), approvals waiting for a person, its alerts, and its whole timeline with a note box.
 * Read again every few seconds while it is on screen; earlier data stays until the new arrives.
 */
import {
  EuiBasicTable,
  EuiButton,
  EuiButtonEmpty,
  EuiDescriptionList,
  EuiEmptyPrompt,
  EuiFlexGroup,
  EuiFlexItem,
  EuiHorizontalRule,
  EuiLoadingSpinner,
  EuiPanel,
  EuiSkeletonText,
  EuiSkeletonTitle,
  EuiSpacer,
  EuiText,
  EuiTitle,
  type EuiBasicTableColumn,
} from '@elastic/eui'
import { keepPreviousData, useQuery } from '@tanstack/react-query'
import { useState } from 'react'
import { api, ApiError } from '../api/client.js'
import { Can, useAuth } from '../auth/AuthContext.js'
import { SeverityBadge, StatusBadge, Time } from '../components/format.js'
import { ApprovalsPanel } from './ApprovalsPanel.js'
import { ApiErrorCallOut, AppLink } from './common.js'
import { IncidentTimeline } from './IncidentTimeline.js'
import { NoteForm } from './NoteForm.js'
import { affectedOf, allowedMoves } from './status.js'
import { StatusModal } from './StatusModal.js'
import { resolutionOf } from './timeline.js'
import type { Incident, IncidentAlert, IncidentStatus } from './types.js'

const REFRESH_MS = 4000

function IdList({ ids, to }: { ids: string[]; to?: (id: string) => string }) {
  if (ids.length === 0) return <>—</>
  return (
    <>
      {ids.map((id, i) => (
        <span key={id}>
          {i > 0 ? ', ' : ''}
          {to ? <AppLink to={to(id)}>{id}</AppLink> : <code>{id}</code>}
        </span>
      ))}
    </>
  )
}

function AlertsTable({ incident }: { incident: Incident }) {
  const alerts = incident.alerts
  const columns: Array<EuiBasicTableColumn<IncidentAlert>> = [
    {
      field: 'rule',
      name: 'Rule',
      width: '220px',
      render: (rule: string, a: IncidentAlert) => (
        <AppLink to={`/alerts/${a.id}`} data-test-subj={`incidentAlert-${a.id}`}>
          {rule}
        </AppLink>
      ),
    },
    { field: 'severity', name: 'Severity', width: '100px', render: (s: string) => <SeverityBadge severity={s} /> },
    { field: 'status', name: 'Status', width: '120px', render: (s: string) => <StatusBadge status={s} /> },
    { field: 'summary', name: 'Summary', truncateText: { lines: 2 } },
    { field: 'first_seen', name: 'First seen', width: '170px', render: (t: string) => <Time iso={t} /> },
    { field: 'last_seen', name: 'Last seen', width: '170px', render: (t: string) => <Time iso={t} /> },
  ]
  if (!alerts) {
    return (
      <EuiText size="s">
        <p>
          Alert ids: <IdList ids={incident.alert_ids} to={(id) => `/alerts/${id}`} />
        </p>
      </EuiText>
    )
  }
  return (
    <EuiBasicTable<IncidentAlert>
      tableCaption="The incident's alerts"
      items={alerts}
      itemId="id"
      columns={columns}
      noItemsMessage="No alert is attached to this incident."
      data-test-subj="incidentAlerts"
    />
  )
}

function Header({ incident, fetching, onStatus }: { incident: Incident; fetching: boolean; onStatus: (to: IncidentStatus) => void }) {
  const auth = useAuth()
  const affected = affectedOf(incident)
  const resolution = resolutionOf(incident.timeline)
  const moves = allowedMoves(incident.status)
  const keyLink = auth.can('keys:read') ? (id: string) => `/keys/${encodeURIComponent(id)}` : undefined
  return (
    <>
      <EuiFlexGroup alignItems="flexStart" justifyContent="spaceBetween" gutterSize="m" wrap responsive={false}>
        <EuiFlexItem grow={true} style={{ minWidth: 320 }}>
          <EuiFlexGroup gutterSize="s" alignItems="center" responsive={false} wrap>
            <EuiFlexItem grow={false}>
              <EuiTitle size="m">
                <h1 data-test-subj="incidentTitle">{incident.title}</h1>
              </EuiTitle>
            </EuiFlexItem>
            <EuiFlexItem grow={false}>
              <SeverityBadge severity={incident.severity} />
            </EuiFlexItem>
            <EuiFlexItem grow={false} data-test-subj="incidentStatus">
              <StatusBadge status={incident.status} />
            </EuiFlexItem>
            <EuiFlexItem grow={false} style={{ width: 16 }}>
              {/* Always the same space, so the header does not move while it refreshes. */}
              {fetching ? <EuiLoadingSpinner size="s" aria-label="Refreshing" /> : null}
            </EuiFlexItem>
          </EuiFlexGroup>
          <EuiText size="xs" color="subdued">
            <code>{incident.id}</code>
          </EuiText>
        </EuiFlexItem>
        <Can permission="incidents:write">
          <EuiFlexItem grow={false}>
            <EuiFlexGroup gutterSize="s" responsive={false}>
              {moves.includes('contained') ? (
                <EuiButtonEmpty size="s" iconType="lock" onClick={() => onStatus('contained')} data-test-subj="incidentContain">
                  Mark contained
                </EuiButtonEmpty>
              ) : null}
              {moves.includes('open') ? (
                <EuiButtonEmpty size="s" iconType="refresh" onClick={() => onStatus('open')} data-test-subj="incidentReopen">
                  Reopen
                </EuiButtonEmpty>
              ) : null}
              {moves.includes('closed') ? (
                <EuiButton size="s" fill iconType="checkCircle" onClick={() => onStatus('closed')} data-test-subj="incidentClose">
                  Close…
                </EuiButton>
              ) : null}
            </EuiFlexGroup>
          </EuiFlexItem>
        </Can>
      </EuiFlexGroup>
      <EuiSpacer size="m" />
      <EuiDescriptionList
        type="column"
        compressed
        columnWidths={[1, 4]}
        data-test-subj="incidentFacts"
        listItems={[
          { title: 'Opened', description: <Time iso={incident.opened_at} /> },
          { title: 'Last change', description: <Time iso={incident.updated_at} /> },
          { title: 'Entity', description: <code>{`${incident.entity.type} ${incident.entity.id}`}</code> },
          { title: 'Alerts', description: String(incident.alert_ids.length) },
          { title: affected.keys.length === 1 ? 'Affected key' : 'Affected keys', description: <IdList ids={affected.keys} to={keyLink} /> },
          { title: affected.accounts.length === 1 ? 'Affected account' : 'Affected accounts', description: <IdList ids={affected.accounts} /> },
          ...(resolution ? [{ title: 'Resolution', description: <span data-test-subj="incidentResolutionText">{resolution}</span> }] : []),
        ]}
      />
    </>
  )
}

export function IncidentView({ id }: { id: string }) {
  const [statusTo, setStatusTo] = useState<IncidentStatus | null>(null)
  const q = useQuery({
    queryKey: ['incident', id],
    queryFn: ({ signal }) => api<Incident>(`/v1/incidents/${encodeURIComponent(id)}`, { signal }),
    placeholderData: keepPreviousData,
    refetchInterval: (query) => (query.state.error instanceof ApiError && query.state.error.status === 404 ? false : REFRESH_MS),
  })
  const incident = q.data

  const back = (
    <AppLink to="/incidents" data-test-subj="incidentsBack">
      ← All incidents
    </AppLink>
  )

  if (!incident) {
    if (q.error) {
      const notFound = q.error instanceof ApiError && q.error.status === 404
      return (
        <>
          {back}
          <EuiSpacer size="m" />
          {notFound ? (
            <EuiEmptyPrompt iconType="securitySignalDetected" title={<h2>No such incident</h2>} body={<p>There is no incident {id}. It may have been mistyped.</p>} />
          ) : (
            <ApiErrorCallOut error={q.error} title="The incident could not be loaded" data-test-subj="incidentError" />
          )}
        </>
      )
    }
    return (
      <>
        {back}
        <EuiSpacer size="m" />
        <EuiPanel hasBorder>
          <EuiSkeletonTitle size="m" />
          <EuiSpacer size="m" />
          <EuiSkeletonText lines={6} />
        </EuiPanel>
      </>
    )
  }

  return (
    <>
      {back}
      <EuiSpacer size="m" />
      <EuiPanel hasBorder data-test-subj="incidentHeader">
        <Header incident={incident} fetching={q.isFetching} onStatus={setStatusTo} />
      </EuiPanel>
      {q.error ? (
        <>
          <EuiSpacer size="m" />
          <ApiErrorCallOut error={q.error} title="The incident could not be refreshed; this is what it was" />
        </>
      ) : null}
      <EuiSpacer size="m" />
      <EuiPanel hasBorder>
        <EuiTitle size="xs">
          <h2>Waiting for approval</h2>
        </EuiTitle>
        <EuiSpacer size="s" />
        <ApprovalsPanel incident={incident} />
      </EuiPanel>
      <EuiSpacer size="m" />
      <EuiPanel hasBorder>
        <EuiTitle size="xs">
          <h2>Alerts ({incident.alert_ids.length})</h2>
        </EuiTitle>
        <EuiSpacer size="s" />
        <AlertsTable incident={incident} />
      </EuiPanel>
      <EuiSpacer size="m" />
      <EuiPanel hasBorder>
        <EuiTitle size="xs">
          <h2>Timeline</h2>
        </EuiTitle>
        <EuiSpacer size="s" />
        <IncidentTimeline entries={incident.timeline} />
        <Can permission="incidents:write">
          <EuiHorizontalRule margin="m" />
          <NoteForm incidentId={incident.id} />
        </Can>
      </EuiPanel>
      {statusTo ? <StatusModal incident={incident} initial={statusTo} onClose={() => setStatusTo(null)} /> : null}
    </>
  )
}
