// Public surface of @vigil/respond.
export { RESPOND_MIGRATIONS_DIR } from './migrations.js'
export { KILLSWITCH_SCOPE_TYPES, INCIDENT_STATUSES } from './seams.js'
export type {
  KillSwitchScope,
  KillSwitchScopeType,
  KeyState,
  KeyStateStore,
  ChangeBy,
  Changed,
  KillSwitch,
  KillSwitchStore,
  ControlDelta,
  ControlState,
  IncidentStatus,
  TimelineEntry,
  Incident,
  IncidentSummary,
  IncidentStore,
  AuditEntry,
  AuditProblem,
  AuditVerification,
  AuditLog,
} from './seams.js'
export type { Action, ActionContext, ActionDeps, ActionOutcome, ActionResult, SecretResolver } from './action.js'
export { notifySlack, createNotifySlack, postApprovalRequest, NotifySlackParams } from './actions/notify-slack.js'
export type { SlackPostOptions, ApprovalRequest } from './actions/notify-slack.js'
export { slackAlertBlocks, slackAlertText, slackMention, SLACK_ACTION_IDS } from './actions/slack-blocks.js'
export type { SlackAlertOptions, SlackBlock, SlackButtonAction, SlackButtonValue } from './actions/slack-blocks.js'
export { slackInteractionsRoutes, slackSignature, parseInteraction } from './slack-interactions.js'
export type { SlackInteraction, SlackInteractionsOptions } from './slack-interactions.js'
export { notifyEmail, createNotifyEmail, sendDigest, alertEmail, digestEmail, NotifyEmailParams } from './actions/notify-email.js'
export type { EmailSendOptions, DigestInput, RenderedEmail } from './actions/notify-email.js'
export { webhook, webhookBody, WebhookParams } from './actions/webhook.js'
export type { WebhookBody } from './actions/webhook.js'
export { createIncidentStore, incidentIdForAlert, maskTimelineDetail, INCIDENT_GROUP_WINDOW_MS, INCIDENT_NOTE_MAX } from './incidents.js'
export type { IncidentStoreOptions } from './incidents.js'
export { incidentsRoutes } from './incidents-routes.js'
export type { IncidentsRoutesDeps } from './incidents-routes.js'
export { ACTIONS, actionByType } from './actions/index.js'
export { openIncident, OpenIncidentParams } from './actions/open-incident.js'
export { attachAlert, AttachAlertParams } from './actions/attach-alert.js'
export { revokeKey, RevokeKeyParams } from './actions/revoke-key.js'
export { restoreKey, RestoreKeyParams } from './actions/restore-key.js'
export { killSwitch, KillSwitchParams, resolveScope, SCOPE_REFERENCES } from './actions/kill-switch.js'
export type { ScopeReference } from './actions/kill-switch.js'
export { renderTemplate, templateProblems, TEMPLATE_FIELDS } from './actions/template.js'
export { createAuditLog, AUDIT_GENESIS_HASH } from './audit-log.js'
export type { AuditLogStore, AuditLogOptions, AuditRecord, AuditListFilter } from './audit-log.js'
export { createControlLog } from './control-log.js'
export type { ControlLog, ControlLogOptions, ControlChange, ControlOutcome } from './control-log.js'
export { createKeyStateStore } from './key-states.js'
export { createKillSwitchStore } from './killswitches.js'
export { controlRoutes } from './control-routes.js'
export type { ControlRoutesDeps } from './control-routes.js'
export { keysRoutes } from './keys-routes.js'
export { killswitchesRoutes } from './killswitches-routes.js'
export { auditRoutes } from './audit-routes.js'
export {
  PlaybookSchema,
  PLAYBOOK_SCHEMA_FILE,
  playbookSchemaJson,
  writePlaybookSchemaFile,
  parseDuration as parsePlaybookDuration,
  ON_TIMEOUT,
} from './playbook-schema.js'
export type { PlaybookFile, Step as PlaybookStepFile, Trigger as PlaybookTrigger, Condition as PlaybookCondition, OnTimeout } from './playbook-schema.js'
export {
  DEFAULT_PLAYBOOKS_DIR,
  PlaybookError,
  checkPlaybookCorpus,
  formatPlaybookProblem,
  lintPlaybooks,
  loadPlaybooks,
  matchPlaybooks,
  parsePlaybook,
  readPlaybook,
} from './playbooks.js'
export type { Playbook, PlaybookStep, PlaybookProblem, PlaybookCheck, ActionRegistry } from './playbooks.js'
export { startResponse, backoffDelay, ALERTS_QUEUE as RESPOND_ALERTS_QUEUE, STEPS_QUEUE, DIGEST_QUEUE } from './engine.js'
export type { Response, ResponseDeps, DigestSender } from './engine.js'
export { Approvals, APPROVALS_QUEUE, APPROVAL_STATUSES, APPROVAL_DECISIONS, approvalIdOf } from './approvals.js'
export type { Approval, ApprovalStatus, ApprovalDecision } from './approvals.js'
export { approvalsRoutes } from './approvals-routes.js'
export { DeadLetters, DEAD_LETTER_STATUSES } from './dlq.js'
export type { DeadLetter, DeadLetterStatus } from './dlq.js'
export { dlqRoutes } from './dlq-routes.js'
export { RunLog, RUN_STATUSES } from './run-log.js'
export type { Run, RunStatus } from './run-log.js'
export type { ListCursor } from './list-query.js'
export { REPORT_TYPES, REPORT_FORMATS, reportContentHash } from './reports/report.js'
export type {
  ReportType,
  ReportFormat,
  ReportPeriod,
  ReportDeps,
  ReportBody,
  ReportSection,
  ReportTable,
  CompiledReport,
  ClockLimits,
  ControlInventoryItem,
  NotRecorded,
} from './reports/report.js'
export { compileReport, checkReportRequest, checkReportType, checkReportFormat, checkPeriod, newReportId, MAX_REPORT_PERIOD_DAYS } from './reports/compile.js'
export type { ReportRequest, CompileOptions } from './reports/compile.js'
export { renderReport, renderJson, renderCsv, REPORT_CONTENT_TYPES } from './reports/render.js'
export { renderPdf } from './reports/render-pdf.js'
export { doraDeadlines, addMonthsUtc } from './reports/dora-deadlines.js'
export type { DoraDeadline, DoraDeadlineInput, DeadlineStatus } from './reports/dora-deadlines.js'
export { RETENTION_POLICY, ttlClause } from './reports/retention.js'
export type { RetentionRule } from './reports/retention.js'
export type { AlertLatencyData } from './reports/alert-latency.js'
export type { KillSwitchLogData } from './reports/kill-switch-log.js'
export type { ClockSyncData } from './reports/clock-sync.js'
export type { AuditIntegrityData } from './reports/audit-integrity.js'
export type { PretradeBreachesData } from './reports/pretrade-breaches.js'
export type { DoraIncidentData } from './reports/dora-incident.js'
export type { MarketAccessReviewData, MarketAccessControl, ControlSettingsChange, ControlTestRun, RuleSwitch, SettingDiff } from './reports/market-access-review.js'
export { createReportStore, REPORT_ID } from './reports/report-store.js'
export type { ReportStore, ReportStoreOptions, StoredReport, ReportListFilter, CreateReportOptions } from './reports/report-store.js'
export { reportsRoutes } from './reports/reports-routes.js'
export { compileReport as compileReportAction, CompileReportParams } from './actions/compile-report.js'
export { emailReport, reportEmailText, missingEmailSetting } from './reports/report-delivery.js'
export type { ReportEmail } from './reports/report-delivery.js'
export { startReportSchedules, loadReportSchedules, previousPeriod, DEFAULT_REPORT_SCHEDULES_FILE, REPORTS_QUEUE, SCHEDULE_EVERY, SCHEDULE_PATTERNS } from './reports/report-schedules.js'
export type { ReportSchedule, ReportSchedules, ReportSchedulesDeps, ScheduleEvery } from './reports/report-schedules.js'
export { applyRetentionPolicy, sameTtl, ttlOf } from './reports/retention.js'
export type { RetentionChange } from './reports/retention.js'
export { playbookControlParams, playbookControlSnapshots } from './playbook-versions.js'
export type { PlaybookSnapshots } from './playbook-versions.js'
