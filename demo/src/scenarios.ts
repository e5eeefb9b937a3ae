/**
 * Scenarios: a plan of signed requests (when, which key, from which address, what) plus
 * the labels a quality run scores recall against. A plan depends only on the seed, the
 * options and the UTC hour it starts in (the time-of-day curves), so the same seed gives
 * the same request sequence.
 */
import { createRng, type Rng } from './prng.js'
import { FOREIGN, HOME_NETS, INSTRUMENTS, cleanQty, keyActivityAt, makeKey, population, priceOf, type SimKey } from './population.js'

export interface PlannedRequest {
  /** Milliseconds from the start of the run. */
  at: number
  /** `clean` for background traffic, else the scenario's name (an attack step). */
  tag: string
  /** The key id sent in `X-Key-Id` (may be one the API does not know). */
  keyId: string
  /** Sign with the key's secret, or with a wrong one (a forger). */
  signing: 'own' | 'forged'
  /** The client address the API sees (inject's `remoteAddress`). */
  ip: string
  userAgent: string
  method: 'GET' | 'POST' | 'DELETE'
  path: string
  body?: unknown
  /** Cancel the key's oldest resting order (path filled in by the driver; skipped if none). */
  cancelOldest?: boolean
  /** Shift this request's event `ts` by this much (backfilled history). */
  tsShiftMs?: number
}

export interface Label {
  rule: string
  entity: { type: 'api_key' | 'user' | 'ip' | 'net' | 'source'; id: string }
}

export interface Plan {
  scenario: string
  seed: number
  startMs: number
  durationMs: number
  description: string
  /** Keys to register in the demo API. */
  keys: SimKey[]
  requests: PlannedRequest[]
  /** Alerts the scenario must raise. */
  labels: Label[]
  /** Rules the scenario may also raise on its own entities (not false alarms). */
  mayAlsoRaise: string[]
  /** The source's clock offset during the run (clock.skew): every event's ts is shifted by it. */
  sourceClockOffsetMs?: number
}

export interface PlanOptions {
  seed: number
  /** Start of the run, epoch ms (the time-of-day curves read its hour). */
  startMs: number
  /** Background traffic length; an attack scenario runs at least as long as its attack. */
  durationMs?: number
  /** Clean keys in the background population. */
  keys?: number
  /** The source id (clock.skew's entity). */
  source: string
  /**
   * Added to the scenario's own key ids (`ak_bf_001` → `ak_bf<tag>_001`), so a scenario run
   * again against the same Vigil (the live demo's cycles) attacks fresh keys, not ones
   * already revoked or kill-switched. @defaultValue none
   */
  keyTag?: string
  /**
   * Another round of the same population: the same keys (ids, secrets, homes), new request
   * times and order ids (the live demo replans its background each cycle). @defaultValue 0
   */
  round?: number
}

interface Ctx {
  rng: Rng
  opts: Required<PlanOptions>
  keys: SimKey[]
  requests: PlannedRequest[]
}

const DAY = 86_400_000
let coidSeq = 0

function orderBody(key: SimKey, rng: Rng, qty = cleanQty(key, rng), symbol = rng.pick(key.book)) {
  const market = rng.chance(0.3)
  const body: Record<string, unknown> = {
    symbol: symbol.symbol,
    side: rng.chance(0.5) ? 'buy' : 'sell',
    type: market ? 'market' : 'limit',
    qty,
    venue: symbol.venue,
    currency: symbol.currency,
    client_order_id: `${key.id}-${(coidSeq++).toString(36)}-${rng.token(6)}`,
  }
  if (!market) body.price = Math.round(priceOf(symbol.symbol) * (1 + 0.003 * rng.normal(3)) * 100) / 100
  return body
}

function cleanRequest(key: SimKey, rng: Rng, at: number, tag = 'clean'): PlannedRequest {
  const base = { at, tag, keyId: key.id, signing: 'own' as const, ip: key.ip, userAgent: key.userAgent }
  const r = rng.next()
  if (r < 0.35) return { ...base, method: 'GET', path: `/v1/marketdata/${rng.pick(key.book).symbol}` }
  if (r < 0.5) return { ...base, method: 'GET', path: '/v1/positions' }
  if (r < 0.58) return { ...base, method: 'GET', path: `/v1/accounts/${key.account_id}` }
  if (r < 0.93 || !key.scopes.includes('orders:write')) {
    if (!key.scopes.includes('orders:write')) return { ...base, method: 'GET', path: '/v1/positions' }
    return { ...base, method: 'POST', path: '/v1/orders', body: orderBody(key, rng) }
  }
  if (r < 0.99 || !key.scopes.includes('funds:withdraw')) return { ...base, method: 'DELETE', path: '/v1/orders/:oldest', cancelOldest: true }
  return { ...base, method: 'POST', path: '/v1/withdrawals', body: { amount: rng.int(1, 50) * 100, currency: 'USD', destination: `IBAN-${key.home.country}-${rng.int(10_000_000, 99_999_999)}` } }
}

