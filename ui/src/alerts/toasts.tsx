/** The Alerts page's toasts: what an action did, or the server's message when it failed. */
import { EuiGlobalToastList, type EuiGlobalToastListToast } from '@elastic/eui'
import { createContext, useCallback, useContext, useMemo, useRef, useState, type ReactNode } from 'react'
import { ApiError } from '../api/client.js'

interface ToastApi {
  success(title: string, text?: string): void
  error(title: string, err: unknown): void
}

const ToastCtx = createContext<ToastApi | null>(null)

/** The server's message (and code) of an API error, else the error's own message. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) return `${err.message} (${err.code})`
  return err instanceof Error ? err.message : String(err)
}

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<EuiGlobalToastListToast[]>([])
  const next = useRef(0)
  const add = useCallback((t: Omit<EuiGlobalToastListToast, 'id'>) => {
    const id = `alerts-toast-${++next.current}`
    setToasts((list) => [...list, { ...t, id }])
  }, [])
  const api = useMemo<ToastApi>(
    () => ({
      success: (title, text) => add({ title, text, color: 'success', iconType: 'check', 'data-test-subj': 'alertsToastSuccess' }),
      error: (title, err) => add({ title, text: errorText(err), color: 'danger', iconType: 'error', 'data-test-subj': 'alertsToastError' }),
    }),
    [add],
  )
  return (
    <ToastCtx.Provider value={api}>
      {children}
      <EuiGlobalToastList toasts={toasts} dismissToast={(t) => setToasts((list) => list.filter((x) => x.id !== t.id))} toastLifeTimeMs={6000} />
    </ToastCtx.Provider>
  )
}

export function useToasts(): ToastApi {
  const ctx = useContext(ToastCtx)
  if (!ctx) throw new Error('useToasts outside ToastProvider')
  return ctx
}
