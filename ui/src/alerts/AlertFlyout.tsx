/**
 * One alert in a flyout (`/alerts/:id`, linkable): summary, badges, who and when, incident,
 * the evidence against its baseline, the actions the person may take, the status history and
 * the raw events.
 */
import {
  EuiBasicTable,
  EuiCallOut,
  EuiDescriptionList,
  EuiFlexGroup,
  EuiFlexItem,
  EuiFlyout,
  EuiFlyoutBody,
  EuiFlyoutHeader,
  EuiHorizontalRule,
  EuiLink,
  EuiSkeletonText,
  EuiSkeletonTitle,
  EuiSpacer,
  EuiStat,
  EuiText,
  EuiTitle,
  type EuiBasicTableColumn,
} from '@elastic/eui'
import { useQuery } from '@tanstack/react-query'
import { useMemo } from 'react'
import { useNavigate } from 'react-router-dom'
import { api } from '../api/client.js'
import { useAuth } from '../auth/AuthContext.js'
import { SeverityBadge, StatusBadge, Time, formatDuration, formatNumber } from '../components/format.js'
import { AlertActions } from './AlertActions.js'
import { EvidenceChart } from './EvidenceChart.js'
import { shapeEvidence } from './evidence.js'
import { KeyPanel } from './KeyPanel.js'
import { RawEvents } from './RawEvents.js'
import { errorText } from './toasts.js'
import type { AlertChange, AlertDetail } from './types.js'

function Section({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <section>
      <EuiHorizontalRule margin="m" />
      <EuiTitle size="xxs">
        <h3>{title}</h3>
      </EuiTitle>
      <EuiSpacer size="s" />
      {children}
    </section>
  )
}

const HISTORY_COLUMNS: EuiBasicTableColumn<AlertChange>[] = [
  { name: 'When', width: '150px', render: (h: AlertChange) => <Time iso={h.changed_at ?? h.at} /> },
  { field: 'change', name: 'Change', width: '90px', render: (c?: string) => c ?? 'status' },
  { field: 'status', name: 'Status', width: '120px', render: (s: string) => <StatusBadge status={s} /> },
  { field: 'severity', name: 'Severity', width: '90px', render: (s?: string) => (s ? <SeverityBadge severity={s} /> : '—') },
  { field: 'count', name: 'Count', width: '64px', render: (c?: number) => formatNumber(c) },
  { name: 'By', width: '130px', truncateText: true, render: (h: AlertChange) => h.changed_by ?? h.actor ?? '—' },
  { field: 'note', name: 'Note', render: (n?: string) => n || '—' },
]

