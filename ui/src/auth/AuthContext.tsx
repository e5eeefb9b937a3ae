/**
 * Who is signed in, and what they may do. The dashboard shows a person only the actions
 * their role grants (issue 7: "a viewer never sees buttons they cannot use"); the server
 * checks every call anyway.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react'
import { api, onTokenChange, refresh, setSession, type Session } from '../api/client.js'

export interface Me {
  kind: 'person' | 'token'
  email?: string
  role: string
  permissions: string[]
  mfa_enrolled?: boolean
  stage?: 'full' | 'enrol'
  recovery_codes_left?: number
}

export type AuthState =
  | { status: 'loading' }
  | { status: 'signed-out'; reason?: string }
  | { status: 'mfa'; mfaToken: string; email: string }
  | { status: 'enrol'; me: Me }
  | { status: 'recovery-codes'; me: Me; codes: string[] }
  | { status: 'signed-in'; me: Me }

interface AuthApi {
  state: AuthState
  login(email: string, password: string): Promise<void>
  verifyMfa(input: { code?: string; recovery_code?: string }): Promise<void>
  confirmEnrolment(code: string): Promise<void>
  acknowledgeRecoveryCodes(): void
  logout(): Promise<void>
  /** True when the signed-in person's role grants `permission`. */
  can(permission: string): boolean
}

const AuthCtx = createContext<AuthApi | null>(null)

export function AuthProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<AuthState>({ status: 'loading' })

  const loadMe = useCallback(async (): Promise<void> => {
    const me = await api<Me>('/v1/auth/me')
    setState(me.stage === 'enrol' ? { status: 'enrol', me } : { status: 'signed-in', me })
  }, [])

  // On load: a live refresh cookie signs the person straight back in.
  useEffect(() => {
    let cancelled = false
    void (async () => {
      const ok = await refresh().catch(() => false)
      if (cancelled) return
      if (!ok) return setState({ status: 'signed-out' })
      await loadMe().catch(() => setState({ status: 'signed-out' }))
    })()
    return () => {
      cancelled = true
    }
  }, [loadMe])

  // A refresh that fails (session ended elsewhere, timed out) signs the dashboard out.
  useEffect(
    () =>
      onTokenChange((token) => {
        if (token === null) setState((s) => (s.status === 'signed-in' || s.status === 'enrol' ? { status: 'signed-out', reason: 'Your session ended. Sign in again.' } : s))
      }),
    [],
  )

  const value = useMemo<AuthApi>(() => {
    const me = state.status === 'signed-in' ? state.me : null
    return {
      state,
      async login(email, password) {
        const res = await api<{ next: 'mfa' | 'enrol'; mfa_token?: string } & Partial<Session>>('/v1/auth/login', { body: { email, password } })
        if (res.next === 'mfa' && res.mfa_token) return setState({ status: 'mfa', mfaToken: res.mfa_token, email })
        setSession(res as Session)
        await loadMe()
      },
      async verifyMfa(input) {
        if (state.status !== 'mfa') return
        const session = await api<Session>('/v1/auth/mfa', { body: { mfa_token: state.mfaToken, ...input } })
        setSession(session)
        await loadMe()
      },
      async confirmEnrolment(code) {
        if (state.status !== 'enrol') return
        const session = await api<Session>('/v1/auth/mfa/enrol/confirm', { body: { code } })
        setSession(session)
        const fresh = await api<Me>('/v1/auth/me')
        setState({ status: 'recovery-codes', me: fresh, codes: session.recovery_codes ?? [] })
      },
      acknowledgeRecoveryCodes() {
        if (state.status === 'recovery-codes') setState({ status: 'signed-in', me: state.me })
      },
      async logout() {
        await api('/v1/auth/logout', { method: 'POST' }).catch(() => undefined)
        setSession(null)
        setState({ status: 'signed-out' })
      },
      can: (permission) => me?.permissions.includes(permission) ?? false,
    }
  }, [state, loadMe])

  return <AuthCtx.Provider value={value}>{children}</AuthCtx.Provider>
}

export function useAuth(): AuthApi {
  const ctx = useContext(AuthCtx)
  if (!ctx) throw new Error('useAuth outside AuthProvider')
  return ctx
}

/** Renders its children only when the signed-in person holds `permission`. */
export function Can({ permission, children }: { permission: string; children: ReactNode }) {
  return useAuth().can(permission) ? <>{children}</> : null
}
