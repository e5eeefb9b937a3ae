/** Reports as `GET /v1/reports` lists them (respond/src/reports/report-store.ts StoredReport). */
export const REPORT_TYPES = ['kill-switch-log', 'pretrade-breaches', 'alert-latency', 'clock-sync', 'dora-incident', 'market-access-review', 'audit-integrity'] as const
export type ReportType = (typeof REPORT_TYPES)[number]
export const REPORT_FORMATS = ['pdf', 'json', 'csv'] as const
export type ReportFormat = (typeof REPORT_FORMATS)[number]

export const REPORT_TYPE_HELP: Record<ReportType, string> = {
  'kill-switch-log': 'Every kill-switch trip and reset in the period, with who and why, and what each guard enforced (RTS 6 Art. 12)',
  'pretrade-breaches': 'Orders refused by pre-trade controls, and limit overrides with their approver (RTS 6 Art. 15)',
  'alert-latency': 'How long alerts took from event to detection and response',
  'clock-sync': "Each source's clock skew against its RTS 25 limit",
  'dora-incident': 'One incident as a DORA major-incident report (needs the incident id)',
  'market-access-review': 'Annual review pack (SEC 15c3-5(e)): controls in force, evidence they ran, threshold changes with who and when, test runs',
  'audit-integrity': "The audit log's hash chain checked over the period",
}

export interface StoredReport {
  id: string
  type: ReportType | string
  period: { from: string; to: string }
  parameters: { incident_id?: string }
  format: ReportFormat | string
  sha256: string
  content_sha256: string
  size: number
  created_by: string
  created_at: string
  download: string
}