/** Poisson arrivals per key, at its own rate scaled by its time-of-day curve. */
function cleanTraffic(ctx: Ctx, keys: SimKey[], fromMs: number, toMs: number): void {
  for (const key of keys) {
    const rng = ctx.rng.fork(ctx.opts.round ? `clean:${key.id}:${ctx.opts.round}` : `clean:${key.id}`)
    const perMs = (key.peakPerMinute * keyActivityAt(key, ctx.opts.startMs + fromMs)) / 60_000
    if (perMs <= 0) continue
    for (let t = fromMs + rng.exp(1 / perMs); t < toMs; t += rng.exp(1 / perMs)) ctx.requests.push(cleanRequest(key, rng, Math.round(t)))
  }
}

/** A key of the scenario's own (registered in the API, no clean traffic unless added); `pro` unless told. */
function scenarioKey(ctx: Ctx, prefix: string, opts: Parameters<typeof makeKey>[2] = {}): SimKey {
  const k = makeKey(ctx.rng.fork(prefix), 0, { prefix: `${prefix}${ctx.opts.keyTag}`, tier: 'pro', ...opts })
  ctx.keys.push(k)
  return k
}

function attack(key: SimKey, tag: string, at: number, over: Partial<PlannedRequest> & Pick<PlannedRequest, 'method' | 'path'>): PlannedRequest {
  return { at, tag, keyId: key.id, signing: 'own', ip: key.ip, userAgent: key.userAgent, ...over }
}

/** `n` reads from home whose events are backdated over [-days, -1 d]: a key's history. */
function history(ctx: Ctx, key: SimKey, tag: string, n: number, days: number, atMs = 0): void {
  for (let i = 0; i < n; i++) {
    const shift = -Math.round(days * DAY - (i * (days - 1) * DAY) / (n - 1))
    ctx.requests.push(attack(key, tag, atMs + i * 100, { method: 'GET', path: i % 2 ? '/v1/positions' : `/v1/marketdata/${key.book[0]!.symbol}`, tsShiftMs: shift }))
  }
}

const FORGED_ORDER = (n: number) => ({ symbol: 'AAPL', side: 'buy', type: 'market', qty: 100, venue: 'XNAS', client_order_id: `probe-${n}` })
const ruIp = (i: number) => `${FOREIGN.ruNet.prefix}.${[11, 37, 58, 99][i % 4]}`

/** Credential stuffing: 4 addresses of one /24, each trying 9 made-up keys (below the guard's address lockout of 10). */
function stuffingWave(ctx: Ctx, tag: string, fromMs: number, everyMs: number): number {
  const rng = ctx.rng.fork(`stuff:${tag}`)
  let t = fromMs
  for (let i = 0; i < 36; i++, t += everyMs) {
    ctx.requests.push({ at: t, tag, keyId: `ak_live_${rng.token(10)}`, signing: 'forged', ip: ruIp(i), userAgent: 'python-requests/2.31.0', method: 'GET', path: '/v1/positions' })
  }
  return t
}

interface ScenarioDef {
  description: string
  /** Length of the attack, ms (the run is at least this long). */
  lengthMs: number
  mayAlsoRaise?: string[]
  build(ctx: Ctx): { labels: Label[]; sourceClockOffsetMs?: number }
}

const key = (id: string): Label['entity'] => ({ type: 'api_key', id })

/** Forged signatures in `auth.brute_force`: past auth.brute_force's critical bar (4 × 10 in 5 min). */
export const BRUTE_FORCE_ATTEMPTS = 50

