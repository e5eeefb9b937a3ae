/** Rules: every detection rule, how often it fires, and (for admins) switching one on or off. */
import { EuiSpacer, EuiText, EuiTitle } from '@elastic/eui'
import { useQuery } from '@tanstack/react-query'
import { api } from '../api/client.js'
import { ApiErrorCallOut } from '../incidents/common.js'
import { RulesTable } from '../rules/RulesTable.js'
import { RULES_KEY, type RuleSummary } from '../rules/shape.js'

export default function RulesPage() {
  const q = useQuery({
    queryKey: RULES_KEY,
    queryFn: ({ signal }) => api<{ items: RuleSummary[]; next: null }>('/v1/rules', { signal }),
    // Fires and open alerts move as alerts come in; a minute is fresh enough for this page.
    refetchInterval: 60_000,
  })
  return (
    <>
      <EuiTitle size="l">
        <h1>Rules</h1>
      </EuiTitle>
      <EuiText size="s" color="subdued">
        <p>Each detection rule with how often it fired, when it last did, and how often its alerts were marked false positive. Open a row for how to triage it.</p>
      </EuiText>
      <EuiSpacer size="m" />
      <ApiErrorCallOut error={q.error} title="The rules could not be loaded" data-test-subj="rulesError" />
      {q.error ? <EuiSpacer size="m" /> : null}
      <RulesTable items={q.data?.items ?? []} loading={q.isFetching && !q.data} />
    </>
  )
}
