// @vitest-environment jsdom
import { EuiProvider } from '@elastic/eui'
import { cleanup, render, screen } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import { formatDuration, formatTime, SeverityBadge } from './format.js'

afterEach(cleanup)

describe('format helpers', () => {
  it('formats durations in the largest sensible unit', () => {
    expect(formatDuration(null)).toBe('—')
    expect(formatDuration(250)).toBe('250 ms')
    expect(formatDuration(12_400)).toBe('12 s')
    expect(formatDuration(-12_400)).toBe('12 s')
    expect(formatDuration(30 * 60_000)).toBe('30 min')
    expect(formatDuration(5 * 3_600_000)).toBe('5 h')
    expect(formatDuration(3 * 86_400_000)).toBe('3 d')
  })

  it('shows a time of today with milliseconds and an older one with its date', () => {
    const today = new Date()
    today.setHours(9, 5, 7, 42)
    expect(formatTime(today.toISOString())).toBe('09:05:07.042')
    expect(formatTime('2020-02-29T12:00:00Z')).toMatch(/^2020-0[23]-\d\d \d\d:\d\d:00$/)
    expect(formatTime('not a time')).toBe('not a time')
    expect(formatTime(null)).toBe('—')
  })

  it('renders a severity badge a test can find by severity', () => {
    render(
      <EuiProvider>
        <SeverityBadge severity="critical" />
      </EuiProvider>,
    )
    expect(screen.getByText('critical').closest('[data-test-subj="severity-critical"]')).not.toBeNull()
  })
})
