// @vitest-environment jsdom
import { EuiProvider } from '@elastic/eui'
import { cleanup, configure, fireEvent, render, screen, within } from '@testing-library/react'
import { MemoryRouter } from 'react-router-dom'
import { afterEach, describe, expect, it } from 'vitest'
import { AuthProvider } from '../auth/AuthContext.js'
import { IncidentTimeline } from './IncidentTimeline.js'
import type { TimelineEntry } from './types.js'

configure({ testIdAttribute: 'data-test-subj' })
afterEach(cleanup)

const at = (s: number) => new Date(Date.UTC(2026, 10, 27, 0, 0, s)).toISOString()
function entry(kind: string, s: number, over: Partial<TimelineEntry> = {}): TimelineEntry {
  return { at: at(s), kind, actor: 'playbook:high_alert', alert_id: null, playbook: 'high_alert', step: null, attempt: null, outcome: null, detail: {}, ...over }
}

const entries: TimelineEntry[] = [
  entry('note', 30, { actor: 'operator:ana@example.com', playbook: null, detail: { note: 'Called the key owner' } }),
  entry('opened', 1, { alert_id: 'al_1', detail: { rule: 'geo.new_country', summary: 'Key used from BR' } }),
  entry('step_done', 10, { step: 'notify_slack', attempt: 1, outcome: 'done', detail: { summary: 'posted the alert to Slack channel C1' } }),
  entry('status', 40, { actor: 'operator:ana@example.com', playbook: null, outcome: 'closed', detail: { from: 'open', to: 'closed', note: '', resolution: 'Owner confirmed travel' } }),
]

function renderTimeline(list: TimelineEntry[]) {
  return render(
    <EuiProvider>
      <AuthProvider>
        <MemoryRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
          <IncidentTimeline entries={list} />
        </MemoryRouter>
      </AuthProvider>
    </EuiProvider>,
  )
}

const kinds = () => [...screen.getByTestId('incidentTimeline').querySelectorAll('[data-test-subj^="timelineEntry-"]')].map((el) => el.getAttribute('data-test-subj'))

// A hang guard: rendering EUI in jsdom takes seconds on a busy machine.
describe('IncidentTimeline', { timeout: 60_000 }, () => {
  it('renders every entry oldest first with its actor, words and resolution', () => {
    renderTimeline(entries)
    expect(kinds()).toEqual(['timelineEntry-opened', 'timelineEntry-step_done', 'timelineEntry-note', 'timelineEntry-status'])
    const timeline = screen.getByTestId('incidentTimeline')
    expect(within(timeline).getByText('opened the incident (geo.new_country)')).toBeTruthy()
    expect(within(timeline).getByText('sent a Slack message')).toBeTruthy()
    expect(within(timeline).getByText('Called the key owner')).toBeTruthy()
    expect(within(timeline).getAllByText('ana@example.com')).toHaveLength(2)
    expect(screen.getByTestId('timelineResolution').textContent).toContain('Owner confirmed travel')
  })

  it('turns to newest first, filters by kind, and shows an entry’s raw detail on demand', () => {
    renderTimeline(entries)
    fireEvent.click(screen.getByText('Newest first'))
    expect(kinds()[0]).toBe('timelineEntry-status')
    fireEvent.click(screen.getByTestId('timelineFilter-message'))
    expect(kinds()).toEqual(['timelineEntry-step_done'])
    expect(screen.queryByTestId('timelineDetail')).toBeNull()
    fireEvent.click(screen.getByTestId('timelineDetailToggle'))
    expect(screen.getByTestId('timelineDetail').textContent).toContain('"notify_slack"')
  })

  it('says what would appear on an empty timeline', () => {
    renderTimeline([])
    expect(screen.getByTestId('incidentTimeline').textContent).toMatch(/Nothing on the timeline yet/)
  })
})
