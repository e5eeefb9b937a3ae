/**
 * Sign-in: password, then a TOTP code (or a recovery code); a person without a second factor
 * enrols first (QR code of the otpauth URI, rendered here, never fetched from elsewhere) and
 * is shown their recovery codes once.
 */
import {
  EuiButton,
  EuiButtonEmpty,
  EuiCallOut,
  EuiCodeBlock,
  EuiFieldPassword,
  EuiFieldText,
  EuiForm,
  EuiFormRow,
  EuiImage,
  EuiLoadingSpinner,
  EuiPanel,
  EuiSpacer,
  EuiText,
  EuiTitle,
} from '@elastic/eui'
import QRCode from 'qrcode'
import { useEffect, useState, type FormEvent, type ReactNode } from 'react'
import { api, ApiError } from '../api/client.js'
import { useAuth } from './AuthContext.js'

function messageOf(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.code === 'locked_out') return 'Too many failed attempts. This account is locked for a while; try again later.'
    return err.message
  }
  return 'Vigil could not be reached. Check the connection and try again.'
}

function Frame({ title, children }: { title: string; children: ReactNode }) {
  return (
    <div style={{ display: 'flex', justifyContent: 'center', paddingTop: '10vh' }}>
      <div style={{ width: 420, maxWidth: '100%' }}>
        <EuiPanel paddingSize="l" hasShadow>
        <EuiTitle size="m">
          <h1>{title}</h1>
        </EuiTitle>
        <EuiSpacer />
          {children}
        </EuiPanel>
      </div>
    </div>
  )
}

function useSubmit(fn: () => Promise<void>) {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      await fn()
    } catch (err) {
      setError(messageOf(err))
    } finally {
      setBusy(false)
    }
  }
  return { busy, error, submit }
}

function PasswordStep({ reason }: { reason?: string }) {
  const auth = useAuth()
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const { busy, error, submit } = useSubmit(() => auth.login(email.trim(), password))
  return (
    <Frame title="Sign in to Vigil">
      {reason && <EuiCallOut size="s" title={reason} iconType="clock" />}
      <EuiForm component="form" onSubmit={submit} isInvalid={error !== null} error={error ?? undefined}>
        <EuiFormRow label="Email">
          <EuiFieldText data-test-subj="loginEmail" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} autoFocus required />
        </EuiFormRow>
        <EuiFormRow label="Password">
          <EuiFieldPassword data-test-subj="loginPassword" autoComplete="current-password" type="dual" value={password} onChange={(e) => setPassword(e.target.value)} required />
        </EuiFormRow>
        <EuiSpacer />
        <EuiButton data-test-subj="loginSubmit" type="submit" fill fullWidth isLoading={busy}>
          Continue
        </EuiButton>
      </EuiForm>
    </Frame>
  )
}

function MfaStep({ email }: { email: string }) {
  const auth = useAuth()
  const [code, setCode] = useState('')
  const [useRecovery, setUseRecovery] = useState(false)
  const { busy, error, submit } = useSubmit(() => auth.verifyMfa(useRecovery ? { recovery_code: code.trim() } : { code: code.replace(/\s/g, '') }))
  return (
    <Frame title="Second factor">
      <EuiText size="s">
        <p>
          {useRecovery ? 'Enter one of your recovery codes' : 'Enter the 6-digit code from your authenticator app'} for <strong>{email}</strong>.
        </p>
      </EuiText>
      <EuiSpacer size="m" />
      <EuiForm component="form" onSubmit={submit} isInvalid={error !== null} error={error ?? undefined}>
        <EuiFormRow label={useRecovery ? 'Recovery code' : 'Authentication code'}>
          <EuiFieldText
            data-test-subj="mfaCode"
            autoComplete="one-time-code"
            inputMode={useRecovery ? 'text' : 'numeric'}
            value={code}
            onChange={(e) => setCode(e.target.value)}
            autoFocus
            required
          />
        </EuiFormRow>
        <EuiSpacer />
        <EuiButton data-test-subj="mfaSubmit" type="submit" fill fullWidth isLoading={busy}>
          Sign in
        </EuiButton>
      </EuiForm>
      <EuiSpacer size="s" />
      <EuiButtonEmpty size="s" onClick={() => setUseRecovery(!useRecovery)}>
        {useRecovery ? 'Use the authenticator app' : 'Use a recovery code'}
      </EuiButtonEmpty>
    </Frame>
  )
}

