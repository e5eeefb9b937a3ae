/** Trip a kill-switch: scope type and id, a required reason, and what will happen, before confirming. */
import {
  EuiButton,
  EuiButtonEmpty,
  EuiCallOut,
  EuiFieldText,
  EuiForm,
  EuiFormRow,
  EuiModal,
  EuiModalBody,
  EuiModalFooter,
  EuiModalHeader,
  EuiModalHeaderTitle,
  EuiSelect,
  EuiSpacer,
  EuiTextArea,
  useGeneratedHtmlId,
} from '@elastic/eui'
import { useMutation } from '@tanstack/react-query'
import { useState } from 'react'
import { api } from '../api/client.js'
import { tripConsequence } from './resetState.js'
import { SCOPE_TYPES, type KillSwitch, type ScopeType } from './types.js'

const SCOPE_HELP: Record<ScopeType, string> = {
  global: 'Everything: every order through every trading API connected to Vigil',
  source: 'One trading API (its source id, as in vigil sources list)',
  account: 'One trading account id',
  api_key: 'One API key id',
  symbol: 'One instrument symbol',
  venue: 'One venue (e.g. its MIC)',
}

export function TripModal({ onClose, onTripped }: { onClose: () => void; onTripped: (sw: KillSwitch) => void }) {
  const [type, setType] = useState<ScopeType>('account')
  const [scopeId, setScopeId] = useState('')
  const [reason, setReason] = useState('')
  const [touched, setTouched] = useState(false)
  const titleId = useGeneratedHtmlId({ prefix: 'tripTitle' })
  const id = type === 'global' ? '*' : scopeId.trim()
  const idMissing = type !== 'global' && id === ''
  const reasonMissing = reason.trim() === ''

  const trip = useMutation({
    mutationFn: () => api<KillSwitch>('/v1/killswitches', { body: { scope: { type, id }, reason: reason.trim() } }),
    onSuccess: onTripped,
  })

  const submit = (e?: React.FormEvent) => {
    e?.preventDefault()
    setTouched(true)
    if (idMissing || reasonMissing) return
    trip.mutate()
  }

  return (
    <EuiModal onClose={onClose} aria-labelledby={titleId} style={{ width: 560 }} data-test-subj="killswitchTripModal">
      <EuiModalHeader>
        <EuiModalHeaderTitle id={titleId}>Trip a kill-switch</EuiModalHeaderTitle>
      </EuiModalHeader>
      <EuiModalBody>
        <EuiForm component="form" id="killswitchTripForm" onSubmit={submit}>
          <EuiFormRow label="Scope type" helpText={SCOPE_HELP[type]}>
            <EuiSelect
              data-test-subj="killswitchScopeType"
              options={SCOPE_TYPES.map((t) => ({ value: t, text: t }))}
              value={type}
              onChange={(e) => setType(e.target.value as ScopeType)}
            />
          </EuiFormRow>
          <EuiFormRow label="Scope id" isInvalid={touched && idMissing} error={touched && idMissing ? 'Name the scope to trip' : undefined} helpText={type === 'global' ? 'The global scope is always *' : undefined}>
            <EuiFieldText
              data-test-subj="killswitchScopeId"
              value={type === 'global' ? '*' : scopeId}
              disabled={type === 'global'}
              isInvalid={touched && idMissing}
              onChange={(e) => setScopeId(e.target.value)}
            />
          </EuiFormRow>
          <EuiFormRow label="Reason" isInvalid={touched && reasonMissing} error={touched && reasonMissing ? 'A reason is required; it goes into the audit log and the kill-switch report' : undefined}>
            <EuiTextArea data-test-subj="killswitchReason" value={reason} rows={3} isInvalid={touched && reasonMissing} onChange={(e) => setReason(e.target.value)} />
          </EuiFormRow>
        </EuiForm>
        <EuiSpacer size="m" />
        <EuiCallOut title="What will happen" color="danger" iconType="warning" size="s" data-test-subj="killswitchConsequence">
          {tripConsequence(type, id)}
        </EuiCallOut>
        {trip.error && (
          <>
            <EuiSpacer size="m" />
            <EuiCallOut title="The kill-switch was not tripped" color="danger" iconType="error" data-test-subj="killswitchTripError">
              {trip.error.message}
            </EuiCallOut>
          </>
        )}
      </EuiModalBody>
      <EuiModalFooter>
        <EuiButtonEmpty onClick={onClose}>Cancel</EuiButtonEmpty>
        <EuiButton type="submit" form="killswitchTripForm" color="danger" fill iconType="stopFill" isLoading={trip.isPending} data-test-subj="killswitchConfirm">
          Trip {type === 'global' ? 'global' : `${type} ${id || '…'}`}
        </EuiButton>
      </EuiModalFooter>
    </EuiModal>
  )
}
