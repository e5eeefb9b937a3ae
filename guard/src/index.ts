// Public surface of @vigil/guard.
export type {
  GuardEvent,
  RefusalReason,
  EventSink,
  KillSwitchScopeType,
  TradeContext,
  ActiveKillSwitch,
  ControlView,
  GuardKey,
  KeyStore,
} from './seams.js'
