/**
 * Alerts (issue 7): the live grid analysts triage from. `GET /v1/alerts` pages (by `next`)
 * under the filters and time range held in the URL; `GET /v1/alerts/stream` merges created and
 * changed alerts in without a reload (alerts/merge.ts); `/alerts/:id` opens the flyout.
 */
import {
  EuiButton,
  EuiButtonEmpty,
  EuiCallOut,
  EuiEmptyPrompt,
  EuiFlexGroup,
  EuiFlexItem,
  EuiHealth,
  EuiLoadingSpinner,
  EuiSpacer,
  EuiText,
  EuiTitle,
  EuiToolTip,
} from '@elastic/eui'
import { useInfiniteQuery, useQuery, useQueryClient } from '@tanstack/react-query'
import { useCallback, useEffect, useMemo, useRef, useState } from 'react'
import { useLocation, useNavigate, useParams } from 'react-router-dom'
import { api } from '../api/client.js'
import { AlertFilterBar, AlertTimePicker } from '../alerts/AlertFilters.js'
import { AlertFlyout } from '../alerts/AlertFlyout.js'
import { AlertsGrid } from '../alerts/AlertsGrid.js'
import { applyLiveAlert, composeRows, emptyLive, type LiveState, type LoadedPage } from '../alerts/merge.js'
import { filtersFromSearch, filtersToSearch, resolveRange, toAlertsQuery, type AlertFilters } from '../alerts/query.js'
import { errorText, ToastProvider } from '../alerts/toasts.js'
import type { Alert, AlertsPage as AlertsAnswer, RuleSummary } from '../alerts/types.js'
import { useAlertStream, type LiveStatus } from '../alerts/useAlertStream.js'
import { formatNumber } from '../components/format.js'

/** The grid keeps this height whatever it holds, so nothing below it moves. */
const GRID_HEIGHT = 'max(420px, calc(100vh - 300px))'
const HIGHLIGHT_MS = 4000

function LiveIndicator({ status, paused, waiting, onToggle }: { status: LiveStatus; paused: boolean; waiting: number; onToggle: () => void }) {
  const text = status === 'live' ? 'Live' : status === 'retrying' ? 'Reconnecting' : status === 'stopped' ? 'Stopped' : 'Connecting'
  const colour = status === 'live' ? (paused ? 'warning' : 'success') : status === 'retrying' || status === 'stopped' ? 'danger' : 'subdued'
  return (
    <EuiFlexGroup gutterSize="s" alignItems="center" responsive={false}>
      <EuiFlexItem grow={false}>
        <EuiToolTip content={status === 'live' ? 'New and changed alerts arrive as detection raises them.' : status === 'stopped' ? 'The live stream was refused (signed out or not allowed); reload after signing in.' : 'The live stream dropped; it resumes where it left off.'}>
          <EuiHealth color={colour} data-test-subj="alertsLive" data-live-status={status} tabIndex={0}>
            {text}
            {paused ? ` · paused${waiting > 0 ? ` (${formatNumber(waiting)} waiting)` : ''}` : ''}
          </EuiHealth>
        </EuiToolTip>
      </EuiFlexItem>
      <EuiFlexItem grow={false}>
        <EuiButtonEmpty size="s" iconType={paused ? 'play' : 'pause'} onClick={onToggle} data-test-subj="alertsLivePause" aria-pressed={paused}>
          {paused ? 'Resume' : 'Pause'}
        </EuiButtonEmpty>
      </EuiFlexItem>
    </EuiFlexGroup>
  )
}

