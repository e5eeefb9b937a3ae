/** Adding a note to an incident's timeline (incidents:write). */
import { EuiButton, EuiFlexGroup, EuiFlexItem, EuiForm, EuiFormRow, EuiSpacer, EuiTextArea } from '@elastic/eui'
import { useMutation, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { api } from '../api/client.js'
import { ApiErrorCallOut } from './common.js'
import { INCIDENT_TEXT_MAX, noteError } from './status.js'

export function NoteForm({ incidentId }: { incidentId: string }) {
  const queryClient = useQueryClient()
  const [note, setNote] = useState('')
  const [touched, setTouched] = useState(false)
  const err = noteError(note)
  const add = useMutation({
    mutationFn: () => api(`/v1/incidents/${incidentId}/notes`, { method: 'POST', body: { note } }),
    onSuccess: () => {
      setNote('')
      setTouched(false)
      void queryClient.invalidateQueries({ queryKey: ['incident', incidentId] })
    },
  })
  return (
    <EuiForm
      component="form"
      onSubmit={(e) => {
        e.preventDefault()
        setTouched(true)
        if (!err) add.mutate()
      }}
    >
      <EuiFormRow
        label="Add a note"
        fullWidth
        isInvalid={touched && err !== null}
        error={touched ? (err ?? undefined) : undefined}
        helpText={`What you found or did. Notes are kept on the timeline with your name (at most ${INCIDENT_TEXT_MAX} characters).`}
      >
        <EuiTextArea
          fullWidth
          rows={3}
          value={note}
          isInvalid={touched && err !== null}
          onChange={(e) => setNote(e.target.value)}
          onKeyDown={(e) => {
            // Ctrl/Cmd+Enter sends, as in most comment boxes.
            if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
              e.preventDefault()
              setTouched(true)
              if (!err) add.mutate()
            }
          }}
          data-test-subj="incidentNote"
        />
      </EuiFormRow>
      {add.error ? (
        <>
          <ApiErrorCallOut error={add.error} title="The note was not added" data-test-subj="incidentNoteError" />
          <EuiSpacer size="s" />
        </>
      ) : null}
      <EuiFlexGroup justifyContent="flexEnd" responsive={false}>
        <EuiFlexItem grow={false}>
          <EuiButton type="submit" size="s" iconType="editorComment" isLoading={add.isPending} isDisabled={touched && err !== null} data-test-subj="incidentNoteSubmit">
            Add note
          </EuiButton>
        </EuiFlexItem>
      </EuiFlexGroup>
    </EuiForm>
  )
}
