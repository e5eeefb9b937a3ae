/**
 * Reports (issues 7, 8): the stored reports (`GET /v1/reports`), each downloadable with the
 * session's token (`GET /v1/reports/:id/download` → Blob → a file under the server's name), and
 * compiling a new one (reports:write). The regulator role sees only this page.
 */
import {
  EuiBasicTable,
  EuiButton,
  EuiCallOut,
  EuiCode,
  EuiCopy,
  EuiButtonIcon,
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
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { api } from '../api/client.js'
import { Can } from '../auth/AuthContext.js'
import { formatNumber, Time } from '../components/format.js'
import { actorName } from '../killswitches/resetState.js'
import { CompileForm } from '../reports/CompileForm.js'
import { downloadReport } from '../reports/download.js'
import type { StoredReport } from '../reports/types.js'

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${formatNumber(n / 1024, 1)} KiB`
  return `${formatNumber(n / 1024 / 1024, 1)} MiB`
}

function DownloadButton({ r, onError, onDone, subj }: { r: StoredReport; onError: (msg: string) => void; onDone: (name: string) => void; subj?: string }) {
  const dl = useMutation({
    mutationFn: () => downloadReport(r.id, `${r.id}-${r.type}.${r.format}`),
    onSuccess: onDone,
    onError: (e: Error) => onError(`${r.id}: ${e.message}`),
  })
  return (
    <EuiButton size="s" iconType="download" isLoading={dl.isPending} onClick={() => dl.mutate()} data-test-subj={subj ?? `reportDownload-${r.id}`} aria-label={`Download ${r.type} ${r.format} report ${r.id}`}>
      {r.format.toUpperCase()}
    </EuiButton>
  )
}

export default function ReportsPage() {
  const qc = useQueryClient()
  const [pageIndex, setPageIndex] = useState(0)
  const [pageSize, setPageSize] = useState(20)
  const [compiled, setCompiled] = useState<StoredReport | null>(null)
  const [downloadError, setDownloadError] = useState<string | null>(null)
  const [downloaded, setDownloaded] = useState<string | null>(null)

  const list = useQuery({
    queryKey: ['reports'],
    queryFn: ({ signal }) => api<{ items: StoredReport[]; next: string | null }>('/v1/reports', { query: { limit: 1000 }, signal }),
    refetchInterval: 60_000,
  })
  const items = list.data?.items ?? []
  const pageItems = items.slice(pageIndex * pageSize, (pageIndex + 1) * pageSize)

  const columns: Array<EuiBasicTableColumn<StoredReport>> = [
    { field: 'type', name: 'Type', render: (t: string, r: StoredReport) => (r.parameters?.incident_id ? <span>{t} <EuiCode>{r.parameters.incident_id}</EuiCode></span> : t) },
    {
      name: 'Period',
      render: (r: StoredReport) => (
        <span>
          <Time iso={r.period.from} /> → <Time iso={r.period.to} />
        </span>
      ),
    },
    { field: 'format', name: 'Format', width: '70px' },
    { field: 'created_at', name: 'Generated at', render: (t: string) => <Time iso={t} /> },
    { field: 'created_by', name: 'By', render: (a: string) => actorName(a) },
    { field: 'size', name: 'Size', align: 'right', width: '90px', render: (n: number) => formatBytes(n) },
    {
      field: 'sha256',
      name: 'SHA-256',
      render: (h: string) => (
        <EuiFlexGroup gutterSize="xs" alignItems="center" responsive={false}>
          <EuiFlexItem grow={false}>
            <EuiToolTip content={h}>
              <EuiCode tabIndex={0}>{h.slice(0, 12)}…</EuiCode>
            </EuiToolTip>
          </EuiFlexItem>
          <EuiFlexItem grow={false}>
            <EuiCopy textToCopy={h}>{(copy) => <EuiButtonIcon iconType="copy" aria-label="Copy the SHA-256" onClick={copy} size="xs" />}</EuiCopy>
          </EuiFlexItem>
        </EuiFlexGroup>
      ),
    },
    {
      name: 'Download',
      width: '110px',
      render: (r: StoredReport) => (
        <DownloadButton
          r={r}
          onError={(m) => {
            setDownloaded(null)
            setDownloadError(m)
          }}
          onDone={(name) => {
            setDownloadError(null)
            setDownloaded(name)
          }}
        />
      ),
    },
  ]

  return (
    <>
      <EuiTitle size="l">
        <h1>Reports</h1>
      </EuiTitle>
      <EuiSpacer size="m" />
      <Can permission="reports:write">
        <EuiPanel hasBorder>
          <EuiTitle size="xs">
            <h2>Compile a report</h2>
          </EuiTitle>
          <EuiSpacer size="s" />
          <CompileForm
            onCompiled={(r) => {
              setCompiled(r)
              setPageIndex(0)
              void qc.invalidateQueries({ queryKey: ['reports'] })
            }}
          />
          {compiled && (
            <>
              <EuiSpacer size="m" />
              <EuiCallOut title={`Compiled ${compiled.type} (${compiled.format})`} color="success" iconType="check" onDismiss={() => setCompiled(null)} data-test-subj="reportCompiled">
                <p>
                  Report <EuiCode>{compiled.id}</EuiCode>, {formatBytes(compiled.size)}, SHA-256 <EuiCode>{compiled.sha256}</EuiCode>.
                </p>
                <DownloadButton r={compiled} onError={setDownloadError} onDone={setDownloaded} subj="reportDownloadCompiled" />
              </EuiCallOut>
            </>
          )}
        </EuiPanel>
        <EuiSpacer size="m" />
      </Can>
      {list.error && (
        <>
          <EuiCallOut title="Could not load the reports" color="danger" iconType="error">
            {list.error.message}
          </EuiCallOut>
          <EuiSpacer size="m" />
        </>
      )}
      {downloadError && (
        <>
          <EuiCallOut title="The download failed" color="danger" iconType="error" onDismiss={() => setDownloadError(null)} data-test-subj="reportDownloadError">
            {downloadError}
          </EuiCallOut>
          <EuiSpacer size="m" />
        </>
      )}
      {downloaded && (
        <>
          <EuiCallOut title={`Saved ${downloaded}`} color="success" iconType="download" size="s" onDismiss={() => setDownloaded(null)} data-test-subj="reportDownloaded" />
          <EuiSpacer size="m" />
        </>
      )}
      <EuiPanel hasBorder>
        <EuiTitle size="xs">
          <h2>Stored reports</h2>
        </EuiTitle>
        <EuiText size="xs" color="subdued">
          <p>Newest first. The SHA-256 is of the file's bytes, as recorded when it was written; the download is checked against it.</p>
        </EuiText>
        <EuiSpacer size="s" />
        <EuiBasicTable
          tableCaption="Stored reports"
          items={pageItems}
          columns={columns}
          loading={list.isLoading}
          rowProps={(r: StoredReport) => ({ 'data-test-subj': `reportRow-${r.id}` })}
          pagination={{ pageIndex, pageSize, totalItemCount: items.length, pageSizeOptions: [20, 50, 100] }}
          onChange={({ page }: CriteriaWithPagination<StoredReport>) => {
            if (page) {
              setPageIndex(page.index)
              setPageSize(page.size)
            }
          }}
          noItemsMessage={list.isLoading ? 'Loading…' : 'No reports yet. Reports compiled here, by vigil reports generate, by a schedule or by a playbook appear here to download.'}
          data-test-subj="reportsTable"
        />
      </EuiPanel>
    </>
  )
}
