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
export { createAuditLog, AUDIT_GENESIS_HASH } from './audit-log.js'
export type { AuditLogStore, AuditLogOptions, AuditRecord, AuditListFilter } from './audit-log.js'
export { createControlLog } from './control-log.js'
export type { ControlLog, ControlLogOptions, ControlChange, ControlOutcome } from './control-log.js'
export { createKeyStateStore } from './key-states.js'
export { createKillSwitchStore } from './killswitches.js'
export { controlRoutes } from './control-routes.js'
export type { ControlRoutesDeps } from './control-routes.js'
