/**
 * The report types and formats (CONTRACT §4 `/v1/reports`, §6 `vigil reports generate`).
 * Imports nothing, and is the package's `@vigil/respond/report-kinds` entry, so the CLI can
 * name them in its help without loading the engine.
 */
export const REPORT_TYPES = [
  'kill-switch-log',
  'pretrade-breaches',
  'alert-latency',
  'clock-sync',
  'dora-incident',
  'market-access-review',
  'audit-integrity',
] as const
export type ReportType = (typeof REPORT_TYPES)[number]

export const REPORT_FORMATS = ['pdf', 'json', 'csv'] as const
export type ReportFormat = (typeof REPORT_FORMATS)[number]
