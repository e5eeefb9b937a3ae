/**
 * Key explorer (issue 7): find a key or account, then see the key's state, its activity
 * against its baseline band, where and from which addresses it was used, its recent failures
 * and scopes; revoke or restore it with a reason. `/keys` searches, `/keys/:id` shows one key.
 */
import { EuiCallOut, EuiInMemoryTable, EuiLink, EuiPageTemplate, EuiSpacer, EuiText, type EuiBasicTableColumn } from '@elastic/eui'
import { useNavigate, useParams } from 'react-router-dom'
import { formatNumber, Time } from '../components/format.js'
import { KeySearch } from '../keys/KeySearch.js'
import { KeyView } from '../keys/KeyView.js'
import { keyPath, type KeySearchItem } from '../keys/model.js'
import { useKeySearch } from '../keys/queries.js'

function RecentKeys() {
  const navigate = useNavigate()
  const recent = useKeySearch('', 100)
  const columns: Array<EuiBasicTableColumn<KeySearchItem>> = [
    {
      field: 'api_key_id',
      name: 'Key',
      sortable: true,
      render: (id: string) => (
        <EuiLink
          href={keyPath(id)}
          onClick={(e: React.MouseEvent) => {
            e.preventDefault()
            navigate(keyPath(id))
          }}
        >
          {id}
        </EuiLink>
      ),
    },
    { field: 'account_id', name: 'Account', sortable: true, render: (a: string | null) => a ?? '—' },
    { field: 'last_seen', name: 'Last seen', sortable: true, render: (t: string) => <Time iso={t} /> },
    { field: 'events_24h', name: 'Events (24 h)', sortable: true, align: 'right', render: (n: number) => formatNumber(n) },
    { field: 'failures_24h', name: 'Failures (24 h)', sortable: true, align: 'right', render: (n: number) => formatNumber(n) },
  ]
  return (
    <>
      {recent.error && (
        <>
          <EuiCallOut color="danger" iconType="error" title="Could not list keys">
            {recent.error.message}
          </EuiCallOut>
          <EuiSpacer size="m" />
        </>
      )}
      <EuiInMemoryTable<KeySearchItem>
        tableCaption="The 100 most recently seen keys"
        data-test-subj="keyRecent"
        items={recent.data?.items ?? []}
        itemId="api_key_id"
        loading={recent.isPending}
        columns={columns}
        pagination={{ initialPageSize: 20, showPerPageOptions: false }}
        sorting={{ sort: { field: 'last_seen', direction: 'desc' } }}
        noItemsMessage={recent.isPending ? 'Loading keys…' : 'No keys seen yet: keys appear here once events name them.'}
      />
    </>
  )
}

export default function KeysPage() {
  const { id } = useParams<{ id?: string }>()
  return (
    <EuiPageTemplate.Section>
      <KeySearch />
      <EuiSpacer size="l" />
      {id ? (
        <KeyView key={id} apiKeyId={id} />
      ) : (
        <>
          <EuiText>
            <h2>Key explorer</h2>
            <p>Search a key or an account above, or pick one of the most recently seen keys.</p>
          </EuiText>
          <EuiSpacer size="m" />
          <RecentKeys />
        </>
      )}
    </EuiPageTemplate.Section>
  )
}
