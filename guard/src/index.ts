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
export { createShipper } from './shipper.js'
export type { Shipper, ShipperOptions, ShipperStats, ShipperLogger } from './shipper.js'
