/** The Alerts page's filter bar: severity, status and rule (single choice each, as the API takes them), key, account, and the time range. */
import {
  EuiButtonEmpty,
  EuiFieldSearch,
  EuiFilterButton,
  EuiFilterGroup,
  EuiFlexGroup,
  EuiFlexItem,
  EuiPopover,
  EuiSelectable,
  EuiSuperDatePicker,
  type EuiSelectableOption,
  type OnTimeChangeProps,
} from '@elastic/eui'
import { useEffect, useState } from 'react'
import { SEVERITIES } from '../components/format.js'
import type { AlertFilters } from './query.js'
import { ALERT_STATUSES } from './types.js'

const QUICK_RANGES = [
  { start: 'now-15m', end: 'now', label: 'Last 15 minutes' },
  { start: 'now-1h', end: 'now', label: 'Last 1 hour' },
  { start: 'now-24h', end: 'now', label: 'Last 24 hours' },
  { start: 'now-7d', end: 'now', label: 'Last 7 days' },
  { start: 'now-30d', end: 'now', label: 'Last 30 days' },
  { start: 'now/d', end: 'now', label: 'Today' },
]

function SingleSelect({ label, testSubj, value, options, onChange }: { label: string; testSubj: string; value?: string; options: readonly string[]; onChange: (v: string | undefined) => void }) {
  const [open, setOpen] = useState(false)
  const items: EuiSelectableOption[] = options.map((o) => ({ label: o.replace(/_/g, ' '), key: o, checked: o === value ? 'on' : undefined, 'data-test-subj': `${testSubj}-${o}` }))
  return (
    <EuiPopover
      isOpen={open}
      closePopover={() => setOpen(false)}
      panelPaddingSize="none"
      button={
        <EuiFilterButton
          iconType="chevronSingleDown"
          onClick={() => setOpen((o) => !o)}
          isSelected={open}
          hasActiveFilters={value !== undefined}
          numActiveFilters={value !== undefined ? 1 : undefined}
          data-test-subj={testSubj}
        >
          {value ? `${label}: ${value.replace(/_/g, ' ')}` : label}
        </EuiFilterButton>
      }
    >
      <EuiSelectable
        aria-label={`Filter by ${label.toLowerCase()}`}
        singleSelection
        searchable={options.length > 8}
        options={items}
        onChange={(next) => {
          const picked = next.find((o) => o.checked === 'on')
          onChange(picked?.key)
          setOpen(false)
        }}
        listProps={{ bordered: false }}
      >
        {(list, search) => (
          <div style={{ width: 260 }}>
            {search}
            {list}
          </div>
        )}
      </EuiSelectable>
    </EuiPopover>
  )
}

/** A text filter applied on Enter (or when cleared), so typing does not query on every key. */
function TextFilter({ placeholder, testSubj, value, onChange }: { placeholder: string; testSubj: string; value?: string; onChange: (v: string | undefined) => void }) {
  const [text, setText] = useState(value ?? '')
  useEffect(() => setText(value ?? ''), [value])
  return (
    <EuiFieldSearch
      compressed
      placeholder={placeholder}
      aria-label={placeholder}
      value={text}
      onChange={(e) => setText(e.target.value)}
      onSearch={(v) => onChange(v.trim() || undefined)}
      isClearable
      data-test-subj={testSubj}
    />
  )
}

export function AlertFilterBar({ filters, rules, onChange }: { filters: AlertFilters; rules: readonly string[]; onChange: (f: AlertFilters) => void }) {
  const set = (patch: Partial<AlertFilters>) => onChange({ ...filters, ...patch })
  const active = [filters.severity, filters.status, filters.rule, filters.api_key_id, filters.account_id].some((v) => v !== undefined)
  return (
    <EuiFlexGroup gutterSize="s" wrap responsive={false} alignItems="center">
      <EuiFlexItem grow={false}>
        <EuiFilterGroup compressed>
          <SingleSelect label="Severity" testSubj="alertsFilterSeverity" value={filters.severity} options={SEVERITIES} onChange={(v) => set({ severity: v })} />
          <SingleSelect label="Status" testSubj="alertsFilterStatus" value={filters.status} options={ALERT_STATUSES} onChange={(v) => set({ status: v })} />
          <SingleSelect label="Rule" testSubj="alertsFilterRule" value={filters.rule} options={rules} onChange={(v) => set({ rule: v })} />
        </EuiFilterGroup>
      </EuiFlexItem>
      <EuiFlexItem grow={false} style={{ width: 200 }}>
        <TextFilter placeholder="API key id" testSubj="alertsFilterKey" value={filters.api_key_id} onChange={(v) => set({ api_key_id: v })} />
      </EuiFlexItem>
      <EuiFlexItem grow={false} style={{ width: 200 }}>
        <TextFilter placeholder="Account id" testSubj="alertsFilterAccount" value={filters.account_id} onChange={(v) => set({ account_id: v })} />
      </EuiFlexItem>
      {active && (
        <EuiFlexItem grow={false}>
          <EuiButtonEmpty size="s" iconType="cross" onClick={() => onChange({ start: filters.start, end: filters.end })} data-test-subj="alertsClearFilters">
            Clear filters
          </EuiButtonEmpty>
        </EuiFlexItem>
      )}
    </EuiFlexGroup>
  )
}

export function AlertTimePicker({ filters, onChange, onRefresh, isLoading }: { filters: AlertFilters; onChange: (f: AlertFilters) => void; onRefresh: () => void; isLoading: boolean }) {
  return (
    <EuiSuperDatePicker
      compressed
      width="auto"
      start={filters.start}
      end={filters.end}
      commonlyUsedRanges={QUICK_RANGES}
      onTimeChange={({ start, end, isInvalid }: OnTimeChangeProps) => {
        if (!isInvalid) onChange({ ...filters, start, end })
      }}
      onRefresh={onRefresh}
      isLoading={isLoading}
      data-test-subj="alertsTimePicker"
    />
  )
}
