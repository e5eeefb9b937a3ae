// @vitest-environment jsdom
import { EuiProvider } from '@elastic/eui'
import { cleanup, render, screen } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { isStaleBuildError, PageErrorBoundary } from './PageErrorBoundary.js'

afterEach(cleanup)

function Boom({ error }: { error: Error }): never {
  throw error
}

function renderWith(error: Error, resetKey = '/a') {
  return render(
    <EuiProvider>
      <PageErrorBoundary resetKey={resetKey}>
        <Boom error={error} />
      </PageErrorBoundary>
    </EuiProvider>,
  )
}

describe('PageErrorBoundary', () => {
  it('recognises the browsers’ stale-chunk errors and nothing else', () => {
    expect(isStaleBuildError(new TypeError('Failed to fetch dynamically imported module: http://x/assets/AlertsPage-abc.js'))).toBe(true)
    expect(isStaleBuildError(new TypeError('Importing a module script failed.'))).toBe(true)
    expect(isStaleBuildError(new Error('Cannot read properties of undefined'))).toBe(false)
  })

  it('offers a reload when a page’s code is gone, and the error otherwise', () => {
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => {})
    try {
      renderWith(new TypeError('Failed to fetch dynamically imported module: /assets/x.js'))
      expect(screen.getByText('Vigil was updated')).toBeTruthy()
      expect(screen.getByRole('button', { name: 'Reload' })).toBeTruthy()
      cleanup()
      renderWith(new Error('evidence has no value'))
      expect(screen.getByText('This page failed')).toBeTruthy()
      expect(screen.getByText('evidence has no value')).toBeTruthy()
    } finally {
      quiet.mockRestore()
    }
  }, 60_000)
})
