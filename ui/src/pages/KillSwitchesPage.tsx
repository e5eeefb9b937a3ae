/**
 * Kill-switches (issue 7): every scope's state — tripped switches and the history — from
 * `GET /v1/killswitches`; trip with scope and reason; a four-eyes reset (a second person).
 */
import {
  EuiBasicTable,
  EuiButton,
  EuiCallOut,
  EuiFlexGroup,
  EuiFlexItem,
  EuiPanel,
  EuiSpacer,
  EuiText,
  EuiTitle,
  EuiToolTip,
  type CriteriaWithPagination,
  type EuiBasicTableColumn,
} from '@elastic/eui'
import { useQuery, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { api } from '../api/client.js'
import { Can, useAuth } from '../auth/AuthContext.js'
import { StatusBadge, Time } from '../components/format.js'
import { ResetModal } from '../killswitches/ResetModal.js'
import { actorName, resetLabel, resetState, sortSwitches, type ResetAnswer } from '../killswitches/resetState.js'
import { TripModal } from '../killswitches/TripModal.js'
import type { KillSwitch } from '../killswitches/types.js'

type Notice = { color: 'success' | 'warning'; title: string; text: string } | null

function scopeText(sw: KillSwitch) {
  return (
    <span>
      <strong>{sw.scope.type}</strong> <code>{sw.scope.id}</code>
    </span>
  )
}

export default function KillSwitchesPage() {
  const auth = useAuth()
  const email = auth.state.status === 'signed-in' ? auth.state.me.email : undefined
  const qc = useQueryClient()
  const [tripping, setTripping] = useState(false)
  const [resetting, setResetting] = useState<KillSwitch | null>(null)
  const [notice, setNotice] = useState<Notice>(null)
  const [pageIndex, setPageIndex] = useState(0)
  const [pageSize, setPageSize] = useState(20)

  const tripped = useQuery({
    queryKey: ['killswitches', 'tripped'],
    queryFn: ({ signal }) => api<{ items: KillSwitch[] }>('/v1/killswitches', { query: { status: 'tripped', limit: 1000 }, signal }),
    refetchInterval: 10_000,
  })
  const history = useQuery({
    queryKey: ['killswitches', 'reset'],
    queryFn: ({ signal }) => api<{ items: KillSwitch[] }>('/v1/killswitches', { query: { status: 'reset', limit: 200 }, signal }),
    refetchInterval: 30_000,
  })
  const refresh = () => void qc.invalidateQueries({ queryKey: ['killswitches'] })

  const onTripped = (sw: KillSwitch) => {
    setTripping(false)
    setNotice({ color: 'success', title: `Tripped ${sw.scope.type} ${sw.scope.id}`, text: 'New orders on this scope are refused from the trading API’s next control update; resting orders are cancelled by the trading API.' })
    refresh()
  }
  const onReset = (a: ResetAnswer) => {
    setResetting(null)
    const sw = a.killswitch
    if (a.kind === 'requested') {
      setNotice({ color: 'warning', title: `Reset of ${sw.scope.type} ${sw.scope.id} requested — waiting for a second person`, text: `Asked by ${actorName(sw.reset_request?.by)}. The switch stays tripped until another person confirms the reset.` })
    } else {
      setNotice({ color: 'success', title: `Reset ${sw.scope.type} ${sw.scope.id}`, text: `Confirmed by ${actorName(sw.reset_by)}; the trading API accepts orders on this scope again.` })
    }
    refresh()
  }

  const trippedCols: Array<EuiBasicTableColumn<KillSwitch>> = [
    { name: 'Scope', render: scopeText },
    { field: 'tripped_at', name: 'Tripped at', render: (t: string) => <Time iso={t} /> },
    { field: 'tripped_by', name: 'By', render: (a: string) => actorName(a) },
    { field: 'reason', name: 'Reason', truncateText: { lines: 2 } },
    {
      name: 'Reset',
      render: (sw: KillSwitch) => {
        const st = resetState(sw)
        return st.kind === 'waiting' ? (
          <EuiToolTip content={`${st.reason} — ${st.at}`}>
            <EuiText size="s" color="warning" tabIndex={0} data-test-subj={`killswitchWaiting-${sw.id}`}>
              Requested by {actorName(st.by)}; waiting for a second person
            </EuiText>
          </EuiToolTip>
        ) : (
          <EuiText size="s" color="subdued">
            —
          </EuiText>
        )
      },
    },
    {
      name: 'Actions',
      width: '190px',
      render: (sw: KillSwitch) => {
        const l = resetLabel(sw, email)
        const button = (
          <EuiButton size="s" iconType="refresh" data-test-subj={`killswitchReset-${sw.id}`} onClick={() => setResetting(sw)}>
            {l.label}
          </EuiButton>
        )
        return (
          <Can permission="killswitches:write">{l.hint ? <EuiToolTip content={l.hint}>{button}</EuiToolTip> : button}</Can>
        )
      },
    },
  ]
  const historyCols: Array<EuiBasicTableColumn<KillSwitch>> = [
    { name: 'Scope', render: scopeText },
    { field: 'status', name: 'State', render: (s: string) => <StatusBadge status={s} /> },
    { field: 'tripped_at', name: 'Tripped at', render: (t: string) => <Time iso={t} /> },
    { field: 'tripped_by', name: 'By', render: (a: string) => actorName(a) },
    { field: 'reason', name: 'Reason', truncateText: { lines: 2 } },
    { field: 'reset_by', name: 'Reset confirmed by', render: (a: string | null) => actorName(a) },
    { field: 'reset_reason', name: 'Reset reason', truncateText: { lines: 2 }, render: (r: string | null) => r ?? '—' },
    { field: 'reset_at', name: 'Reset at', render: (t: string | null) => <Time iso={t} /> },
  ]

  const trippedItems = sortSwitches(tripped.data?.items ?? [])
  const historyItems = sortSwitches(history.data?.items ?? [])
  const historyPage = historyItems.slice(pageIndex * pageSize, (pageIndex + 1) * pageSize)
  const rowProps = (sw: KillSwitch) => ({ 'data-test-subj': `killswitchRow-${sw.id}` })

  return (
    <>
      <EuiFlexGroup alignItems="center" justifyContent="spaceBetween">
        <EuiFlexItem grow={false}>
          <EuiTitle size="l">
            <h1>Kill-switches</h1>
          </EuiTitle>
        </EuiFlexItem>
        <EuiFlexItem grow={false}>
          <Can permission="killswitches:write">
            <EuiButton color="danger" fill iconType="stopFill" data-test-subj="killswitchTrip" onClick={() => setTripping(true)}>
              Trip a kill-switch
            </EuiButton>
          </Can>
        </EuiFlexItem>
      </EuiFlexGroup>
      <EuiSpacer size="m" />
      {notice && (
        <>
          <EuiCallOut title={notice.title} color={notice.color} iconType={notice.color === 'success' ? 'check' : 'clock'} onDismiss={() => setNotice(null)} data-test-subj="killswitchNotice">
            {notice.text}
          </EuiCallOut>
          <EuiSpacer size="m" />
        </>
      )}
      {[tripped.error, history.error].filter(Boolean).map((e, i) => (
        <div key={i}>
          <EuiCallOut title="Could not load kill-switches" color="danger" iconType="error">
            {e!.message}
          </EuiCallOut>
          <EuiSpacer size="m" />
        </div>
      ))}
      <EuiPanel hasBorder>
        <EuiTitle size="xs">
          <h2>Tripped now ({trippedItems.length})</h2>
        </EuiTitle>
        <EuiSpacer size="s" />
        <EuiBasicTable
          tableCaption="Tripped kill-switches"
          items={trippedItems}
          columns={trippedCols}
          rowProps={rowProps}
          loading={tripped.isLoading}
          noItemsMessage={tripped.isLoading ? 'Loading…' : 'No kill-switch is tripped: orders flow on every scope. A tripped switch would be listed here with who tripped it and why.'}
          data-test-subj="killswitchTripped"
        />
      </EuiPanel>
      <EuiSpacer size="m" />
      <EuiPanel hasBorder>
        <EuiTitle size="xs">
          <h2>History</h2>
        </EuiTitle>
        <EuiSpacer size="s" />
        <EuiBasicTable
          tableCaption="Kill-switches that have been reset"
          items={historyPage}
          columns={historyCols}
          rowProps={rowProps}
          loading={history.isLoading}
          pagination={{ pageIndex, pageSize, totalItemCount: historyItems.length, pageSizeOptions: [20, 50, 100] }}
          onChange={({ page }: CriteriaWithPagination<KillSwitch>) => {
            if (page) {
              setPageIndex(page.index)
              setPageSize(page.size)
            }
          }}
          noItemsMessage={history.isLoading ? 'Loading…' : 'No kill-switch has been reset yet. Switches reset by two people appear here with both names.'}
          data-test-subj="killswitchHistory"
        />
        <EuiText size="xs" color="subdued">
          <p>The newest 200 resets. Who asked for each reset (the first person) is in the kill-switch-log report and the audit log.</p>
        </EuiText>
      </EuiPanel>
      {tripping && <TripModal onClose={() => setTripping(false)} onTripped={onTripped} />}
      {resetting && <ResetModal sw={resetting} email={email} onClose={() => setResetting(null)} onDone={onReset} />}
    </>
  )
}
