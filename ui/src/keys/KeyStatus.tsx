/**
 * A key's state (active or revoked, when, why, by which incident) and — for people holding
 * keys:write — revoking or restoring it with a required reason in a confirm modal.
 */
import {
  EuiBadge,
  EuiButton,
  EuiButtonEmpty,
  EuiCallOut,
  EuiDescriptionList,
  EuiFlexGroup,
  EuiFlexItem,
  EuiFormRow,
  EuiLink,
  EuiModal,
  EuiModalBody,
  EuiModalFooter,
  EuiModalHeader,
  EuiModalHeaderTitle,
  EuiSkeletonText,
  EuiSpacer,
  EuiText,
  EuiTextArea,
  useGeneratedHtmlId,
} from '@elastic/eui'
import { useState } from 'react'
import { useNavigate } from 'react-router-dom'
import { ApiError } from '../api/client.js'
import { Can } from '../auth/AuthContext.js'
import { Time } from '../components/format.js'
import { MAX_REASON, reasonError, type KeyState } from './model.js'
import { useKeyChange, useKeyState, type KeyChange } from './queries.js'

const WORDS: Record<KeyChange, { title: string; button: string; done: string; explain: string }> = {
  revoke: {
    title: 'Revoke this key',
    button: 'Revoke key',
    done: 'Key revoked. Guards refuse it from their next control update.',
    explain: 'Guards refuse every request signed with this key until it is restored. The reason is kept in the audit log and shown here.',
  },
  restore: {
    title: 'Restore this key',
    button: 'Restore key',
    done: 'Key restored. Guards accept it again from their next control update.',
    explain: 'Guards accept requests signed with this key again. The reason is kept in the audit log.',
  },
}

export function ChangeModal({ apiKeyId, change, onClose, onDone }: { apiKeyId: string; change: KeyChange; onClose: () => void; onDone: (result: { ok: boolean; message: string }) => void }) {
  const [reason, setReason] = useState('')
  const [touched, setTouched] = useState(false)
  const mutation = useKeyChange(apiKeyId)
  const titleId = useGeneratedHtmlId({ prefix: 'keyChange' })
  const words = WORDS[change]
  const invalid = reasonError(reason)
  const serverError = mutation.error && !(mutation.error instanceof ApiError && mutation.error.status === 409) ? mutation.error : null

  const submit = () => {
    setTouched(true)
    if (invalid || mutation.isPending) return
    mutation.mutate(
      { change, reason },
      {
        onSuccess: () => onDone({ ok: true, message: words.done }),
        onError: (err) => {
          // 409: the key already is what was asked (someone else got there first); say so, as the server does.
          if (err instanceof ApiError && err.status === 409) onDone({ ok: false, message: err.message })
        },
      },
    )
  }

  return (
    <EuiModal onClose={onClose} aria-labelledby={titleId} data-test-subj="keyChangeModal" initialFocus="[data-test-subj=keyReason]">
      <EuiModalHeader>
        <EuiModalHeaderTitle id={titleId}>{words.title}</EuiModalHeaderTitle>
      </EuiModalHeader>
      <EuiModalBody>
        <EuiText size="s">
          <p>
            <code>{apiKeyId}</code>: {words.explain}
          </p>
        </EuiText>
        <EuiSpacer size="m" />
        {serverError && (
          <>
            <EuiCallOut color="danger" iconType="error" title="The change was not made" size="s" role="alert" data-test-subj="keyChangeError">
              {serverError.message}
            </EuiCallOut>
            <EuiSpacer size="m" />
          </>
        )}
        <EuiFormRow label="Reason" fullWidth isInvalid={touched && invalid !== null} error={touched ? invalid : undefined} helpText={`Required, at most ${MAX_REASON} characters.`}>
          <EuiTextArea
            data-test-subj="keyReason"
            fullWidth
            rows={3}
            value={reason}
            isInvalid={touched && invalid !== null}
            onChange={(e) => setReason(e.target.value)}
            onBlur={() => setTouched(true)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && (e.metaKey || e.ctrlKey)) submit()
            }}
          />
        </EuiFormRow>
      </EuiModalBody>
      <EuiModalFooter>
        <EuiButtonEmpty onClick={onClose} data-test-subj="keyCancel">
          Cancel
        </EuiButtonEmpty>
        <EuiButton
          data-test-subj="keyConfirm"
          fill
          color={change === 'revoke' ? 'danger' : 'primary'}
          isLoading={mutation.isPending}
          isDisabled={invalid !== null}
          onClick={submit}
        >
          {words.button}
        </EuiButton>
      </EuiModalFooter>
    </EuiModal>
  )
}

