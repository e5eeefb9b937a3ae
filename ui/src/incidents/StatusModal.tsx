/** Changing an incident's status: close (or resolve) with a resolution, contain, or reopen, with a note. */
import {
  EuiButton,
  EuiButtonEmpty,
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
import { useMutation, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { api } from '../api/client.js'
import { ApiErrorCallOut } from './common.js'
import { allowedMoves, INCIDENT_TEXT_MAX, needsResolution, statusBody, statusChangeErrors } from './status.js'
import type { Incident, IncidentStatus } from './types.js'

const VERB: Record<IncidentStatus, string> = { open: 'Reopen', contained: 'Mark contained', resolved: 'Resolve', closed: 'Close' }

export function StatusModal({ incident, initial, onClose }: { incident: Incident; initial: IncidentStatus; onClose: () => void }) {
  const queryClient = useQueryClient()
  const titleId = useGeneratedHtmlId()
  const moves = allowedMoves(incident.status)
  const [status, setStatus] = useState<IncidentStatus>(moves.includes(initial) ? initial : (moves[0] ?? initial))
  const [note, setNote] = useState('')
  const [resolution, setResolution] = useState('')
  const [touched, setTouched] = useState(false)
  const change = { status, note, resolution }
  const errors = statusChangeErrors(incident.status, change)
  const invalid = Object.keys(errors).length > 0

  const save = useMutation({
    mutationFn: () => api<Incident>(`/v1/incidents/${incident.id}/status`, { method: 'POST', body: statusBody(change) }),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ['incident', incident.id] })
      void queryClient.invalidateQueries({ queryKey: ['incidents'] })
      onClose()
    },
  })

  return (
    <EuiModal onClose={onClose} aria-labelledby={titleId} data-test-subj="incidentStatusModal" style={{ width: 560 }}>
      <EuiModalHeader>
        <EuiModalHeaderTitle id={titleId}>{VERB[status]} incident</EuiModalHeaderTitle>
      </EuiModalHeader>
      <EuiModalBody>
        <EuiForm
          component="form"
          id={`${titleId}-form`}
          onSubmit={(e) => {
            e.preventDefault()
            setTouched(true)
            if (!invalid) save.mutate()
          }}
        >
          <EuiFormRow label="New status" fullWidth isInvalid={touched && !!errors.status} error={errors.status}>
            <EuiSelect
              fullWidth
              value={status}
              options={moves.map((s) => ({ value: s, text: s }))}
              onChange={(e) => setStatus(e.target.value as IncidentStatus)}
              data-test-subj="incidentStatusSelect"
            />
          </EuiFormRow>
          {needsResolution(status) ? (
            <EuiFormRow
              label="Resolution"
              helpText="What happened and what was done: kept on the timeline and in the audit chain."
              fullWidth
              isInvalid={touched && !!errors.resolution}
              error={errors.resolution}
            >
              <EuiTextArea
                fullWidth
                rows={4}
                maxLength={INCIDENT_TEXT_MAX + 1}
                value={resolution}
                isInvalid={touched && !!errors.resolution}
                onChange={(e) => setResolution(e.target.value)}
                data-test-subj="incidentResolution"
              />
            </EuiFormRow>
          ) : null}
          <EuiFormRow label="Note (optional)" fullWidth isInvalid={!!errors.note} error={errors.note}>
            <EuiTextArea fullWidth rows={2} value={note} isInvalid={!!errors.note} onChange={(e) => setNote(e.target.value)} data-test-subj="incidentStatusNote" />
          </EuiFormRow>
        </EuiForm>
        {save.error ? (
          <>
            <EuiSpacer size="m" />
            <ApiErrorCallOut error={save.error} title="The status was not changed" data-test-subj="incidentStatusError" />
          </>
        ) : null}
      </EuiModalBody>
      <EuiModalFooter>
        <EuiButtonEmpty onClick={onClose}>Cancel</EuiButtonEmpty>
        <EuiButton type="submit" form={`${titleId}-form`} fill isLoading={save.isPending} isDisabled={touched && invalid} data-test-subj="incidentStatusSubmit">
          {VERB[status]}
        </EuiButton>
      </EuiModalFooter>
    </EuiModal>
  )
}
