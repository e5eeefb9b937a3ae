// Public surface of @vigil/demo: the demo trading API behind @vigil/guard, the seeded traffic
// simulator that drives it, and the live demo `vigil up --demo` runs.
export { createDemoApi, demoClient, validateOrder, referencePrice } from './demo-api.js'
export type { DemoApi, DemoApiOptions, DemoClient, DemoLimitOverride, DemoResponse, KillSwitchCancel, NewOrderBody, Order, OrderType, Side } from './demo-api.js'
export { createRng } from './prng.js'
export type { Rng } from './prng.js'
export { activity, cleanQty, keyActivityAt, makeKey, population, priceOf, CLEAN_SIGMA, CLEAN_Z_CLIP, FOREIGN, HOME_NETS, INSTRUMENTS, MAX_CLEAN_SPREAD, TIER_LIMITS } from './population.js'
export type { HomeNet, Instrument, SimKey, Tier } from './population.js'
export { buildPlan, BRUTE_FORCE_ATTEMPTS, SCENARIOS, SCENARIO_NAMES } from './scenarios.js'
export type { Label, Plan, PlannedRequest, PlanOptions } from './scenarios.js'
export { createSimApi, drive, EnforcementProbe, registerKeys, send, shiftTs, ShiftingSink, sleep } from './driver.js'
export type { DriveOptions, DriveResult, Enforcement, SendResult, SimApiOptions } from './driver.js'
export { startLiveDemo, DEMO_CYCLE, DEMO_CYCLE_MS } from './live.js'
export type { CycleStep, LiveDemo, LiveDemoLogger, LiveDemoOptions, LiveDemoStats } from './live.js'