function StatusBadgeFor({ state }: { state: KeyState }) {
  return (
    <EuiBadge data-test-subj={`keyStatus-${state.status}`} color={state.status === 'revoked' ? 'danger' : 'success'} iconType={state.status === 'revoked' ? 'lock' : 'lockOpen'}>
      {state.status}
    </EuiBadge>
  )
}

export function KeyStatus({ apiKeyId, accounts, scopes }: { apiKeyId: string; accounts: readonly string[] | undefined; scopes: readonly string[] | undefined }) {
  const navigate = useNavigate()
  const state = useKeyState(apiKeyId)
  const [change, setChange] = useState<KeyChange | null>(null)
  const [result, setResult] = useState<{ ok: boolean; message: string } | null>(null)

  const s = state.data
  const items = [
    { title: 'Status', description: s ? <StatusBadgeFor state={s} /> : <EuiSkeletonText lines={1} /> },
    ...(s?.status === 'revoked'
      ? [
          { title: 'Revoked at', description: <Time iso={s.revoked_at} /> },
          { title: 'Reason', description: s.reason ?? '—' },
          {
            title: 'Incident',
            description: s.incident_id ? (
              <EuiLink
                data-test-subj="keyIncident"
                href={`/incidents/${encodeURIComponent(s.incident_id)}`}
                onClick={(e: React.MouseEvent) => {
                  e.preventDefault()
                  navigate(`/incidents/${encodeURIComponent(s.incident_id as string)}`)
                }}
              >
                {s.incident_id}
              </EuiLink>
            ) : (
              'none (revoked by hand)'
            ),
          },
        ]
      : []),
    { title: 'Accounts', description: accounts === undefined ? <EuiSkeletonText lines={1} /> : accounts.length ? accounts.join(', ') : 'none seen in the key’s events' },
    {
      title: 'Scopes',
      description:
        scopes === undefined ? (
          <EuiSkeletonText lines={1} />
        ) : scopes.length ? (
          <span data-test-subj="keyScopes">
            {scopes.map((sc) => (
              <EuiBadge key={sc} color="hollow">
                {sc}
              </EuiBadge>
            ))}
          </span>
        ) : (
          'none seen: scopes show once an event in this period carries them'
        ),
    },
  ]

  return (
    <>
      {state.error && (
        <>
          <EuiCallOut color="danger" iconType="error" title="Could not read the key’s status" data-test-subj="keyStatusError">
            {state.error.message}
          </EuiCallOut>
          <EuiSpacer size="m" />
        </>
      )}
      {result && (
        <>
          <EuiCallOut
            color={result.ok ? 'success' : 'warning'}
            iconType={result.ok ? 'check' : 'warning'}
            title={result.message}
            size="s"
            role="status"
            data-test-subj={result.ok ? 'keyChangeDone' : 'keyChangeConflict'}
            onDismiss={() => setResult(null)}
          />
          <EuiSpacer size="m" />
        </>
      )}
      <EuiFlexGroup alignItems="flexStart" justifyContent="spaceBetween" wrap>
        <EuiFlexItem>
          <EuiDescriptionList type="responsiveColumn" compressed listItems={items} columnWidths={[1, 5]} data-test-subj="keyStatus" />
        </EuiFlexItem>
        <Can permission="keys:write">
          <EuiFlexItem grow={false}>
            {s?.status === 'revoked' ? (
              <EuiButton data-test-subj="keyRestore" iconType="lockOpen" onClick={() => (setResult(null), setChange('restore'))}>
                Restore…
              </EuiButton>
            ) : (
              <EuiButton data-test-subj="keyRevoke" iconType="lock" color="danger" isDisabled={!s} onClick={() => (setResult(null), setChange('revoke'))}>
                Revoke…
              </EuiButton>
            )}
          </EuiFlexItem>
        </Can>
      </EuiFlexGroup>
      {change && (
        <ChangeModal
          apiKeyId={apiKeyId}
          change={change}
          onClose={() => setChange(null)}
          onDone={(r) => {
            setChange(null)
            setResult(r)
          }}
        />
      )}
    </>
  )
}
