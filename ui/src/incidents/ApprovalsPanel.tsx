/**
 * The approval requests of an incident's playbook runs that wait for a person: what step, until
 * when, what happens if nobody answers; Approve / Reject with an optional note for those who hold
 * approvals:write.
 */
import {
  EuiBadge,
  EuiButton,
  EuiFieldText,
  EuiFlexGroup,
  EuiFlexItem,
  EuiFormRow,
  EuiPanel,
  EuiSpacer,
  EuiText,
  EuiTitle,
} from '@elastic/eui'
import { useMutation, useQueries, useQuery, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { api, ApiError } from '../api/client.js'
import { useAuth } from '../auth/AuthContext.js'
import { formatDuration, Time } from '../components/format.js'
import { approvalNoteError, approvalsOfIncident, approvalView, canDecide, missingApprovalIds } from './approvals.js'
import { ApiErrorCallOut, AppLink, useNow } from './common.js'
import type { Approval, Incident, Page } from './types.js'

const REFRESH_MS = 5000

/** One request; `mayApprove` is whether the person holds approvals:write (the buttons show only then). */
export function ApprovalCard({ approval, incidentId, now, mayApprove, mayReadAlerts }: { approval: Approval; incidentId: string; now: number; mayApprove: boolean; mayReadAlerts: boolean }) {
  const queryClient = useQueryClient()
  const [note, setNote] = useState('')
  const view = approvalView(approval, now)
  const noteErr = approvalNoteError(note)
  const decide = useMutation({
    mutationFn: (decision: 'approve' | 'reject') =>
      api<Approval>(`/v1/approvals/${encodeURIComponent(approval.id)}`, { method: 'POST', body: { decision, ...(note.trim() ? { note } : {}) } }),
    onSuccess: (decided) => {
      queryClient.setQueryData(['approval', decided.id], decided)
      void queryClient.invalidateQueries({ queryKey: ['approvals', 'pending'] })
      void queryClient.invalidateQueries({ queryKey: ['incident', incidentId] })
    },
    onError: (err) => {
      // Someone else decided it (or it timed out) meanwhile: show where it stands now.
      if (err instanceof ApiError && err.code === 'approval_decided') void queryClient.invalidateQueries({ queryKey: ['approvals', 'pending'] })
    },
  })
  const decidable = canDecide(approval, now, mayApprove)

  return (
    <EuiPanel hasBorder paddingSize="m" data-test-subj={`approval-${approval.id}`}>
      <EuiFlexGroup gutterSize="s" alignItems="center" wrap responsive={false}>
        <EuiFlexItem grow={false}>
          <EuiTitle size="xxs">
            <h4>
              Step {approval.step + 1} of playbook {approval.playbook}: <code>{approval.action}</code>
            </h4>
          </EuiTitle>
        </EuiFlexItem>
        <EuiFlexItem grow={false}>
          <EuiBadge color={view.color}>{view.label}</EuiBadge>
        </EuiFlexItem>
      </EuiFlexGroup>
      <EuiSpacer size="xs" />
      <EuiText size="xs" color="subdued">
        Asked <Time iso={approval.requested_at} />
        {view.expiresInMs !== null ? <> · expires in {formatDuration(view.expiresInMs)}</> : <> · expired <Time iso={approval.expires_at} /></>} · if nobody answers:{' '}
        <strong>{approval.on_timeout}</strong> · alert{' '}
        {mayReadAlerts ? <AppLink to={`/alerts/${approval.alert_id}`}>{approval.alert_id}</AppLink> : approval.alert_id}
      </EuiText>
      {decidable ? (
        <>
          <EuiSpacer size="s" />
          <EuiFlexGroup gutterSize="s" alignItems="flexStart" wrap responsive={false}>
            <EuiFlexItem grow={true} style={{ minWidth: 240 }}>
              <EuiFormRow isInvalid={noteErr !== null} error={noteErr ?? undefined} fullWidth display="rowCompressed">
                <EuiFieldText
                  compressed
                  fullWidth
                  placeholder="Note (optional)"
                  aria-label={`Note for the decision on ${approval.action}`}
                  value={note}
                  isInvalid={noteErr !== null}
                  onChange={(e) => setNote(e.target.value)}
                  data-test-subj={`approvalNote-${approval.id}`}
                />
              </EuiFormRow>
            </EuiFlexItem>
            <EuiFlexItem grow={false}>
              <EuiButton
                size="s"
                color="success"
                fill
                iconType="check"
                isLoading={decide.isPending && decide.variables === 'approve'}
                isDisabled={decide.isPending || noteErr !== null}
                onClick={() => decide.mutate('approve')}
                data-test-subj={`approvalApprove-${approval.id}`}
              >
                Approve
              </EuiButton>
            </EuiFlexItem>
            <EuiFlexItem grow={false}>
              <EuiButton
                size="s"
                color="danger"
                iconType="cross"
                isLoading={decide.isPending && decide.variables === 'reject'}
                isDisabled={decide.isPending || noteErr !== null}
                onClick={() => decide.mutate('reject')}
                data-test-subj={`approvalReject-${approval.id}`}
              >
                Reject
              </EuiButton>
            </EuiFlexItem>
          </EuiFlexGroup>
        </>
      ) : null}
      {decide.error ? (
        <>
          <EuiSpacer size="s" />
          <ApiErrorCallOut error={decide.error} title="The decision was not recorded" />
        </>
      ) : null}
    </EuiPanel>
  )
}

export function ApprovalsPanel({ incident }: { incident: Incident }) {
  const auth = useAuth()
  const now = useNow(1000)
  const listed = useQuery({
    queryKey: ['approvals', 'pending'],
    queryFn: ({ signal }) => api<Page<Approval>>('/v1/approvals', { query: { status: 'pending', limit: 1000 }, signal }),
    refetchInterval: REFRESH_MS,
  })
  const missing = missingApprovalIds(incident.timeline, listed.data?.items ?? [])
  const singles = useQueries({
    queries: (listed.data ? missing : []).map((id) => ({
      queryKey: ['approval', id],
      queryFn: ({ signal }: { signal: AbortSignal }) => api<Approval>(`/v1/approvals/${encodeURIComponent(id)}`, { signal }),
      staleTime: REFRESH_MS,
    })),
  })
  const all = [...(listed.data?.items ?? []), ...singles.flatMap((q) => (q.data ? [q.data] : []))]
  const pending = approvalsOfIncident(all, incident).filter((a) => a.status === 'pending')
  const singleError = singles.find((q) => q.error)?.error

  return (
    <div data-test-subj="incidentApprovals">
      <ApiErrorCallOut error={listed.error ?? singleError} title="The approval requests could not be loaded" />
      {pending.length === 0 ? (
        <EuiText size="s" color="subdued">
          <p>{listed.isPending ? 'Loading approval requests…' : 'No step of this incident waits for approval. A playbook step that needs a person’s approval appears here with Approve and Reject.'}</p>
        </EuiText>
      ) : (
        <EuiFlexGroup direction="column" gutterSize="s">
          {pending.map((a) => (
            <EuiFlexItem key={a.id}>
              <ApprovalCard approval={a} incidentId={incident.id} now={now} mayApprove={auth.can('approvals:write')} mayReadAlerts={auth.can('alerts:read')} />
            </EuiFlexItem>
          ))}
        </EuiFlexGroup>
      )}
    </div>
  )
}
