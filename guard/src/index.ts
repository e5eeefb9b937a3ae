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
export { createControlClient, parseControlState, parseControlDelta } from './control-client.js'
export type { ControlClient, ControlClientOptions, ControlClientStats, ControlClientLogger, ControlDelta, ControlState, ControlChange } from './control-client.js'
export { vigilGuard, LOST_CHANNEL_KILL_SWITCH } from './plugin.js'
export type { VigilGuardOptions, GuardRouteConfig, GuardRequestContext, GuardInstanceApi, LostChannelPolicy } from './plugin.js'
export { reportLimitOverride, checkLimitOverride, KNOWN_LIMIT_TYPES } from './enforcement-events.js'
export type { LimitOverride, LimitOverrideResult, CancelReport, AppliedVia } from './enforcement-events.js'
export type { EventAnnotation } from './request-event.js'
export { REFUSALS, REFUSAL_DETAILS, GuardRefusal } from './refusals.js'
export type { RefusalSpec, RefusalDetail } from './refusals.js'
export { signRequest, canonicalString, bodySha256, parseSignedHeaders, verifySignature, KEY_ID_HEADER, TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER } from './request-signing.js'
export type { SignRequestInput, CanonicalParts, SignedHeaders } from './request-signing.js'
export { MemoryKeyStore, generateSecret } from './key-store.js'
export type { MemoryKeyStoreOptions } from './key-store.js'
export type { TierLimits } from './rate-limit.js'
export type { LockoutPolicy } from './lockout.js'
export { parseCidr, ipAllowed } from './cidr.js'
export { tlsFetch } from './tls-fetch.js'
export type { GuardTlsOptions } from './tls-fetch.js'
