/**
 * What an analyst does with an alert, each shown only to whom may: acknowledge, resolve or mark
 * a false positive with a note (alerts:write); open an incident from it or attach it to an open
 * one (incidents:write). Each refreshes the grid and the flyout and says what happened.
 */
import {
  EuiButton,
  EuiFlexGroup,
  EuiFlexItem,
  EuiFormRow,
  EuiPopover,
  EuiPopoverTitle,
  EuiSelectable,
  EuiTextArea,
  type EuiSelectableOption,
} from '@elastic/eui'
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { api } from '../api/client.js'
import { Can } from '../auth/AuthContext.js'
import { formatTime } from '../components/format.js'
import { noteError, statusBody } from './action-rules.js'
import { errorText, useToasts } from './toasts.js'
import type { Alert, IncidentSummary, SettableStatus } from './types.js'

const STATUS_BUTTONS: { status: SettableStatus; label: string; testSubj: string; icon: string; color: 'primary' | 'success' | 'text' }[] = [
  { status: 'acknowledged', label: 'Acknowledge', testSubj: 'alertAcknowledge', icon: 'eye', color: 'primary' },
  { status: 'resolved', label: 'Resolve', testSubj: 'alertResolve', icon: 'checkCircle', color: 'success' },
  { status: 'false_positive', label: 'Mark false positive', testSubj: 'alertFalsePositive', icon: 'flag', color: 'text' },
]

export function useRefreshAlert() {
  const qc = useQueryClient()
  return (alertId: string) => {
    void qc.invalidateQueries({ queryKey: ['alerts', 'list'] })
    void qc.invalidateQueries({ queryKey: ['alerts', 'detail', alertId] })
    void qc.invalidateQueries({ queryKey: ['incidents'] })
  }
}

function StatusActions({ alert }: { alert: Alert }) {
  const toasts = useToasts()
  const refreshAlert = useRefreshAlert()
  const [note, setNote] = useState('')
  const [invalid, setInvalid] = useState<string | null>(null)
  const setStatus = useMutation({
    mutationFn: (v: { status: SettableStatus; note: string }) => api<Alert>(`/v1/alerts/${encodeURIComponent(alert.id)}/status`, { body: statusBody(v.status, v.note) }),
    onSuccess: (_a, v) => {
      toasts.success(`Alert ${v.status.replace(/_/g, ' ')}`, `${alert.rule} on ${alert.entity.type} ${alert.entity.id}`)
      setNote('')
      refreshAlert(alert.id)
    },
    onError: (err) => toasts.error('The status was not changed', err),
  })
  const act = (status: SettableStatus) => {
    const problem = noteError(status, note)
    setInvalid(problem)
    if (problem) {
      document.getElementById(`alertNote-${alert.id}`)?.focus()
      return
    }
    setStatus.mutate({ status, note })
  }
  return (
    <>
      <EuiFormRow label="Note" helpText="Optional for acknowledge and resolve; required to mark a false positive." isInvalid={invalid !== null} error={invalid ?? undefined} fullWidth>
        <EuiTextArea
          id={`alertNote-${alert.id}`}
          rows={2}
          resize="none"
          fullWidth
          compressed
          value={note}
          isInvalid={invalid !== null}
          onChange={(e) => (setNote(e.target.value), setInvalid(null))}
          data-test-subj="alertNote"
        />
      </EuiFormRow>
      <EuiFlexGroup gutterSize="s" wrap responsive={false}>
        {STATUS_BUTTONS.map((b) => (
          <EuiFlexItem grow={false} key={b.status}>
            <EuiButton
              size="s"
              iconType={b.icon}
              color={b.color}
              isDisabled={alert.status === b.status || setStatus.isPending}
              isLoading={setStatus.isPending && setStatus.variables?.status === b.status}
              onClick={() => act(b.status)}
              data-test-subj={b.testSubj}
            >
              {b.label}
            </EuiButton>
          </EuiFlexItem>
        ))}
      </EuiFlexGroup>
    </>
  )
}

