// @vitest-environment jsdom
import { EuiProvider } from '@elastic/eui'
import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { cleanup, configure, fireEvent, render, screen } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import { AuthProvider } from '../auth/AuthContext.js'
import { RulesTable } from './RulesTable.js'
import type { RuleSummary } from './shape.js'

configure({ testIdAttribute: 'data-test-subj' })
afterEach(cleanup)

const days = Array.from({ length: 14 }, (_, i) => ({ day: `2026-11-${String(14 + i).padStart(2, '0')}`, count: i === 13 ? 2 : 0 }))

function rule(id: string, over: Partial<RuleSummary> = {}): RuleSummary {
  return {
    id,
    title: `Title of ${id}`,
    description: `What ${id} detects`,
    area: id.split('.')[0] as string,
    severity: 'high',
    enabled: true,
    last_change: null,
    triage: `How to triage ${id}`,
    false_positives: [`A harmless cause of ${id}`],
    modified: '2026-11-26',
    fires_per_day: days,
    fires_total: 4,
    last_fired: '2026-11-27T00:47:22Z',
    false_positive_marks: 1,
    open_alerts: 2,
    ...over,
  }
}

// Signed out in jsdom (no server answers the refresh): the person holds no permission, as a viewer holds no rules:admin.
function renderTable(items: RuleSummary[]) {
  return render(
    <EuiProvider>
      <QueryClientProvider client={new QueryClient()}>
        <AuthProvider>
          <RulesTable items={items} loading={false} />
        </AuthProvider>
      </QueryClientProvider>
    </EuiProvider>,
  )
}

// A hang guard: rendering EUI in jsdom takes seconds on a busy machine.
describe('RulesTable', { timeout: 60_000 }, () => {
  const items = [
    rule('geo.new_country', { severity: 'medium' }),
    rule('auth.brute_force', {
      enabled: false,
      last_change: { rule: 'auth.brute_force', enabled: false, reason: 'noisy during the migration', actor: 'operator:ana@example.com', at: '2026-11-27T00:10:00Z' },
    }),
  ]

  it('shows each rule with its state, fires and false-positive share, and no switch to someone without rules:admin', () => {
    renderTable(items)
    expect(screen.getByTestId('rulesTable')).toBeTruthy()
    expect(screen.queryByTestId('ruleToggle-auth.brute_force')).toBeNull()
    expect(screen.getByTestId('ruleEnabled-auth.brute_force').textContent).toBe('off')
    expect(screen.getByTestId('ruleEnabled-geo.new_country').textContent).toBe('on')
    expect(screen.getByTestId('ruleFires-geo.new_country').querySelectorAll('rect')).toHaveLength(14)
    expect(screen.getByTestId('ruleRow-auth.brute_force').textContent).toContain('1 (25%)')
    // Sorted by id.
    const rows = [...screen.getByTestId('rulesTable').querySelectorAll('[data-test-subj^="ruleRow-"]')].map((r) => r.getAttribute('data-test-subj'))
    expect(rows).toEqual(['ruleRow-auth.brute_force', 'ruleRow-geo.new_country'])
  })

  it('opens a row to its description, triage, false positives and who switched it', () => {
    renderTable(items)
    expect(screen.queryByTestId('ruleDetails-auth.brute_force')).toBeNull()
    fireEvent.click(screen.getByTestId('ruleExpand-auth.brute_force'))
    const details = screen.getByTestId('ruleDetails-auth.brute_force').textContent ?? ''
    expect(details).toContain('How to triage auth.brute_force')
    expect(details).toContain('A harmless cause of auth.brute_force')
    expect(details).toContain('noisy during the migration')
    expect(details).toContain('ana@example.com')
  })

  it('filters by search and says so when nothing matches', () => {
    renderTable(items)
    fireEvent.change(screen.getByTestId('rulesSearch'), { target: { value: 'new_country' } })
    expect(screen.queryByTestId('ruleRow-auth.brute_force')).toBeNull()
    expect(screen.getByTestId('ruleRow-geo.new_country')).toBeTruthy()
    fireEvent.change(screen.getByTestId('rulesSearch'), { target: { value: 'no such rule' } })
    expect(screen.getByTestId('rulesTable').textContent).toContain('No rule matches these filters.')
  })
})
