/**
 * Every detection rule with how often it fires: sortable, filterable, a row opens to its
 * description, triage and known false positives. Admins get an enable/disable switch.
 */
import {
  EuiBadge,
  EuiButtonIcon,
  EuiDescriptionList,
  EuiFieldSearch,
  EuiFlexGroup,
  EuiFlexItem,
  EuiInMemoryTable,
  EuiScreenReaderOnly,
  EuiSelect,
  EuiSpacer,
  EuiText,
  EuiToolTip,
  type EuiBasicTableColumn,
} from '@elastic/eui'
import { useMemo, useState, type ReactNode } from 'react'
import { useAuth } from '../auth/AuthContext.js'
import { formatNumber, SeverityBadge, Time } from '../components/format.js'
import { actorLabel } from '../incidents/timeline.js'
import { FiresSparkline } from './FiresSparkline.js'
import { RuleToggle } from './RuleToggle.js'
import { areasOf, filterRules, NO_FILTER, toRuleRow, type EnabledFilter, type RuleFilter, type RuleRow, type RuleSummary } from './shape.js'

function RuleDetails({ rule }: { rule: RuleRow }) {
  const items: Array<{ title: string; description: NonNullable<ReactNode> }> = [
    { title: 'What it detects', description: rule.description || '—' },
    { title: 'How to triage', description: rule.triage || '—' },
    {
      title: 'Known false positives',
      description:
        rule.false_positives.length === 0 ? (
          '—'
        ) : (
          <ul>
            {rule.false_positives.map((fp) => (
              <li key={fp}>{fp}</li>
            ))}
          </ul>
        ),
    },
    { title: 'Rule file changed', description: rule.modified || '—' },
  ]
  if (rule.last_change) {
    const c = rule.last_change
    items.push({
      title: c.enabled ? 'Enabled at runtime' : 'Disabled at runtime',
      description: (
        <>
          by {actorLabel(c.actor)}, <Time iso={c.at} />: “{c.reason}”
        </>
      ),
    })
  }
  return (
    <EuiText size="s" style={{ maxWidth: 960 }} data-test-subj={`ruleDetails-${rule.id}`}>
      <EuiDescriptionList compressed listItems={items} />
    </EuiText>
  )
}