function EnrolStep() {
  const auth = useAuth()
  const [enrolment, setEnrolment] = useState<{ uri: string; secret: string; qr: string } | null>(null)
  const [loadError, setLoadError] = useState<string | null>(null)
  const [code, setCode] = useState('')
  const { busy, error, submit } = useSubmit(() => auth.confirmEnrolment(code.replace(/\s/g, '')))

  useEffect(() => {
    let cancelled = false
    api<{ otpauth_uri: string; secret: string }>('/v1/auth/mfa/enrol', { method: 'POST' })
      .then(async (e) => {
        const qr = await QRCode.toDataURL(e.otpauth_uri, { margin: 1, width: 220 })
        if (!cancelled) setEnrolment({ uri: e.otpauth_uri, secret: e.secret, qr })
      })
      .catch((err: unknown) => !cancelled && setLoadError(messageOf(err)))
    return () => {
      cancelled = true
    }
  }, [])

  return (
    <Frame title="Set up your authenticator">
      <EuiText size="s">
        <p>Vigil needs a second factor for everyone. Scan this code with an authenticator app, then enter the code it shows.</p>
      </EuiText>
      <EuiSpacer size="m" />
      {loadError && <EuiCallOut color="danger" title={loadError} />}
      {enrolment && (
        <>
          <EuiImage src={enrolment.qr} alt="QR code of your authenticator secret" size={220} />
          <EuiSpacer size="s" />
          <EuiText size="xs">
            <p>Cannot scan? Enter this secret instead:</p>
          </EuiText>
          <EuiCodeBlock data-test-subj="enrolSecret" paddingSize="s" isCopyable>
            {enrolment.secret}
          </EuiCodeBlock>
          <EuiSpacer size="m" />
          <EuiForm component="form" onSubmit={submit} isInvalid={error !== null} error={error ?? undefined}>
            <EuiFormRow label="Code from the app">
              <EuiFieldText data-test-subj="enrolCode" autoComplete="one-time-code" inputMode="numeric" value={code} onChange={(e) => setCode(e.target.value)} required />
            </EuiFormRow>
            <EuiSpacer />
            <EuiButton data-test-subj="enrolSubmit" type="submit" fill fullWidth isLoading={busy}>
              Turn on two-factor sign-in
            </EuiButton>
          </EuiForm>
        </>
      )}
      <EuiSpacer size="s" />
      <EuiButtonEmpty size="s" onClick={() => void auth.logout()}>
        Sign out
      </EuiButtonEmpty>
    </Frame>
  )
}

function RecoveryCodesStep({ codes }: { codes: string[] }) {
  const auth = useAuth()
  return (
    <Frame title="Your recovery codes">
      <EuiCallOut color="warning" iconType="warning" title="Shown once. Store them somewhere safe.">
        <p>Each code signs you in once if you lose your authenticator.</p>
      </EuiCallOut>
      <EuiSpacer size="m" />
      <EuiCodeBlock data-test-subj="recoveryCodes" isCopyable paddingSize="m">
        {codes.join('\n')}
      </EuiCodeBlock>
      <EuiSpacer />
      <EuiButton data-test-subj="recoveryCodesDone" fill fullWidth onClick={() => auth.acknowledgeRecoveryCodes()}>
        I have saved them
      </EuiButton>
    </Frame>
  )
}

/** The screen for every state short of signed in; null when signed in. */
export function SignIn() {
  const { state } = useAuth()
  switch (state.status) {
    case 'signed-out':
      return <PasswordStep reason={state.reason} />
    case 'mfa':
      return <MfaStep email={state.email} />
    case 'enrol':
      return <EnrolStep />
    case 'recovery-codes':
      return <RecoveryCodesStep codes={state.codes} />
    case 'loading':
      return (
        <div style={{ display: 'flex', justifyContent: 'center', paddingTop: '20vh' }} data-test-subj="signInLoading">
          <EuiLoadingSpinner size="xxl" aria-label="Signing in" />
        </div>
      )
    default:
      return null
  }
}
