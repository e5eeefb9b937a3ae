/**
 * Keeps one page's failure from blanking the dashboard. A page that cannot load its code
 * (Vigil was upgraded or the dashboard rebuilt while this tab was open, so the old hashed
 * files are gone) offers a reload; any other error shows its message and a retry.
 */
import { EuiButton, EuiEmptyPrompt } from '@elastic/eui'
import { Component, type ErrorInfo, type ReactNode } from 'react'

/** True for the errors browsers give when a lazily loaded module cannot be fetched. */
export function isStaleBuildError(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err)
  return /Failed to fetch dynamically imported module|Importing a module script failed|error loading dynamically imported module|Unable to preload CSS/i.test(message)
}

interface State {
  error: unknown
}

export class PageErrorBoundary extends Component<{ children: ReactNode; resetKey: string }, State> {
  override state: State = { error: null }

  static getDerivedStateFromError(error: unknown): State {
    return { error }
  }

  override componentDidUpdate(prev: { resetKey: string }): void {
    // Another page was opened: give it its own chance.
    if (prev.resetKey !== this.props.resetKey && this.state.error !== null) this.setState({ error: null })
  }

  override componentDidCatch(error: unknown, info: ErrorInfo): void {
    console.error('page failed', error, info.componentStack)
  }

  override render(): ReactNode {
    const { error } = this.state
    if (error === null) return this.props.children
    if (isStaleBuildError(error)) {
      return (
        <EuiEmptyPrompt
          data-test-subj="staleBuild"
          iconType="refresh"
          title={<h2>Vigil was updated</h2>}
          body="This page's code changed since the tab was opened. Reload to get the new version."
          actions={
            <EuiButton fill onClick={() => window.location.reload()}>
              Reload
            </EuiButton>
          }
        />
      )
    }
    return (
      <EuiEmptyPrompt
        data-test-subj="pageError"
        iconType="error"
        color="danger"
        title={<h2>This page failed</h2>}
        body={error instanceof Error ? error.message : String(error)}
        actions={<EuiButton onClick={() => this.setState({ error: null })}>Try again</EuiButton>}
      />
    )
  }
}
