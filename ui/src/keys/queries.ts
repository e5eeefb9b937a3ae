/** The key explorer's API calls as TanStack queries and mutations. */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { useEffect, useState } from 'react'
import { api } from '../api/client.js'
import { keyApiPath, resolveRange, type KeyActivity, type KeySearchItem, type KeyState } from './model.js'

/** `value`, once it has stayed the same for `ms`. */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value)
  useEffect(() => {
    const t = setTimeout(() => setSettled(value), ms)
    return () => clearTimeout(t)
  }, [value, ms])
  return settled
}

/** Keys matching a prefix; the answer names its query, since an earlier answer stays shown while the next loads. */
export function useKeySearch(q: string, limit = 20, enabled = true) {
  return useQuery<{ q: string; items: KeySearchItem[] }>({
    queryKey: ['keys', 'search', q, limit],
    enabled,
    queryFn: ({ signal }) => api<{ items: KeySearchItem[] }>('/v1/keys', { query: { q, limit }, signal }).then((r) => ({ q, items: r.items })),
    placeholderData: keepPreviousData,
    staleTime: 10_000,
  })
}

export function useKeyState(apiKeyId: string) {
  return useQuery<KeyState>({
    queryKey: ['keys', 'state', apiKeyId],
    queryFn: ({ signal }) => api<KeyState>(keyApiPath(apiKeyId), { signal }),
  })
}

/** A key's activity over a date picker's range, resolved against "now" at every fetch. */
export function useKeyActivity(apiKeyId: string, start: string, end: string, refetchInterval: number | false) {
  return useQuery<KeyActivity>({
    queryKey: ['keys', 'activity', apiKeyId, start, end],
    queryFn: ({ signal }) => {
      const range = resolveRange(start, end)
      if ('error' in range) throw new Error(range.error)
      return api<KeyActivity>(keyApiPath(apiKeyId, 'activity'), { query: range, signal })
    },
    placeholderData: keepPreviousData,
    refetchInterval,
  })
}

export type KeyChange = 'revoke' | 'restore'

/** Revokes or restores a key; on any answer the key's state is read again. */
export function useKeyChange(apiKeyId: string) {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: ({ change, reason }: { change: KeyChange; reason: string }) => api<KeyState>(keyApiPath(apiKeyId, change), { body: { reason } }),
    onSuccess: (state) => qc.setQueryData(['keys', 'state', apiKeyId], state),
    onSettled: () => qc.invalidateQueries({ queryKey: ['keys', 'state', apiKeyId] }),
  })
}
