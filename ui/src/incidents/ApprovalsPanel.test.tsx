// @vitest-environment jsdom
import { EuiProvider } from '@elastic/eui'
import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { cleanup, configure, fireEvent, render, screen, waitFor } from '@testing-library/react'
import { MemoryRouter } from 'react-router-dom'
import { afterEach, describe, expect, it } from 'vitest'
import { ApprovalCard } from './ApprovalsPanel.js'
import type { Approval } from './types.js'

configure({ testIdAttribute: 'data-test-subj' })
afterEach(cleanup)

const NOW = Date.parse('2026-11-27T01:00:00Z')
const approval: Approval = {
  id: 'ap_0123456789abcdef01234567',
  status: 'pending',
  run_id: 'run_1',
  playbook: 'critical_alert',
  step: 1,
  action: 'revoke_key',
  alert_id: 'al_1',
  incident_id: 'in_1',
  on_timeout: 'abort',
  requested_at: '2026-11-27T00:55:00Z',
  expires_at: '2026-11-27T01:10:00Z',
  permission: 'approvals:write',
  decided_by: null,
  decided_at: null,
  note: null,
}

function renderCard(a: Approval, mayApprove: boolean) {
  return render(
    <EuiProvider>
      <QueryClientProvider client={new QueryClient()}>
        <MemoryRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
          <ApprovalCard approval={a} incidentId="in_1" now={NOW} mayApprove={mayApprove} mayReadAlerts />
        </MemoryRouter>
      </QueryClientProvider>
    </EuiProvider>,
  )
}

// A hang guard: rendering EUI in jsdom takes seconds on a busy machine.
describe('ApprovalCard', { timeout: 60_000 }, () => {
  it('offers Approve and Reject to a person who may decide, with what happens if nobody does', () => {
    renderCard(approval, true)
    const card = screen.getByTestId(`approval-${approval.id}`)
    expect(card.textContent).toContain('Step 2 of playbook critical_alert')
    expect(card.textContent).toContain('expires in 10 min')
    expect(card.textContent).toContain('abort')
    expect(screen.getByTestId(`approvalApprove-${approval.id}`)).toBeTruthy()
    expect(screen.getByTestId(`approvalReject-${approval.id}`)).toBeTruthy()
  })

  it('shows no button to a person without approvals:write, nor on a request past its time', () => {
    renderCard(approval, false)
    expect(screen.queryByTestId(`approvalApprove-${approval.id}`)).toBeNull()
    cleanup()
    renderCard({ ...approval, expires_at: '2026-11-27T00:59:00Z' }, true)
    expect(screen.queryByTestId(`approvalReject-${approval.id}`)).toBeNull()
    expect(screen.getByTestId(`approval-${approval.id}`).textContent).toContain('timed out')
  })

  it('shows why a decision failed instead of swallowing it', async () => {
    // No server answers in jsdom: the request fails, and the card must say so.
    renderCard(approval, true)
    fireEvent.click(screen.getByTestId(`approvalApprove-${approval.id}`))
    await waitFor(() => expect(screen.getByText('The decision was not recorded')).toBeTruthy(), { timeout: 30_000 })
  })
})