function Body({ alert }: { alert: AlertDetail }) {
  const navigate = useNavigate()
  const auth = useAuth()
  const ev = useMemo(() => shapeEvidence(alert), [alert])
  const history = useMemo(() => [...alert.history].reverse(), [alert.history])
  const go = (path: string) => (e: React.MouseEvent) => (e.preventDefault(), navigate(path))
  const ageMs = Date.parse(alert.last_seen) - Date.parse(alert.first_seen)
  return (
    <>
      <EuiFlexGroup gutterSize="l" wrap responsive={false}>
        <EuiFlexItem grow={false}>
          <EuiStat title={formatNumber(ev.value, 2)} description="Actual" titleSize="s" reverse />
        </EuiFlexItem>
        <EuiFlexItem grow={false}>
          <EuiStat title={formatNumber(ev.baseline, 2)} description="Baseline" titleSize="s" reverse />
        </EuiFlexItem>
        <EuiFlexItem grow={false}>
          <EuiStat title={formatNumber(ev.threshold, 2)} description={ev.thresholdOf === 'z' ? 'Threshold (robust z)' : 'Threshold'} titleSize="s" reverse />
        </EuiFlexItem>
        {ev.z !== null && (
          <EuiFlexItem grow={false}>
            <EuiStat title={formatNumber(ev.z, 2)} description="Robust z" titleSize="s" reverse titleColor={ev.threshold !== null && ev.thresholdOf === 'z' && ev.z >= ev.threshold ? 'danger' : 'default'} />
          </EuiFlexItem>
        )}
        <EuiFlexItem grow={false}>
          <EuiStat title={formatNumber(alert.score, 1)} description="Score (0–100)" titleSize="s" reverse />
        </EuiFlexItem>
      </EuiFlexGroup>
      <EuiSpacer size="s" />
      <EvidenceChart view={ev} />
      <EuiSpacer size="m" />
      <EuiDescriptionList
        type="column"
        compressed
        columnWidths={[1, 3]}
        listItems={[
          { title: 'Entity', description: `${alert.entity.type}: ${alert.entity.id}` },
          {
            title: 'API key',
            description: alert.api_key_id ? (
              <span data-test-subj="alertFlyoutKey">
                {auth.can('keys:read') ? (
                  <EuiLink href={`/keys/${alert.api_key_id}`} onClick={go(`/keys/${alert.api_key_id}`)}>
                    {alert.api_key_id}
                  </EuiLink>
                ) : (
                  alert.api_key_id
                )}
              </span>
            ) : (
              <span data-test-subj="alertFlyoutKey">—</span>
            ),
          },
          { title: 'Account', description: alert.account_id ?? '—' },
          { title: 'Client IP', description: alert.client_ip ?? '—' },
          { title: 'First seen', description: <Time iso={alert.first_seen} /> },
          { title: 'Last seen', description: <><Time iso={alert.last_seen} /> {ageMs > 0 ? `(${formatDuration(ageMs)} after the first)` : ''}</> },
          { title: 'Count', description: formatNumber(alert.count) },
          {
            title: 'Incident',
            description: alert.incident_id ? (
              <EuiLink href={`/incidents/${alert.incident_id}`} onClick={go(`/incidents/${alert.incident_id}`)} data-test-subj="alertFlyoutIncident">
                {alert.incident_id}
              </EuiLink>
            ) : (
              'none'
            ),
          },
          ...(alert.detected_at ? [{ title: 'Detected', description: <Time iso={alert.detected_at} /> }] : []),
        ]}
      />
      {alert.api_key_id && (
        <>
          <EuiSpacer size="m" />
          <KeyPanel alert={{ ...alert, api_key_id: alert.api_key_id }} />
        </>
      )}
      {(auth.can('alerts:write') || auth.can('incidents:write')) && (
        <Section title="Actions">
          <AlertActions alert={alert} />
        </Section>
      )}
      <Section title="Evidence">
        {ev.details.length === 0 ? (
          <EuiText size="s" color="subdued">
            The rule recorded nothing beyond the numbers above.
          </EuiText>
        ) : (
          <EuiDescriptionList type="column" compressed columnWidths={[1, 3]} listItems={ev.details.map((d) => ({ title: d.label, description: <span style={{ wordBreak: 'break-word' }}>{d.text}</span> }))} />
        )}
      </Section>
      <Section title="Status history">
        <EuiBasicTable<AlertChange> tableCaption="Status history" items={history} columns={HISTORY_COLUMNS} compressed noItemsMessage="No changes recorded." data-test-subj="alertHistory" />
      </Section>
      <Section title="Raw events">
        {auth.can('events:read') ? <RawEvents alert={alert} /> : <EuiText size="s">Your role does not read events.</EuiText>}
      </Section>
    </>
  )
}

export function AlertFlyout({ id, onClose }: { id: string; onClose: () => void }) {
  const detail = useQuery({
    queryKey: ['alerts', 'detail', id],
    queryFn: ({ signal }) => api<AlertDetail>(`/v1/alerts/${encodeURIComponent(id)}`, { signal }),
  })
  const a = detail.data
  return (
    <EuiFlyout onClose={onClose} size={880} ownFocus aria-labelledby="alertFlyoutTitle" data-test-subj="alertFlyout" maxWidth="92vw">
      <EuiFlyoutHeader hasBorder>
        {a ? (
          <>
            <EuiFlexGroup gutterSize="s" alignItems="center" responsive={false}>
              <EuiFlexItem grow={false}>
                <SeverityBadge severity={a.severity} />
              </EuiFlexItem>
              <EuiFlexItem grow={false}>
                <StatusBadge status={a.status} />
              </EuiFlexItem>
              <EuiFlexItem grow={false}>
                <EuiText size="xs" color="subdued">
                  {a.id}
                </EuiText>
              </EuiFlexItem>
            </EuiFlexGroup>
            <EuiSpacer size="s" />
            <EuiTitle size="s">
              <h2 id="alertFlyoutTitle">
                <span data-test-subj="alertFlyoutRule">{a.rule}</span>
              </h2>
            </EuiTitle>
            <EuiSpacer size="xs" />
            <EuiText size="s">
              <p data-test-subj="alertFlyoutSummary">{a.summary}</p>
            </EuiText>
          </>
        ) : (
          <>
            <EuiSkeletonTitle size="s" isLoading={detail.isLoading} />
            <h2 id="alertFlyoutTitle" className="euiScreenReaderOnly">
              Alert {id}
            </h2>
          </>
        )}
      </EuiFlyoutHeader>
      <EuiFlyoutBody>
        {detail.isError ? (
          <EuiCallOut announceOnMount color="danger" iconType="error" title={`Alert ${id} could not be read`}>
            {errorText(detail.error)}
          </EuiCallOut>
        ) : a ? (
          <Body alert={a} />
        ) : (
          <EuiSkeletonText lines={10} isLoading />
        )}
      </EuiFlyoutBody>
    </EuiFlyout>
  )
}
