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
export type { Action, ActionContext, ActionDeps, ActionOutcome, ActionResult } from './action.js'
export { createAuditLog, AUDIT_GENESIS_HASH } from './audit-log.js'
export type { AuditLogStore, AuditLogOptions, AuditRecord, AuditListFilter } from './audit-log.js'
export { createControlLog } from './control-log.js'
export type { ControlLog, ControlLogOptions, ControlChange, ControlOutcome } from './control-log.js'
export { createKeyStateStore } from './key-states.js'
export { createKillSwitchStore } from './killswitches.js'
export { controlRoutes } from './control-routes.js'
export type { ControlRoutesDeps } from './control-routes.js'
