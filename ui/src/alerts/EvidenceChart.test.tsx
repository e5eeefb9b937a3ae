// @vitest-environment jsdom
import { EuiProvider } from '@elastic/eui'
import { cleanup, render } from '@testing-library/react'
import { MemoryRouter } from 'react-router-dom'
import { afterEach, describe, expect, it } from 'vitest'
import { EvidenceChart } from './EvidenceChart.js'
import { shapeEvidence } from './evidence.js'

afterEach(cleanup)

describe('the evidence chart', () => {
  it('draws baseline and actual, and names a z-score threshold instead of drawing it', () => {
    const view = shapeEvidence({ score: 81, evidence: { metric: 'orders', value: 120, baseline: 20, threshold: 6, z: 9.1, reason: 'zscore' } })
    const { container } = render(
      <EuiProvider colorMode="light">
        <MemoryRouter>
          <EvidenceChart view={view} />
        </MemoryRouter>
      </EuiProvider>,
    )
    const chart = container.querySelector('[data-test-subj=alertEvidenceChart]')
    expect(chart?.textContent).toContain('Baseline')
    expect(chart?.textContent).toContain('Actual')
    expect(chart?.textContent).not.toContain('Threshold')
    expect(chart?.textContent).toContain('6× the baseline')
  })

  it('draws nothing for evidence without numbers', () => {
    const { container } = render(
      <EuiProvider colorMode="dark">
        <EvidenceChart view={shapeEvidence({ score: 1, evidence: { note: 'x' } })} />
      </EuiProvider>,
    )
    expect(container.querySelector('[data-test-subj=alertEvidenceChart]')).toBeNull()
  })
})
