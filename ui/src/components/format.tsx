/** Small shared pieces every page uses: severity and status badges, times, numbers. */
import { EuiBadge, EuiToolTip } from '@elastic/eui'

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const
export type Severity = (typeof SEVERITIES)[number]

const SEVERITY_COLOR: Record<string, string> = { low: 'default', medium: 'warning', high: 'accent', critical: 'danger' }

export function SeverityBadge({ severity }: { severity: string }) {
  return (
    <EuiBadge color={SEVERITY_COLOR[severity] ?? 'hollow'} data-test-subj={`severity-${severity}`}>
      {severity}
    </EuiBadge>
  )
}

const STATUS_COLOR: Record<string, string> = {
  open: 'primary',
  acknowledged: 'warning',
  resolved: 'success',
  false_positive: 'hollow',
  closed: 'success',
  active: 'success',
  revoked: 'danger',
  tripped: 'danger',
}

export function StatusBadge({ status }: { status: string }) {
  return <EuiBadge color={STATUS_COLOR[status] ?? 'hollow'}>{status.replace(/_/g, ' ')}</EuiBadge>
}

/** "14:03:22.123" today, else "2026-11-24 14:03:22"; the exact UTC time in a tooltip. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—'
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  const now = new Date()
  const sameDay = d.toDateString() === now.toDateString()
  const pad = (n: number, w = 2) => String(n).padStart(w, '0')
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  return sameDay ? `${time}.${pad(d.getMilliseconds(), 3)}` : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`
}

export function Time({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <>—</>
  return (
    <EuiToolTip content={`${iso} (UTC)`}>
      <time dateTime={iso}>{formatTime(iso)}</time>
    </EuiToolTip>
  )
}

export function formatNumber(n: number | null | undefined, digits = 0): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '—'
  return n.toLocaleString(undefined, { maximumFractionDigits: digits })
}

/** "3 s", "4 min", "2 h", "5 d": for lags and ages. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—'
  const s = Math.abs(ms) / 1000
  if (s < 1) return `${Math.round(Math.abs(ms))} ms`
  if (s < 90) return `${Math.round(s)} s`
  if (s < 5400) return `${Math.round(s / 60)} min`
  if (s < 172_800) return `${Math.round(s / 3600)} h`
  return `${Math.round(s / 86_400)} d`
}
