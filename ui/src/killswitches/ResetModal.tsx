/** Reset a kill-switch with a reason: the first person asks, a second person (another account) completes it. */
import {
  EuiButton,
  EuiButtonEmpty,
  EuiCallOut,
  EuiForm,
  EuiFormRow,
  EuiModal,
  EuiModalBody,
  EuiModalFooter,
  EuiModalHeader,
  EuiModalHeaderTitle,
  EuiSpacer,
  EuiText,
  EuiTextArea,
  useGeneratedHtmlId,
} from '@elastic/eui'
import { useMutation } from '@tanstack/react-query'
import { useState } from 'react'
import { api } from '../api/client.js'
import { actorName, isMe, readResetAnswer, resetState, type ResetAnswer } from './resetState.js'
import { Time } from '../components/format.js'
import type { KillSwitch } from './types.js'

export function ResetModal({ sw, email, onClose, onDone }: { sw: KillSwitch; email: string | undefined; onClose: () => void; onDone: (a: ResetAnswer) => void }) {
  const [reason, setReason] = useState('')
  const [touched, setTouched] = useState(false)
  const titleId = useGeneratedHtmlId({ prefix: 'resetTitle' })
  const st = resetState(sw)
  const reasonMissing = reason.trim() === ''

  const reset = useMutation({
    mutationFn: async () => readResetAnswer(await api<unknown>(`/v1/killswitches/${encodeURIComponent(sw.id)}/reset`, { body: { reason: reason.trim() } })),
    onSuccess: onDone,
  })

  const submit = (e?: React.FormEvent) => {
    e?.preventDefault()
    setTouched(true)
    if (reasonMissing) return
    reset.mutate()
  }

  return (
    <EuiModal onClose={onClose} aria-labelledby={titleId} style={{ width: 560 }} data-test-subj="killswitchResetModal">
      <EuiModalHeader>
        <EuiModalHeaderTitle id={titleId}>
          Reset {sw.scope.type}
          {sw.scope.type !== 'global' && ` ${sw.scope.id}`}
        </EuiModalHeaderTitle>
      </EuiModalHeader>
      <EuiModalBody>
        <EuiText size="s">
          {st.kind === 'waiting' && isMe(st.by, email) ? (
            <p>
              You asked for this reset ({st.reason}) <Time iso={st.at} />. It waits for a second person: another account must confirm it. Asking again as yourself is refused.
            </p>
          ) : st.kind === 'waiting' ? (
            <p>
              <strong>{actorName(st.by)}</strong> asked for this reset ({st.reason}). Confirming it as a second person lifts the switch: the trading API accepts new orders on this scope
              again.
            </p>
          ) : (
            <p>A reset needs two people. Yours is recorded as the request; the switch stays tripped until another person confirms it.</p>
          )}
        </EuiText>
        <EuiSpacer size="m" />
        <EuiForm component="form" id="killswitchResetForm" onSubmit={submit}>
          <EuiFormRow label="Reason" isInvalid={touched && reasonMissing} error={touched && reasonMissing ? 'A reason is required' : undefined}>
            <EuiTextArea data-test-subj="killswitchResetReason" value={reason} rows={3} isInvalid={touched && reasonMissing} onChange={(e) => setReason(e.target.value)} />
          </EuiFormRow>
        </EuiForm>
        {reset.error && (
          <>
            <EuiSpacer size="m" />
            <EuiCallOut title="Not reset" color="danger" iconType="error" data-test-subj="killswitchResetError">
              {reset.error.message}
            </EuiCallOut>
          </>
        )}
      </EuiModalBody>
      <EuiModalFooter>
        <EuiButtonEmpty onClick={onClose}>Cancel</EuiButtonEmpty>
        <EuiButton type="submit" form="killswitchResetForm" fill isLoading={reset.isPending} data-test-subj="killswitchResetConfirm">
          {st.kind === 'waiting' ? 'Confirm reset' : 'Request reset'}
        </EuiButton>
      </EuiModalFooter>
    </EuiModal>
  )
}
