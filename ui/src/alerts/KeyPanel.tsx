/**
 * The alert's API key: its state now (`GET /v1/keys/:id`), and — for keys:write — revoking it
 * (a confirm modal with a required reason, prefilled "alert <id>: <rule>") or restoring it.
 */
import {
  EuiBadge,
  EuiButton,
  EuiButtonEmpty,
  EuiCallOut,
  EuiFieldText,
  EuiFlexGroup,
  EuiFlexItem,
  EuiForm,
  EuiFormRow,
  EuiLoadingSpinner,
  EuiModal,
  EuiModalBody,
  EuiModalFooter,
  EuiModalHeader,
  EuiModalHeaderTitle,
  EuiText,
} from '@elastic/eui'
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { api } from '../api/client.js'
import { useAuth } from '../auth/AuthContext.js'
import { Time } from '../components/format.js'
import { revokeReasonFor } from './action-rules.js'
import { errorText, useToasts } from './toasts.js'
import type { Alert, KeyState } from './types.js'


function ReasonModal({
  title,
  confirm,
  initial,
  danger,
  testSubj,
  onCancel,
  onConfirm,
  busy,
}: {
  title: string
  confirm: string
  initial: string
  danger: boolean
  testSubj: 'revoke' | 'restore'
  onCancel: () => void
  onConfirm: (reason: string) => void
  busy: boolean
}) {
  const [reason, setReason] = useState(initial)
  const empty = reason.trim() === ''
  const formId = `${testSubj}KeyForm`
  return (
    <EuiModal onClose={onCancel} aria-labelledby={`${formId}Title`} data-test-subj={`${testSubj}Modal`} initialFocus={`[data-test-subj=${testSubj}Reason]`}>
      <EuiModalHeader>
        <EuiModalHeaderTitle id={`${formId}Title`}>{title}</EuiModalHeaderTitle>
      </EuiModalHeader>
      <EuiModalBody>
        <EuiForm
          component="form"
          id={formId}
          onSubmit={(e: React.FormEvent) => {
            e.preventDefault()
            if (!empty) onConfirm(reason.trim())
          }}
        >
          <EuiFormRow label="Reason" helpText="Recorded in the audit trail with your name." isInvalid={empty} error={empty ? 'A reason is required.' : undefined} fullWidth>
            <EuiFieldText fullWidth value={reason} isInvalid={empty} onChange={(e) => setReason(e.target.value)} data-test-subj={`${testSubj}Reason`} />
          </EuiFormRow>
        </EuiForm>
      </EuiModalBody>
      <EuiModalFooter>
        <EuiButtonEmpty onClick={onCancel} data-test-subj={`${testSubj}Cancel`}>
          Cancel
        </EuiButtonEmpty>
        <EuiButton type="submit" form={formId} fill color={danger ? 'danger' : 'primary'} isDisabled={empty} isLoading={busy} data-test-subj={`${testSubj}Confirm`}>
          {confirm}
        </EuiButton>
      </EuiModalFooter>
    </EuiModal>
  )
}

export function KeyPanel({ alert }: { alert: Alert & { api_key_id: string } }) {
  const auth = useAuth()
  const qc = useQueryClient()
  const toasts = useToasts()
  const keyId = alert.api_key_id
  const [modal, setModal] = useState<'revoke' | 'restore' | null>(null)
  const state = useQuery({
    queryKey: ['keys', 'state', keyId],
    queryFn: ({ signal }) => api<KeyState>(`/v1/keys/${encodeURIComponent(keyId)}`, { signal }),
    enabled: auth.can('keys:read'),
    // A playbook may revoke the key while the flyout is open.
    refetchInterval: 10_000,
  })
  const change = useMutation({
    mutationFn: (v: { action: 'revoke' | 'restore'; reason: string }) => api<KeyState>(`/v1/keys/${encodeURIComponent(keyId)}/${v.action}`, { body: { reason: v.reason } }),
    onSuccess: (next, v) => {
      qc.setQueryData(['keys', 'state', keyId], next)
      void qc.invalidateQueries({ queryKey: ['keys'] })
      void qc.invalidateQueries({ queryKey: ['alerts', 'detail', alert.id] })
      void qc.invalidateQueries({ queryKey: ['alerts', 'list'] })
      toasts.success(v.action === 'revoke' ? `Key ${keyId} revoked` : `Key ${keyId} restored`, `Reason: ${v.reason}`)
      setModal(null)
    },
    onError: (err, v) => toasts.error(v.action === 'revoke' ? 'The key was not revoked' : 'The key was not restored', err),
  })

  if (!auth.can('keys:read')) return null
  if (state.isError) {
    return (
      <EuiCallOut announceOnMount size="s" color="danger" iconType="error" title={`The state of key ${keyId} could not be read`}>
        {errorText(state.error)}
      </EuiCallOut>
    )
  }
  const key = state.data
  const revoked = key?.status === 'revoked'
  return (
    <div data-test-subj="alertKeyPanel" style={{ minHeight: 40 }}>
      <EuiFlexGroup gutterSize="s" alignItems="center" wrap responsive={false}>
        <EuiFlexItem grow={false}>
          <EuiText size="s">
            <strong>Key {keyId}</strong>
          </EuiText>
        </EuiFlexItem>
        <EuiFlexItem grow={false}>
          {key ? (
            <EuiBadge color={revoked ? 'danger' : 'success'} data-test-subj={`keyStatus-${key.status}`}>
              {key.status}
            </EuiBadge>
          ) : (
            <EuiLoadingSpinner size="m" />
          )}
        </EuiFlexItem>
        {revoked && key && (
          <EuiFlexItem grow={true}>
            <EuiText size="xs" color="subdued">
              revoked <Time iso={key.revoked_at} />
              {key.reason ? ` — ${key.reason}` : ''}
            </EuiText>
          </EuiFlexItem>
        )}
        {auth.can('keys:write') && key && (
          <EuiFlexItem grow={false}>
            {revoked ? (
              <EuiButton size="s" iconType="refresh" onClick={() => setModal('restore')} data-test-subj="alertRestoreKey">
                Restore key
              </EuiButton>
            ) : (
              <EuiButton size="s" color="danger" iconType="lock" onClick={() => setModal('revoke')} data-test-subj="alertRevokeKey">
                Revoke key
              </EuiButton>
            )}
          </EuiFlexItem>
        )}
      </EuiFlexGroup>
      {modal === 'revoke' && (
        <ReasonModal
          title={`Revoke key ${keyId}?`}
          confirm="Revoke"
          initial={revokeReasonFor(alert)}
          danger
          testSubj="revoke"
          busy={change.isPending}
          onCancel={() => setModal(null)}
          onConfirm={(reason) => change.mutate({ action: 'revoke', reason })}
        />
      )}
      {modal === 'restore' && (
        <ReasonModal
          title={`Restore key ${keyId}?`}
          confirm="Restore"
          initial=""
          danger={false}
          testSubj="restore"
          busy={change.isPending}
          onCancel={() => setModal(null)}
          onConfirm={(reason) => change.mutate({ action: 'restore', reason })}
        />
      )}
    </div>
  )
}