function AlertsView() {
  const { id: openId } = useParams<{ id?: string }>()
  const location = useLocation()
  const navigate = useNavigate()
  const qc = useQueryClient()
  const filters = useMemo(() => filtersFromSearch(location.search), [location.search])
  const filterKey = filtersToSearch(filters)

  // The range as of the last load; a range ending "now" has no end, so it stays current.
  const [rangeNow, setRangeNow] = useState(() => Date.now())
  const range = useMemo(() => resolveRange(filters.start, filters.end, rangeNow), [filters.start, filters.end, rangeNow])

  const live = useRef<LiveState>(emptyLive())
  const [, setTick] = useState(0)
  const rerender = useCallback(() => setTick((t) => t + 1), [])
  const [highlighted, setHighlighted] = useState<ReadonlySet<string>>(new Set())
  const [paused, setPaused] = useState(false)
  const waiting = useRef(new Map<string, Alert>())

  // New filters: a new list, and the stream's insertions under the old ones are dropped.
  useEffect(() => {
    live.current = emptyLive(live.current.seq)
    setHighlighted(new Set())
    rerender()
  }, [filterKey, rerender])

  const list = useInfiniteQuery({
    queryKey: ['alerts', 'list', filterKey],
    initialPageParam: null as string | null,
    queryFn: async ({ pageParam, signal }): Promise<AlertsAnswer & { seq: number }> => {
      const seq = live.current.seq
      const now = Date.now()
      const query = toAlertsQuery(filters, now)
      if (!query) throw new Error('The time range is not valid.')
      if (pageParam) query.cursor = pageParam
      else setRangeNow(now)
      const page = await api<AlertsAnswer>('/v1/alerts', { query, signal })
      return { ...page, seq }
    },
    getNextPageParam: (last) => last.next ?? undefined,
    enabled: range !== null,
  })

  const rules = useQuery({
    queryKey: ['rules', 'list'],
    queryFn: ({ signal }) => api<{ items: RuleSummary[] }>('/v1/rules', { signal }),
    staleTime: 60_000,
  })

  const pages: LoadedPage[] = useMemo(() => (list.data?.pages ?? []).map((p) => ({ items: p.items, seq: p.seq })), [list.data])
  const shownIds = useMemo(() => new Set(pages.flatMap((p) => p.items.map((a) => a.id))), [pages])
  const rows = composeRows(pages, live.current)

  const flash = useCallback((ids: string[]) => {
    if (ids.length === 0) return
    setHighlighted((h) => new Set([...h, ...ids]))
    setTimeout(() => setHighlighted((h) => new Set([...h].filter((x) => !ids.includes(x)))), HIGHLIGHT_MS)
  }, [])

  const apply = useCallback(
    (alerts: Alert[]) => {
      const touched: string[] = []
      for (const a of alerts) {
        const r = applyLiveAlert(live.current, a, { filters, range, shown: (id) => shownIds.has(id) })
        live.current = r.state
        if (r.outcome !== 'ignored') touched.push(a.id)
        if (a.id === openId) void qc.invalidateQueries({ queryKey: ['alerts', 'detail', a.id] })
      }
      if (touched.length) {
        rerender()
        flash(touched)
      }
    },
    [filters, range, shownIds, openId, qc, rerender, flash],
  )

  const onAlert = useCallback(
    (a: Alert) => {
      if (paused) {
        waiting.current.set(a.id, a)
        rerender()
      } else apply([a])
    },
    [paused, apply, rerender],
  )
  const status = useAlertStream(onAlert)

  // The stream starts at "now" when it first connects; an alert raised between the list's read
  // and that moment would be in neither, so the list is read once more when it first goes live.
  // (Reconnects resume from the last id and miss nothing.)
  const wentLive = useRef(false)
  useEffect(() => {
    if (status !== 'live' || wentLive.current) return
    wentLive.current = true
    void qc.invalidateQueries({ queryKey: ['alerts', 'list'] })
  }, [status, qc])

  const togglePause = () => {
    if (paused) {
      const held = [...waiting.current.values()]
      waiting.current.clear()
      setPaused(false)
      apply(held)
    } else setPaused(true)
  }

  const setFilters = (f: AlertFilters) => navigate({ pathname: location.pathname, search: filtersToSearch(f) })
  const onOpen = useCallback((id: string) => navigate({ pathname: `/alerts/${encodeURIComponent(id)}`, search: location.search }), [navigate, location.search])
  const onClose = () => navigate({ pathname: '/alerts', search: location.search })
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = list
  const onNearEnd = useCallback(() => {
    if (hasNextPage && !isFetchingNextPage) void fetchNextPage()
  }, [hasNextPage, isFetchingNextPage, fetchNextPage])

  const ruleIds = useMemo(() => {
    const ids = new Set((rules.data?.items ?? []).map((r) => r.id))
    for (const r of rows) ids.add(r.rule)
    if (filters.rule) ids.add(filters.rule)
    return [...ids].sort()
  }, [rules.data, rows, filters.rule])

  let grid: React.ReactNode
  if (range === null) {
    grid = (
      <EuiCallOut color="warning" iconType="warning" title="That time range is not valid" data-test-subj="alertsBadRange">
        Pick a start before the end, or one of the quick ranges.
      </EuiCallOut>
    )
  } else if (list.isError) {
    grid = (
      <EuiCallOut announceOnMount color="danger" iconType="error" title="The alerts could not be read" data-test-subj="alertsError">
        {errorText(list.error)}
      </EuiCallOut>
    )
  } else if (list.isLoading) {
    grid = (
      <EuiFlexGroup justifyContent="center" alignItems="center" style={{ height: '100%' }}>
        <EuiLoadingSpinner size="xl" />
      </EuiFlexGroup>
    )
  } else if (rows.length === 0) {
    grid = (
      <EuiEmptyPrompt
        iconType="bell"
        title={<h2>No alerts here</h2>}
        body="No alert first seen in this time range matches these filters. New ones appear here as detection raises them; widen the time range or clear a filter to see older ones."
        data-test-subj="alertsEmpty"
      />
    )
  } else {
    grid = <AlertsGrid rows={rows} highlighted={highlighted} height={GRID_HEIGHT} onOpen={onOpen} onNearEnd={onNearEnd} />
  }

  return (
    <div>
      <EuiFlexGroup alignItems="center" gutterSize="m" responsive={false} wrap>
        <EuiFlexItem grow={false}>
          <EuiTitle size="m">
            <h1>Alerts</h1>
          </EuiTitle>
        </EuiFlexItem>
        <EuiFlexItem grow={false}>
          <LiveIndicator status={status} paused={paused} waiting={waiting.current.size} onToggle={togglePause} />
        </EuiFlexItem>
        <EuiFlexItem grow={true} />
        <EuiFlexItem grow={false}>
          <AlertTimePicker
            filters={filters}
            onChange={setFilters}
            onRefresh={() => {
              live.current = emptyLive(live.current.seq)
              void list.refetch()
            }}
            isLoading={list.isFetching}
          />
        </EuiFlexItem>
      </EuiFlexGroup>
      <EuiSpacer size="m" />
      <AlertFilterBar filters={filters} rules={ruleIds} onChange={setFilters} />
      {rules.isError && (
        <>
          <EuiSpacer size="s" />
          <EuiCallOut size="s" color="warning" iconType="warning" title="The rule list could not be read; the rule filter offers the rules seen in the grid">
            {errorText(rules.error)}
          </EuiCallOut>
        </>
      )}
      <EuiSpacer size="s" />
      <div style={{ height: GRID_HEIGHT }}>{grid}</div>
      <EuiSpacer size="s" />
      <EuiFlexGroup alignItems="center" gutterSize="s" responsive={false} style={{ minHeight: 32 }}>
        <EuiFlexItem grow={false}>
          <EuiText size="xs" color="subdued" data-test-subj="alertsCount">
            {formatNumber(rows.length)} alert{rows.length === 1 ? '' : 's'} loaded{list.hasNextPage ? ', more in this range' : list.data ? ', all in this range' : ''}
          </EuiText>
        </EuiFlexItem>
        {list.hasNextPage && (
          <EuiFlexItem grow={false}>
            <EuiButton size="s" onClick={() => void list.fetchNextPage()} isLoading={list.isFetchingNextPage} data-test-subj="alertsLoadMore">
              Load more
            </EuiButton>
          </EuiFlexItem>
        )}
      </EuiFlexGroup>
      {openId && <AlertFlyout key={openId} id={openId} onClose={onClose} />}
    </div>
  )
}

export default function AlertsPage() {
  return (
    <ToastProvider>
      <AlertsView />
    </ToastProvider>
  )
}
