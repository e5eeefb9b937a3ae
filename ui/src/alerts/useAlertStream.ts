/** Follows `GET /v1/alerts/stream` while mounted; each alert goes to `onAlert`. */
import { useEffect, useRef, useState } from 'react'
import { streamEvents } from '../api/sse.js'
import { parseAlertMessage } from './merge.js'
import type { Alert } from './types.js'

export type LiveStatus = 'connecting' | 'live' | 'retrying' | 'stopped'

export function useAlertStream(onAlert: (a: Alert) => void): LiveStatus {
  const [status, setStatus] = useState<LiveStatus>('connecting')
  const handler = useRef(onAlert)
  handler.current = onAlert
  useEffect(() => {
    const ctl = new AbortController()
    void streamEvents('/v1/alerts/stream', {
      signal: ctl.signal,
      onStatus: (s) => {
        if (!ctl.signal.aborted) setStatus(s)
      },
      onMessage: (msg) => {
        if (msg.event !== 'alert') return
        const a = parseAlertMessage(msg.data)
        if (a) handler.current(a)
      },
    })
    return () => ctl.abort()
  }, [])
  return status
}
