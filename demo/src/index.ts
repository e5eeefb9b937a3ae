// Public surface of @vigil/demo: the demo trading API behind @vigil/guard, the seeded traffic
// simulator that drives it, and the live demo `vigil up --demo` runs.
export { createDemoApi, demoClient, validateOrder, referencePrice } from './demo-api.js'
export type { DemoApi, DemoApiOptions, DemoClient, DemoResponse, KillSwitchCancel, NewOrderBody, Order, OrderType, Side } from './demo-api.js'
export { createRng } from './prng.js'
export type { Rng } from './prng.js'
export { activity, cleanQty, keyActivityAt, makeKey, population, priceOf, CLEAN_SIGMA, CLEAN_Z_CLIP, FOREIGN, HOME_NETS, INSTRUMENTS, MAX_CLEAN_SPREAD, TIER_LIMITS } from './population.js'
export type { HomeNet, Instrument, SimKey, Tier } from './population.js'
export { buildPlan, SCENARIOS, SCENARIO_NAMES } from './scenarios.js'
export type { Label, Plan, PlannedRequest, PlanOptions } from './scenarios.js'
export { createSimApi, drive, registerKeys, shiftTs, ShiftingSink } from './driver.js'
export type { DriveOptions, DriveResult, SimApiOptions } from './driver.js'
