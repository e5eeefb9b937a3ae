/**
 * The alerts grid: EuiDataGrid (virtualised), fixed row height, sortable, columns selectable.
 * Rows come in already merged (merge.ts); sorting is done here on the loaded rows.
 */
import { EuiButtonIcon, EuiDataGrid, EuiLink, EuiScreenReaderOnly, useEuiTheme, type EuiDataGridColumn, type EuiDataGridControlColumn } from '@elastic/eui'
import { css } from '@emotion/css'
import { useCallback, useMemo, useState } from 'react'
import { useNavigate } from 'react-router-dom'
import { SeverityBadge, StatusBadge, Time, formatNumber } from '../components/format.js'
import { sortAlerts, type SortSpec } from './query.js'
import type { Alert } from './types.js'

const COLUMNS: EuiDataGridColumn[] = [
  { id: 'last_seen', displayAsText: 'Last seen', initialWidth: 124, schema: 'datetime' },
  { id: 'severity', displayAsText: 'Severity', initialWidth: 88 },
  { id: 'status', displayAsText: 'Status', initialWidth: 116 },
  { id: 'rule', displayAsText: 'Rule', initialWidth: 190 },
  { id: 'summary', displayAsText: 'Summary', initialWidth: 380 },
  { id: 'entity', displayAsText: 'Entity', initialWidth: 160 },
  { id: 'api_key_id', displayAsText: 'API key', initialWidth: 130 },
  { id: 'account_id', displayAsText: 'Account', initialWidth: 130 },
  { id: 'client_ip', displayAsText: 'Client IP', initialWidth: 124 },
  { id: 'count', displayAsText: 'Count', initialWidth: 72, schema: 'numeric' },
  { id: 'incident_id', displayAsText: 'Incident', initialWidth: 120 },
]
const ALL_IDS = COLUMNS.map((c) => c.id)
const COLUMNS_KEY = 'vigil.alerts.columns'

function initialColumns(): string[] {
  try {
    const saved = JSON.parse(localStorage.getItem(COLUMNS_KEY) ?? 'null') as unknown
    if (Array.isArray(saved) && saved.length > 0 && saved.every((c) => typeof c === 'string' && ALL_IDS.includes(c))) return saved as string[]
  } catch {
    // A damaged setting falls back to every column.
  }
  return ALL_IDS
}

export interface AlertsGridProps {
  rows: readonly Alert[]
  /** Ids to highlight (just arrived or just changed). */
  highlighted: ReadonlySet<string>
  height: string
  onOpen: (id: string) => void
  /** Called when the last rows come into view: load the next page. */
  onNearEnd: () => void
}

export function AlertsGrid({ rows, highlighted, height, onOpen, onNearEnd }: AlertsGridProps) {
  const { euiTheme } = useEuiTheme()
  const navigate = useNavigate()
  const [visibleColumns, setVisible] = useState<string[]>(initialColumns)
  const [sorting, setSorting] = useState<SortSpec[]>([])
  const setVisibleColumns = useCallback((cols: string[]) => {
    setVisible(cols)
    localStorage.setItem(COLUMNS_KEY, JSON.stringify(cols))
  }, [])
  const sorted = useMemo(() => sortAlerts(rows, sorting), [rows, sorting])

  const highlightClass = useMemo(
    () =>
      css({
        '& .euiDataGridRowCell': { backgroundColor: euiTheme.colors.backgroundLightSuccess },
        transition: 'background-color 600ms ease-out',
      }),
    [euiTheme],
  )
  const rowClasses = useMemo(() => {
    const out: Record<number, string> = {}
    sorted.forEach((a, i) => {
      if (highlighted.has(a.id)) out[i] = highlightClass
    })
    return out
  }, [sorted, highlighted, highlightClass])

  const leading: EuiDataGridControlColumn[] = useMemo(
    () => [
      {
        id: 'open',
        width: 40,
        headerCellRender: () => (
          <EuiScreenReaderOnly>
            <span>Open</span>
          </EuiScreenReaderOnly>
        ),
        rowCellRender: ({ rowIndex }) => {
          const a = sorted[rowIndex]
          if (!a) return null
          return <EuiButtonIcon iconType="inspect" aria-label={`Open alert ${a.id}`} data-test-subj={`openAlert-${a.id}`} onClick={() => onOpen(a.id)} />
        },
      },
    ],
    [sorted, onOpen],
  )

  const renderCellValue = useCallback(
    ({ rowIndex, columnId }: { rowIndex: number; columnId: string }) => {
      const a = sorted[rowIndex]
      if (!a) return null
      switch (columnId) {
        case 'last_seen':
          return <Time iso={a.last_seen} />
        case 'severity':
          return <SeverityBadge severity={a.severity} />
        case 'status':
          return <StatusBadge status={a.status} />
        case 'entity':
          return `${a.entity.type}: ${a.entity.id}`
        case 'count':
          return formatNumber(a.count)
        case 'incident_id':
          return a.incident_id ? (
            <EuiLink href={`/incidents/${a.incident_id}`} onClick={(e: React.MouseEvent) => (e.preventDefault(), navigate(`/incidents/${a.incident_id}`))}>
              {a.incident_id}
            </EuiLink>
          ) : (
            '—'
          )
        case 'summary':
          // Plain text: the cell truncates it to one line; the cell popover shows it whole.
          return a.summary
        default: {
          const v = (a as unknown as Record<string, unknown>)[columnId]
          return v === null || v === undefined || v === '' ? '—' : String(v)
        }
      }
    },
    [sorted, navigate],
  )

  return (
    <EuiDataGrid
      aria-label="Alerts"
      data-test-subj="alertsGrid"
      columns={COLUMNS}
      columnVisibility={{ visibleColumns, setVisibleColumns }}
      leadingControlColumns={leading}
      rowCount={sorted.length}
      renderCellValue={renderCellValue}
      sorting={{ columns: sorting, onSort: (cols) => setSorting(cols as SortSpec[]) }}
      gridStyle={{ border: 'horizontal', header: 'underline', rowHover: 'highlight', stripes: false, fontSize: 's', cellPadding: 's', rowClasses }}
      toolbarVisibility={{ showColumnSelector: true, showSortSelector: true, showDisplaySelector: false, showFullScreenSelector: true, showKeyboardShortcuts: true }}
      height={height}
      width="100%"
      virtualizationOptions={{
        onItemsRendered: ({ visibleRowStopIndex }) => {
          if (visibleRowStopIndex >= sorted.length - 10) onNearEnd()
        },
      }}
    />
  )
}