export const SCENARIOS: Record<string, ScenarioDef> = {
  clean: {
    description: 'Ordinary traffic only: every key from its home address, at its own rate and time of day, orders close to its own median size.',
    lengthMs: 0,
    build: () => ({ labels: [] }),
  },
  'auth.brute_force': {
    description:
      'One address in Lagos sends 50 forged signatures on one key, one every 0.6 s (with the guard\'s default lockout the key is locked after 10 and the rest are refused locked_out): past the rule\'s critical bar of 40, so the key is revoked.',
    lengthMs: 35_000,
    build(ctx) {
      const victim = scenarioKey(ctx, 'bf')
      for (let i = 0; i < BRUTE_FORCE_ATTEMPTS; i++) ctx.requests.push(attack(victim, 'auth.brute_force', 2_000 + i * 600, { signing: 'forged', ip: FOREIGN.ng.ip, userAgent: 'python-requests/2.31.0', method: 'POST', path: '/v1/orders', body: FORGED_ORDER(i) }))
      return { labels: [{ rule: 'auth.brute_force', entity: key(victim.id) }, { rule: 'auth.brute_force', entity: { type: 'user', id: victim.user_id } }] }
    },
  },
  'auth.credential_stuffing': {
    description: 'Four addresses of one hosting /24 try 36 made-up keys, nine each (each address stays under the guard lockout), one a second.',
    lengthMs: 40_000,
    build(ctx) {
      stuffingWave(ctx, 'auth.credential_stuffing', 2_000, 1_000)
      return { labels: [{ rule: 'auth.credential_stuffing', entity: { type: 'net', id: `${FOREIGN.ruNet.prefix}.0/24` } }] }
    },
  },
  'auth.success_after_failures': {
    description: 'Seven forged signatures on one key from Brazil (under the lockout), then a correctly signed request from the same address: the secret was found.',
    lengthMs: 30_000,
    build(ctx) {
      const victim = scenarioKey(ctx, 'saf')
      const from = { ip: FOREIGN.br.ip, userAgent: 'python-requests/2.31.0' }
      for (let i = 0; i < 7; i++) ctx.requests.push(attack(victim, 'auth.success_after_failures', 2_000 + i * 3_000, { ...from, signing: 'forged', method: 'GET', path: '/v1/positions' }))
      ctx.requests.push(attack(victim, 'auth.success_after_failures', 25_000, { ...from, method: 'GET', path: '/v1/positions' }))
      return { labels: [{ rule: 'auth.success_after_failures', entity: key(victim.id) }] }
    },
  },
  'volume.spike': {
    description: 'A new institutional key (no baseline: cold-start limit 300 orders in 10 min) sends 650 ordinary-sized orders in 130 s, so one aligned 10-minute window holds over 300 however the run falls.',
    lengthMs: 135_000,
    build(ctx) {
      const algo = scenarioKey(ctx, 'spike', { tier: 'institutional' })
      const rng = ctx.rng.fork('spike-orders')
      for (let i = 0; i < 650; i++) ctx.requests.push(attack(algo, 'volume.spike', 2_000 + i * 200, { method: 'POST', path: '/v1/orders', body: orderBody(algo, rng) }))
      return { labels: [{ rule: 'volume.spike', entity: key(algo.id) }] }
    },
  },
  'geo.new_country': {
    description: 'A key with 60 reads from England over the last 14 days (history: events backdated through the guard event path), then a read from Brazil.',
    lengthMs: 12_000,
    build(ctx) {
      const k = scenarioKey(ctx, 'nc', { home: HOME_NETS[0] })
      history(ctx, k, 'geo.new_country', 60, 14)
      ctx.requests.push(attack(k, 'geo.new_country', 10_000, { ip: FOREIGN.br.ip, method: 'GET', path: '/v1/positions' }))
      return { labels: [{ rule: 'geo.new_country', entity: key(k.id) }] }
    },
  },
  'geo.impossible_travel': {
    description: 'A key reads from England, then from Singapore 40 s later.',
    lengthMs: 50_000,
    build(ctx) {
      const k = scenarioKey(ctx, 'it', { home: HOME_NETS[0] })
      for (let i = 0; i < 4; i++) ctx.requests.push(attack(k, 'geo.impossible_travel', 2_000 + i * 2_000, { method: 'GET', path: '/v1/positions' }))
      for (let i = 0; i < 3; i++) ctx.requests.push(attack(k, 'geo.impossible_travel', 48_000 + i * 500, { ip: FOREIGN.sg.ip, method: 'GET', path: '/v1/positions' }))
      return { labels: [{ rule: 'geo.impossible_travel', entity: key(k.id) }] }
    },
  },
  'access.ip_not_allowed': {
    description: "A key allowlisted to its office /24 is used, correctly signed, eight times from Lagos and Porto Alegre: its secret leaked.",
    lengthMs: 45_000,
    mayAlsoRaise: ['geo.impossible_travel'],
    build(ctx) {
      const k = scenarioKey(ctx, 'ipna', { home: HOME_NETS[1] })
      k.ip_allowlist = [`${k.home.prefix}.0/24`]
      for (let i = 0; i < 3; i++) ctx.requests.push(attack(k, 'access.ip_not_allowed', 1_000 + i * 1_000, { method: 'GET', path: '/v1/positions' }))
      for (let i = 0; i < 8; i++)
        ctx.requests.push(attack(k, 'access.ip_not_allowed', 5_000 + i * 5_000, { ip: i % 2 ? FOREIGN.br.ip : FOREIGN.ng.ip, method: 'POST', path: '/v1/orders', body: orderBody(k, ctx.rng) }))
      return { labels: [{ rule: 'access.ip_not_allowed', entity: key(k.id) }] }
    },
  },
  'access.scope_violation': {
    description: 'A read-only key tries six orders and two withdrawals.',
    lengthMs: 35_000,
    build(ctx) {
      const k = scenarioKey(ctx, 'ro', { scopes: ['orders:read', 'marketdata:read'] })
      for (let i = 0; i < 6; i++) ctx.requests.push(attack(k, 'access.scope_violation', 2_000 + i * 4_000, { method: 'POST', path: '/v1/orders', body: orderBody(k, ctx.rng) }))
      for (let i = 0; i < 2; i++) ctx.requests.push(attack(k, 'access.scope_violation', 28_000 + i * 2_000, { method: 'POST', path: '/v1/withdrawals', body: { amount: 25_000, currency: 'USD', destination: 'IBAN-XX-00000001' } }))
      return { labels: [{ rule: 'access.scope_violation', entity: key(k.id) }] }
    },
  },
  'rate.abuse': {
    description:
      'A retail key (5/s) polls quotes in bursts of 8 every 3 s and never backs off: 3 denials a burst, for 9 minutes, so one aligned 5-minute window holds 4 active minutes however the run falls. Long on purpose.',
    lengthMs: 9 * 60_000 + 5_000,
    build(ctx) {
      const k = scenarioKey(ctx, 'bot', { tier: 'retail' })
      for (let b = 0; b < 180; b++) for (let i = 0; i < 8; i++) ctx.requests.push(attack(k, 'rate.abuse', 2_000 + b * 3_000 + i, { method: 'GET', path: `/v1/marketdata/${k.book[0]!.symbol}` }))
      return { labels: [{ rule: 'rate.abuse', entity: key(k.id) }, { rule: 'rate.abuse', entity: { type: 'ip', id: k.ip } }] }
    },
  },
  'ids.injection': {
    description: 'A valid key probes from a Tor exit with SQL injection, path traversal, XSS and command injection in the path and query.',
    lengthMs: 15_000,
    build(ctx) {
      const k = scenarioKey(ctx, 'ids')
      const ip = '185.220.101.5'
      const paths = [
        "/v1/marketdata/AAPL?q=%27%20OR%201%3D1--",
        '/v1/marketdata/AAPL?symbol=AAPL%27%20UNION%20SELECT%20password%20FROM%20users--',
        '/v1/marketdata/..%2F..%2F..%2Fetc%2Fpasswd',
        '/v1/positions?view=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E',
        '/v1/positions?export=fills.csv%3Bcat%20%2Fetc%2Fpasswd',
      ]
      paths.forEach((path, i) => ctx.requests.push(attack(k, 'ids.injection', 2_000 + i * 2_000, { ip, userAgent: 'sqlmap/1.8.4#stable', method: 'GET', path })))
      return { labels: [{ rule: 'ids.injection', entity: { type: 'ip', id: ip } }] }
    },
  },
  'order.fat_finger': {
    description: 'A desk key sends 40 ordinary AAPL orders around its median, one a second, then one 250 times that median (critical: the key is kill-switched).',
    lengthMs: 50_000,
    build(ctx) {
      const k = scenarioKey(ctx, 'ff', { tier: 'pro' })
      k.medianQty = 200
      const aapl = INSTRUMENTS[0]!
      k.book = [aapl]
      const rng = ctx.rng.fork('ff-orders')
      for (let i = 0; i < 40; i++) ctx.requests.push(attack(k, 'order.fat_finger', 2_000 + i * 1_000, { method: 'POST', path: '/v1/orders', body: orderBody(k, rng) }))
      ctx.requests.push(attack(k, 'order.fat_finger', 44_000, { method: 'POST', path: '/v1/orders', body: orderBody(k, rng, 50_000, aapl) }))
      return { labels: [{ rule: 'order.fat_finger', entity: key(k.id) }] }
    },
  },
  'clock.skew': {
    description:
      "The source's clock runs 750 ms behind: every event's ts is shifted by -750 ms in the guard's event path (the sink, before shipping). A heartbeat key reads once a second so every 5-minute window has its 20 events.",
    lengthMs: 90_000,
    build(ctx) {
      const k = scenarioKey(ctx, 'hb')
      for (let i = 0; i < 88; i++) ctx.requests.push(attack(k, 'clock.skew', 1_000 + i * 1_000, { method: 'GET', path: `/v1/marketdata/${k.book[0]!.symbol}` }))
      return { labels: [{ rule: 'clock.skew', entity: { type: 'source', id: ctx.opts.source } }], sourceClockOffsetMs: -750 }
    },
  },
  takeover: {
    description:
      'A key with 14 days of history from England is used from home; a stuffing wave from a hosting /24 follows; then seven forged signatures on the key from Brazil, a success, and a withdrawal from Brazil.',
    lengthMs: 90_000,
    mayAlsoRaise: ['auth.brute_force'],
    build(ctx) {
      const tag = 'takeover'
      const v = scenarioKey(ctx, 'to', { home: HOME_NETS[0], scopes: ['orders:read', 'orders:write', 'marketdata:read', 'funds:withdraw'] })
      history(ctx, v, tag, 60, 14)
      for (let i = 0; i < 3; i++) ctx.requests.push(attack(v, tag, 5_000 + i * 2_000, { method: 'GET', path: '/v1/positions' }))
      const end = stuffingWave(ctx, tag, 12_000, 1_000)
      const br = { ip: FOREIGN.brSaoPaulo.ip, userAgent: 'python-requests/2.31.0' }
      for (let i = 0; i < 7; i++) ctx.requests.push(attack(v, tag, end + 2_000 + i * 3_000, { ...br, signing: 'forged', method: 'GET', path: '/v1/positions' }))
      const ok = end + 2_000 + 7 * 3_000
      ctx.requests.push(attack(v, tag, ok, { ...br, method: 'GET', path: `/v1/accounts/${v.account_id}` }))
      ctx.requests.push(attack(v, tag, ok + 4_000, { ...br, method: 'POST', path: '/v1/withdrawals', body: { amount: 250_000, currency: 'USD', destination: 'IBAN-BR-55001234' } }))
      return {
        labels: [
          { rule: 'auth.credential_stuffing', entity: { type: 'net', id: `${FOREIGN.ruNet.prefix}.0/24` } },
          { rule: 'auth.success_after_failures', entity: key(v.id) },
          { rule: 'geo.new_country', entity: key(v.id) },
          { rule: 'geo.impossible_travel', entity: key(v.id) },
        ],
      }
    },
  },
}

