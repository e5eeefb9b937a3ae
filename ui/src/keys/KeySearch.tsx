/**
 * Finding a key: suggestions as you type (debounced) from `GET /v1/keys?q=`, matching a
 * prefix of the key or of an account; an account match lists its keys. Arrow keys move through
 * the suggestions, Enter opens the one chosen, or — with none chosen — the key typed.
 */
import { EuiBadge, EuiFlexGroup, EuiFlexItem, EuiHighlight, EuiInputPopover, EuiSelectable, EuiText, type EuiSelectableOption } from '@elastic/eui'
import { useState, type KeyboardEvent } from 'react'
import { useNavigate } from 'react-router-dom'
import { formatNumber } from '../components/format.js'
import { groupSearchResults, keyPath, narrowResults, type KeySearchItem } from './model.js'
import { useDebounced, useKeySearch } from './queries.js'

type KeyOption = EuiSelectableOption<{ item?: KeySearchItem }>

const MAX_ID = 128

export function searchOptions(items: readonly KeySearchItem[], q: string): KeyOption[] {
  return groupSearchResults(items, q).flatMap((g) => [
    { label: g.label, key: `group:${g.label}`, isGroupLabel: true } as KeyOption,
    ...g.items.map((item): KeyOption => ({ label: item.api_key_id, key: `${g.label}:${item.api_key_id}`, item, 'data-test-subj': `keyOption-${item.api_key_id}` })),
  ])
}

function renderOption(option: KeyOption, searchValue: string) {
  const item = option.item
  if (!item) return option.label
  return (
    <EuiFlexGroup gutterSize="s" alignItems="center" responsive={false}>
      <EuiFlexItem grow={false}>
        <EuiHighlight search={searchValue}>{item.api_key_id}</EuiHighlight>
      </EuiFlexItem>
      <EuiFlexItem>
        <EuiText size="xs" color="subdued">
          {item.account_id ? <EuiHighlight search={searchValue}>{item.account_id}</EuiHighlight> : 'no account'}
        </EuiText>
      </EuiFlexItem>
      <EuiFlexItem grow={false}>
        <EuiText size="xs" color="subdued">
          {formatNumber(item.events_24h)} events / 24 h
        </EuiText>
      </EuiFlexItem>
      {item.failures_24h > 0 && (
        <EuiFlexItem grow={false}>
          <EuiBadge color="danger">{formatNumber(item.failures_24h)} failed</EuiBadge>
        </EuiFlexItem>
      )}
    </EuiFlexGroup>
  )
}

export function KeySearch() {
  const navigate = useNavigate()
  const [query, setQuery] = useState('')
  const [open, setOpen] = useState(false)
  const [active, setActive] = useState<KeyOption | null>(null)
  const debounced = useDebounced(query.trim(), 250)
  // Asked only once the list is wanted: a key's page does not search until someone types.
  const search = useKeySearch(debounced, 20, open || debounced !== '')
  const typed = query.trim()
  const shown = narrowResults(search.data, typed)
  const options = searchOptions(shown ?? [], typed)

  const go = (apiKeyId: string) => {
    setOpen(false)
    setQuery('')
    setActive(null)
    navigate(keyPath(apiKeyId))
  }

  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'Escape') setOpen(false)
    else if (e.key === 'Enter' && !active?.item) {
      if (typed && typed.length <= MAX_ID) {
        e.preventDefault()
        go(typed)
      }
    } else if (e.key !== 'Tab') setOpen(true)
  }

  return (
    <EuiSelectable<{ item?: KeySearchItem }>
      aria-label="Find a key or account"
      searchable
      isPreFiltered
      singleSelection
      options={options}
      renderOption={renderOption}
      onActiveOptionChange={(o) => setActive(o as KeyOption | null)}
      onChange={(_all, _event, changed) => {
        if (changed?.item) go(changed.item.api_key_id)
      }}
      isLoading={shown === null && !search.error}
      errorMessage={search.error ? `Could not search: ${search.error.message}` : null}
      emptyMessage={typed ? `No key or account starts with “${typed}”. Enter opens key “${typed}” anyway.` : 'No keys seen yet: keys appear here once events name them.'}
      noMatchesMessage={`No key or account starts with “${typed}”. Enter opens key “${typed}” anyway.`}
      listProps={{ rowHeight: 36, showIcons: false, onFocusBadge: false, isVirtualized: false }}
      height={Math.min(8, Math.max(options.length, 1)) * 36}
      searchProps={{
        value: query,
        placeholder: 'Search a key or an account (prefix)…',
        'data-test-subj': 'keySearch',
        onChange: (value) => {
          setQuery(value)
          // Typing clears EuiSelectable's highlighted option; Enter then means the text typed.
          setActive(null)
        },
        onFocus: () => setOpen(true),
        onKeyDown,
        fullWidth: true,
        isClearable: true,
      }}
    >
      {(list, searchField) => (
        <EuiInputPopover fullWidth input={searchField ?? <span />} isOpen={open} closePopover={() => setOpen(false)} panelPaddingSize="none" disableFocusTrap>
          {list}
        </EuiInputPopover>
      )}
    </EuiSelectable>
  )
}
