/**
 * An admin's switch for one rule: flipping it asks for a reason (kept in the audit chain), then
 * POST /v1/rules/:id/enabled; the list takes the server's answer. Rendered only for rules:admin.
 */
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
  EuiSwitch,
  EuiText,
  EuiTextArea,
  useGeneratedHtmlId,
} from '@elastic/eui'
import { useMutation, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { api } from '../api/client.js'
import { ApiErrorCallOut } from '../incidents/common.js'
import { reasonError, replaceRule, RULE_REASON_MAX, RULES_KEY, type RuleSummary } from './shape.js'

export function RuleToggle({ rule }: { rule: RuleSummary }) {
  const queryClient = useQueryClient()
  const titleId = useGeneratedHtmlId()
  const [asking, setAsking] = useState(false)
  const [reason, setReason] = useState('')
  const [touched, setTouched] = useState(false)
  const target = !rule.enabled
  const err = reasonError(reason)

  const save = useMutation({
    mutationFn: () => api<RuleSummary>(`/v1/rules/${encodeURIComponent(rule.id)}/enabled`, { method: 'POST', body: { enabled: target, reason } }),
    onSuccess: (updated) => {
      queryClient.setQueryData<{ items: RuleSummary[]; next: null }>(RULES_KEY, (old) => (old ? { ...old, items: replaceRule(old.items, updated) } : old))
      // Every list of rules (the Alerts page keeps one for its filter) reads again.
      void queryClient.invalidateQueries({ queryKey: ['rules'] })
      close()
    },
  })

  function close() {
    setAsking(false)
    setReason('')
    setTouched(false)
    save.reset()
  }

  const submit = () => {
    setTouched(true)
    if (!err) save.mutate()
  }

  return (
    <>
      <EuiSwitch
        compressed
        showLabel={false}
        label={`${rule.enabled ? 'Disable' : 'Enable'} ${rule.id}`}
        checked={rule.enabled}
        onChange={() => setAsking(true)}
        data-test-subj={`ruleToggle-${rule.id}`}
      />
      {asking ? (
        <EuiModal onClose={close} aria-labelledby={titleId} data-test-subj="ruleToggleModal" style={{ width: 560 }}>
          <EuiModalHeader>
            <EuiModalHeaderTitle id={titleId}>
              {target ? 'Enable' : 'Disable'} {rule.id}
            </EuiModalHeaderTitle>
          </EuiModalHeader>
          <EuiModalBody>
            <EuiText size="s">
              <p>{rule.title}</p>
            </EuiText>
            <EuiSpacer size="s" />
            {!target ? (
              <>
                <EuiCallOut size="s" color="warning" iconType="warning" title="While it is disabled this rule raises no alert, and no playbook runs for it.">
                  <p>Every engine process stops running it within about a second.{rule.open_alerts > 0 ? ` Its ${rule.open_alerts} open alert(s) stay open.` : ''}</p>
                </EuiCallOut>
                <EuiSpacer size="m" />
              </>
            ) : null}
            <EuiForm
              component="form"
              id={`${titleId}-form`}
              onSubmit={(e) => {
                e.preventDefault()
                submit()
              }}
            >
              <EuiFormRow label="Reason" helpText="Kept in the audit chain with your name." fullWidth isInvalid={touched && err !== null} error={touched ? (err ?? undefined) : undefined}>
                <EuiTextArea
                  fullWidth
                  rows={3}
                  maxLength={RULE_REASON_MAX + 1}
                  value={reason}
                  isInvalid={touched && err !== null}
                  onChange={(e) => setReason(e.target.value)}
                  data-test-subj="ruleToggleReason"
                />
              </EuiFormRow>
            </EuiForm>
            {save.error ? (
              <>
                <EuiSpacer size="m" />
                <ApiErrorCallOut error={save.error} title={`The rule was not ${target ? 'enabled' : 'disabled'}`} data-test-subj="ruleToggleError" />
              </>
            ) : null}
          </EuiModalBody>
          <EuiModalFooter>
            <EuiButtonEmpty onClick={close}>Cancel</EuiButtonEmpty>
            <EuiButton
              type="submit"
              form={`${titleId}-form`}
              fill
              color={target ? 'primary' : 'danger'}
              isLoading={save.isPending}
              isDisabled={touched && err !== null}
              data-test-subj="ruleToggleConfirm"
            >
              {target ? 'Enable rule' : 'Disable rule'}
            </EuiButton>
          </EuiModalFooter>
        </EuiModal>
      ) : null}
    </>
  )
}
