/**
 * The dashboard's one way to call the operator API (CONTRACT §4), same origin.
 *
 * The access token lives in memory only (never in storage a script could read later); the
 * refresh token is the server's httpOnly cookie. A 401 triggers one refresh and one retry.
 * Refreshes are serialised across tabs with the Web Locks API: a refresh token used twice
 * ends its whole family (server/src/sessions.ts), so two tabs must never refresh at once.
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

export interface Session {
  access_token: string
  expires_in: number
  next?: string
  recovery_codes?: string[]
}

type Listener = (token: string | null) => void

let accessToken: string | null = null
let refreshTimer: ReturnType<typeof setTimeout> | undefined
let refreshing: Promise<boolean> | null = null
const listeners = new Set<Listener>()

/** Refresh this long before the access token expires. */
const REFRESH_EARLY_SEC = 60

export function onTokenChange(listener: Listener): () => void {
  listeners.add(listener)
  return () => listeners.delete(listener)
}

export function hasToken(): boolean {
  return accessToken !== null
}

/** Keeps a session's access token and schedules its silent refresh. */
export function setSession(session: Session | null): void {
  accessToken = session?.access_token ?? null
  clearTimeout(refreshTimer)
  if (session) {
    const inMs = Math.max(5, session.expires_in - REFRESH_EARLY_SEC) * 1000
    refreshTimer = setTimeout(() => void refresh(), inMs)
  }
  for (const l of listeners) l(accessToken)
}

async function withRefreshLock<T>(fn: () => Promise<T>): Promise<T> {
  const locks = (navigator as Navigator & { locks?: LockManager }).locks
  return locks ? (locks.request('vigil-refresh', fn) as Promise<T>) : fn()
}

/** Trades the refresh cookie for a new access token; false when there is no live session. */
export function refresh(): Promise<boolean> {
  refreshing ??= withRefreshLock(async () => {
    const res = await fetch('/v1/auth/refresh', { method: 'POST', credentials: 'same-origin' })
    if (!res.ok) {
      setSession(null)
      return false
    }
    setSession((await res.json()) as Session)
    return true
  }).finally(() => {
    refreshing = null
  })
  return refreshing
}

export interface ApiInit {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE'
  body?: unknown
  signal?: AbortSignal
  query?: Record<string, string | number | boolean | undefined | null>
  headers?: Record<string, string>
}

export function withQuery(path: string, query?: ApiInit['query']): string {
  if (!query) return path
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') params.set(k, String(v))
  const qs = params.toString()
  return qs ? `${path}${path.includes('?') ? '&' : '?'}${qs}` : path
}

async function send(path: string, init: ApiInit): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json', ...init.headers }
  if (accessToken) headers.authorization = `Bearer ${accessToken}`
  if (init.body !== undefined) headers['content-type'] = 'application/json'
  return fetch(withQuery(path, init.query), {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: init.signal,
    credentials: 'same-origin',
  })
}

export async function errorOf(res: Response): Promise<ApiError> {
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } }
    return new ApiError(res.status, body.error?.code ?? 'http_error', body.error?.message ?? res.statusText)
  } catch {
    return new ApiError(res.status, 'http_error', res.statusText || `HTTP ${res.status}`)
  }
}

/** A raw authorised fetch (downloads, streams), refreshed and retried once on 401. */
export async function apiFetch(path: string, init: ApiInit = {}): Promise<Response> {
  let res = await send(path, init)
  if (res.status === 401 && accessToken !== null && (await refresh())) res = await send(path, init)
  return res
}

/** Calls the API and parses its JSON answer; a non-2xx answer throws ApiError with the server's code. */
export async function api<T>(path: string, init: ApiInit = {}): Promise<T> {
  const res = await apiFetch(path, init)
  if (!res.ok) throw await errorOf(res)
  if (res.status === 204) return undefined as T
  return (await res.json()) as T
}