export function RulesTable({ items, loading }: { items: readonly RuleSummary[]; loading: boolean }) {
  const auth = useAuth()
  const admin = auth.can('rules:admin')
  const [filter, setFilter] = useState<RuleFilter>(NO_FILTER)
  const [expanded, setExpanded] = useState<Set<string>>(new Set())
  const rows = useMemo(() => items.map(toRuleRow), [items])
  const shown = useMemo(() => filterRules(rows, filter), [rows, filter])
  const areas = useMemo(() => areasOf(rows), [rows])

  const expandedMap = useMemo(() => {
    const map: Record<string, ReactNode> = {}
    for (const r of shown) if (expanded.has(r.id)) map[r.id] = <RuleDetails rule={r} />
    return map
  }, [shown, expanded])

  const toggleRow = (id: string) =>
    setExpanded((s) => {
      const copy = new Set(s)
      if (copy.has(id)) copy.delete(id)
      else copy.add(id)
      return copy
    })

  const columns: Array<EuiBasicTableColumn<RuleRow>> = [
    {
      width: '40px',
      isExpander: true,
      name: (
        <EuiScreenReaderOnly>
          <span>Show details</span>
        </EuiScreenReaderOnly>
      ),
      render: (r: RuleRow) => (
        <EuiButtonIcon
          onClick={() => toggleRow(r.id)}
          aria-label={expanded.has(r.id) ? `Hide details of ${r.id}` : `Show details of ${r.id}`}
          aria-expanded={expanded.has(r.id)}
          iconType={expanded.has(r.id) ? 'chevronSingleUp' : 'chevronSingleDown'}
          data-test-subj={`ruleExpand-${r.id}`}
        />
      ),
    },
    {
      field: 'id',
      name: 'Rule',
      sortable: true,
      render: (id: string, r: RuleRow) => (
        <div>
          <EuiText size="s">
            <strong>
              <code>{id}</code>
            </strong>
          </EuiText>
          <EuiText size="xs" color="subdued">
            {r.title}
          </EuiText>
        </div>
      ),
    },
    { field: 'area', name: 'Area', width: '90px', sortable: true, render: (a: string) => <EuiBadge color="hollow">{a}</EuiBadge> },
    { field: 'severity', name: 'Severity', width: '95px', sortable: true, render: (s: string) => <SeverityBadge severity={s} /> },
    {
      field: 'enabled',
      name: 'Enabled',
      width: '95px',
      sortable: true,
      render: (on: boolean, r: RuleRow) =>
        admin ? (
          <RuleToggle rule={r} />
        ) : (
          <EuiBadge color={on ? 'success' : 'hollow'} data-test-subj={`ruleEnabled-${r.id}`}>
            {on ? 'on' : 'off'}
          </EuiBadge>
        ),
    },
    {
      field: 'fires_recent',
      name: (
        <EuiToolTip content="Alerts the rule opened on each of the last 14 UTC days (by event time), oldest left">
          <span>Fires / day (14 d)</span>
        </EuiToolTip>
      ),
      width: '140px',
      sortable: true,
      render: (_n: number, r: RuleRow) => <FiresSparkline days={r.fires_per_day} ruleId={r.id} />,
    },
    { field: 'fires_total', name: 'Fires', width: '75px', align: 'right', sortable: true, render: (n: number) => formatNumber(n) },
    { field: 'last_fired_ms', name: 'Last fired', width: '165px', sortable: true, render: (_ms: number, r: RuleRow) => <Time iso={r.last_fired} /> },
    {
      field: 'false_positive_marks',
      name: (
        <EuiToolTip content="Its alerts that an analyst marked false positive, and their share of all its alerts">
          <span>False pos.</span>
        </EuiToolTip>
      ),
      width: '95px',
      align: 'right',
      sortable: true,
      render: (n: number, r: RuleRow) => (r.false_positive_rate === null || n === 0 ? formatNumber(n) : `${formatNumber(n)} (${Math.round(r.false_positive_rate * 100)}%)`),
    },
    {
      field: 'open_alerts',
      name: (
        <EuiToolTip content="Its alerts still open or acknowledged">
          <span>Open</span>
        </EuiToolTip>
      ),
      width: '80px',
      align: 'right',
      sortable: true,
      render: (n: number) => formatNumber(n),
    },
  ]

  const filtered = filter.text !== '' || filter.area !== '' || filter.enabled !== 'all'

  return (
    <>
      <EuiFlexGroup gutterSize="s" wrap responsive={false} alignItems="center">
        <EuiFlexItem grow={true} style={{ minWidth: 240, maxWidth: 420 }}>
          <EuiFieldSearch
            compressed
            fullWidth
            placeholder="Search id, title or description"
            value={filter.text}
            onChange={(e) => setFilter((f) => ({ ...f, text: e.target.value }))}
            aria-label="Search rules"
            data-test-subj="rulesSearch"
          />
        </EuiFlexItem>
        <EuiFlexItem grow={false}>
          <EuiSelect
            compressed
            aria-label="Area"
            value={filter.area}
            options={[{ value: '', text: 'Every area' }, ...areas.map((a) => ({ value: a, text: a }))]}
            onChange={(e) => setFilter((f) => ({ ...f, area: e.target.value }))}
            data-test-subj="rulesArea"
          />
        </EuiFlexItem>
        <EuiFlexItem grow={false}>
          <EuiSelect
            compressed
            aria-label="Enabled or disabled"
            value={filter.enabled}
            options={[
              { value: 'all', text: 'Enabled and disabled' },
              { value: 'enabled', text: 'Enabled only' },
              { value: 'disabled', text: 'Disabled only' },
            ]}
            onChange={(e) => setFilter((f) => ({ ...f, enabled: e.target.value as EnabledFilter }))}
            data-test-subj="rulesEnabledFilter"
          />
        </EuiFlexItem>
        <EuiFlexItem grow={false}>
          <EuiText size="xs" color="subdued">
            {shown.length} of {rows.length} rules
          </EuiText>
        </EuiFlexItem>
      </EuiFlexGroup>
      <EuiSpacer size="m" />
      <EuiInMemoryTable<RuleRow>
        data-test-subj="rulesTable"
        tableCaption="Detection rules"
        items={shown}
        itemId="id"
        columns={columns}
        loading={loading}
        sorting={{ sort: { field: 'id', direction: 'asc' } }}
        pagination={{ initialPageSize: 50, pageSizeOptions: [25, 50, 100] }}
        itemIdToExpandedRowMap={expandedMap}
        rowProps={(r) => ({ 'data-test-subj': `ruleRow-${r.id}` })}
        noItemsMessage={
          loading ? 'Loading rules…' : filtered ? 'No rule matches these filters.' : 'No detection rule is loaded. Rules come from the rules/ directory when Vigil starts.'
        }
      />
      {!admin ? (
        <>
          <EuiSpacer size="s" />
          <EuiText size="xs" color="subdued">
            <p>Only an admin can switch a rule on or off.</p>
          </EuiText>
        </>
      ) : null}
    </>
  )
}