export const SCENARIO_NAMES = Object.keys(SCENARIOS)

/** Builds a scenario's plan: its attack plus clean background traffic for the run's length. */
export function buildPlan(name: string, options: PlanOptions): Plan {
  const def = SCENARIOS[name]
  if (!def) throw new Error(`unknown scenario ${name}; one of: ${SCENARIO_NAMES.join(', ')}`)
  coidSeq = 0
  const opts: Required<PlanOptions> = { durationMs: 60_000, keys: 20, keyTag: '', round: 0, ...options }
  const rng = createRng(opts.seed)
  const ctx: Ctx = { rng, opts, keys: [], requests: [] }
  const background = population(rng.fork('population'), opts.keys)
  const durationMs = Math.max(opts.durationMs, def.lengthMs)
  const built = def.build(ctx)
  cleanTraffic(ctx, background, 0, durationMs)
  ctx.keys.push(...background)
  ctx.requests.sort((a, b) => a.at - b.at)
  return {
    scenario: name,
    seed: opts.seed,
    startMs: opts.startMs,
    durationMs,
    description: def.description,
    keys: ctx.keys,
    requests: ctx.requests,
    labels: built.labels,
    mayAlsoRaise: def.mayAlsoRaise ?? [],
    ...(built.sourceClockOffsetMs !== undefined ? { sourceClockOffsetMs: built.sourceClockOffsetMs } : {}),
  }
}
