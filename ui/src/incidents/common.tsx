/** Small pieces the Incidents and Rules pages share: an API error shown in full, a ticking clock, in-app links. */
import { EuiCallOut, EuiLink } from '@elastic/eui'
import { useEffect, useState, type ReactNode } from 'react'
import { useNavigate } from 'react-router-dom'
import { ApiError } from '../api/client.js'

/** The server's message (and code) for an error, or the error's own message. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) return `${err.message} (${err.code})`
  if (err instanceof Error) return err.message
  return String(err)
}

export function ApiErrorCallOut({ error, title, 'data-test-subj': testSubj }: { error: unknown; title: string; 'data-test-subj'?: string }) {
  if (!error) return null
  return (
    <EuiCallOut title={title} color="danger" iconType="error" size="s" role="alert" data-test-subj={testSubj}>
      <p>{errorText(error)}</p>
    </EuiCallOut>
  )
}

/** The time now, updated every `everyMs`: for countdowns. */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(() => Date.now())
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs)
    return () => clearInterval(t)
  }, [everyMs])
  return now
}

/** A real link (middle-click opens a tab) that navigates inside the app on a plain click. */
export function AppLink({ to, children, 'data-test-subj': testSubj }: { to: string; children: ReactNode; 'data-test-subj'?: string }) {
  const navigate = useNavigate()
  return (
    <EuiLink
      href={to}
      data-test-subj={testSubj}
      onClick={(e: React.MouseEvent) => {
        if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return
        e.preventDefault()
        navigate(to)
      }}
    >
      {children}
    </EuiLink>
  )
}