function IncidentActions({ alert }: { alert: Alert }) {
  const toasts = useToasts()
  const refreshAlert = useRefreshAlert()
  const [picking, setPicking] = useState(false)
  const open = useQuery({
    queryKey: ['incidents', 'open-for-attach'],
    queryFn: async ({ signal }) => {
      const [o, c] = await Promise.all([
        api<{ items: IncidentSummary[] }>('/v1/incidents', { query: { status: 'open', limit: 100 }, signal }),
        api<{ items: IncidentSummary[] }>('/v1/incidents', { query: { status: 'contained', limit: 100 }, signal }),
      ])
      return [...o.items, ...c.items].sort((a, b) => b.opened_at.localeCompare(a.opened_at))
    },
    enabled: picking,
  })
  const openIncident = useMutation({
    mutationFn: () => api<IncidentSummary>('/v1/incidents', { body: { alert_id: alert.id } }),
    onSuccess: (inc) => {
      toasts.success('Incident opened', `${inc.id}: ${inc.title}`)
      refreshAlert(alert.id)
    },
    onError: (err) => toasts.error('No incident was opened', err),
  })
  const attach = useMutation({
    mutationFn: (incidentId: string) => api<IncidentSummary>(`/v1/incidents/${encodeURIComponent(incidentId)}/alerts`, { body: { alert_id: alert.id } }),
    onSuccess: (inc) => {
      toasts.success('Alert attached', `to ${inc.id}: ${inc.title}`)
      setPicking(false)
      refreshAlert(alert.id)
    },
    onError: (err) => toasts.error('The alert was not attached', err),
  })
  if (alert.incident_id) return null
  const options: EuiSelectableOption[] = (open.data ?? []).map((i) => ({
    key: i.id,
    label: `${i.title}`,
    append: <small>{formatTime(i.opened_at)}</small>,
    'data-test-subj': `attachIncident-${i.id}`,
  }))
  return (
    <EuiFlexGroup gutterSize="s" wrap responsive={false}>
      <EuiFlexItem grow={false}>
        <EuiButton size="s" iconType="securitySignalDetected" isLoading={openIncident.isPending} onClick={() => openIncident.mutate()} data-test-subj="alertOpenIncident">
          Open incident
        </EuiButton>
      </EuiFlexItem>
      <EuiFlexItem grow={false}>
        <EuiPopover
          isOpen={picking}
          closePopover={() => setPicking(false)}
          panelPaddingSize="none"
          button={
            <EuiButton size="s" iconType="link" isLoading={attach.isPending} onClick={() => setPicking((p) => !p)} data-test-subj="alertAttachIncident">
              Attach to incident
            </EuiButton>
          }
        >
          <EuiPopoverTitle paddingSize="s">Open incidents</EuiPopoverTitle>
          <EuiSelectable
            aria-label="Open incidents"
            singleSelection
            searchable
            isLoading={open.isLoading}
            options={options}
            errorMessage={open.isError ? errorText(open.error) : undefined}
            emptyMessage="No open or contained incident: open one from this alert instead."
            onChange={(next) => {
              const picked = next.find((o) => o.checked === 'on')
              if (picked?.key) attach.mutate(picked.key)
            }}
            listProps={{ bordered: false }}
          >
            {(list, search) => (
              <div style={{ width: 380 }}>
                {search}
                {list}
              </div>
            )}
          </EuiSelectable>
        </EuiPopover>
      </EuiFlexItem>
    </EuiFlexGroup>
  )
}

export function AlertActions({ alert }: { alert: Alert }) {
  return (
    <div data-test-subj="alertActions">
      <Can permission="alerts:write">
        <StatusActions alert={alert} />
      </Can>
      <Can permission="incidents:write">
        <div style={{ marginTop: 8 }}>
          <IncidentActions alert={alert} />
        </div>
      </Can>
    </div>
  )
}
