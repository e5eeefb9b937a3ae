/**
 * The simulated client population: N keys on their accounts, each with a tier, a home
 * address (a public range geoip-lite places in a known country and city), a rate, a
 * time-of-day curve in its home time zone, a narrow book of instruments and an order size
 * distribution tight around its own median (no heavy tail: clean traffic must never look
 * like a fat finger).
 */
import { referencePrice } from './demo-api.js'
import type { Rng } from './prng.js'

export interface Instrument {
  symbol: string
  /** Market identifier code (ISO 10383). */
  venue: string
  currency: string
}

export const INSTRUMENTS: readonly Instrument[] = [
  { symbol: 'AAPL', venue: 'XNAS', currency: 'USD' },
  { symbol: 'MSFT', venue: 'XNAS', currency: 'USD' },
  { symbol: 'NVDA', venue: 'XNAS', currency: 'USD' },
  { symbol: 'SPY', venue: 'ARCX', currency: 'USD' },
  { symbol: 'JPM', venue: 'XNYS', currency: 'USD' },
  { symbol: 'BRK.B', venue: 'XNYS', currency: 'USD' },
  { symbol: 'VOD', venue: 'XLON', currency: 'GBP' },
  { symbol: 'AZN', venue: 'XLON', currency: 'GBP' },
  { symbol: 'SAP', venue: 'XETR', currency: 'EUR' },
  { symbol: 'SIE', venue: 'XETR', currency: 'EUR' },
  { symbol: 'ASML', venue: 'XAMS', currency: 'EUR' },
  { symbol: 'TTE', venue: 'XPAR', currency: 'EUR' },
  { symbol: 'NESN', venue: 'XSWX', currency: 'CHF' },
  { symbol: 'D05', venue: 'XSES', currency: 'SGD' },
]

/** A price near the demo API's reference price (its market data), so limit orders look sane. */
export function priceOf(symbol: string): number {
  return referencePrice(symbol)
}

export interface HomeNet {
  /** First three octets of a /24 that geoip-lite maps to `country` (and `city`). */
  prefix: string
  country: string
  city: string
  /** UTC offset of the desk's working day, hours. */
  utcOffset: number
}

/** Checked against geoip-lite in sim.test.ts: every address in these /24s maps to the country. */
export const HOME_NETS: readonly HomeNet[] = [
  { prefix: '81.2.69', country: 'GB', city: 'St Albans', utcOffset: 0 },
  { prefix: '85.214.132', country: 'DE', city: 'Berlin', utcOffset: 1 },
  { prefix: '88.217.0', country: 'DE', city: 'Munich', utcOffset: 1 },
  { prefix: '80.12.0', country: 'FR', city: 'Paris', utcOffset: 1 },
  { prefix: '130.89.148', country: 'NL', city: 'Enschede', utcOffset: 1 },
  { prefix: '155.133.246', country: 'ES', city: 'Madrid', utcOffset: 1 },
  { prefix: '165.21.83', country: 'SG', city: 'Singapore', utcOffset: 8 },
  { prefix: '98.137.11', country: 'US', city: 'Quincy', utcOffset: -8 },
]

/** Far-away addresses attackers use (also checked against geoip-lite). */
export const FOREIGN = {
  /** Porto Alegre, Brazil. */
  br: { ip: '2.16.0.1', country: 'BR' },
  /** São Paulo, Brazil. */
  brSaoPaulo: { ip: '177.71.128.1', country: 'BR' },
  /** Singapore. */
  sg: { ip: '118.189.0.1', country: 'SG' },
  /** Lagos, Nigeria. */
  ng: { ip: '41.203.64.1', country: 'NG' },
  /** A hosting /24 in St Petersburg, Russia: the stuffing botnet's network. */
  ruNet: { prefix: '45.155.205', country: 'RU' },
} as const

export type Tier = 'retail' | 'pro' | 'institutional'

/** The guard's per-tier limits the simulator runs the demo API with (guard README's example). */
export const TIER_LIMITS: Record<Tier, { perSecond: number; perDay: number }> = {
  retail: { perSecond: 5, perDay: 20_000 },
  pro: { perSecond: 50, perDay: 500_000 },
  institutional: { perSecond: 500, perDay: 10_000_000 },
}

export interface SimKey {
  id: string
  account_id: string
  user_id: string
  tier: Tier
  scopes: string[]
  ip_allowlist?: string[]
  /** Deterministic from the seed, so a plan is reproducible; never printed. */
  secret: string
  home: HomeNet
  ip: string
  userAgent: string
  /** Requests a minute at the busiest hour of its day. */
  peakPerMinute: number
  book: Instrument[]
  /** Median order quantity; clean sizes stay within ×/÷ `MAX_CLEAN_SPREAD` of it. */
  medianQty: number
}

/** Clean order sizes are median · e^(σz), z truncated to ±2.5: at most this factor off the median. */
export const CLEAN_SIGMA = 0.3
export const CLEAN_Z_CLIP = 2.5
export const MAX_CLEAN_SPREAD = Math.exp(CLEAN_SIGMA * CLEAN_Z_CLIP) // ≈ 2.1

const USER_AGENTS = [
  'algo-engine/2.9.0 python-requests/2.32.3',
  'TradeDesk/7.1 (Windows NT 10.0; Win64; x64)',
  'okhttp/4.12.0',
  'Go-http-client/2.0',
  'Java/21.0.2 vertx/4.5',
  'node-fetch/3.3.2',
  'libcurl/8.5.0 quant-bridge/1.4',
]

/**
 * Activity at a local hour, 0..1: low overnight, a morning ramp, a lunch dip and the
 * afternoon peak of a trading day.
 */
export function activity(localHour: number): number {
  const CURVE = [0.03, 0.02, 0.02, 0.02, 0.03, 0.05, 0.12, 0.35, 0.8, 1, 0.95, 0.85, 0.6, 0.7, 0.9, 1, 0.85, 0.5, 0.25, 0.15, 0.1, 0.07, 0.05, 0.04]
  const h = ((Math.floor(localHour) % 24) + 24) % 24
  return CURVE[h]!
}

export function keyActivityAt(key: SimKey, epochMs: number): number {
  return activity(new Date(epochMs).getUTCHours() + key.home.utcOffset)
}

export function cleanQty(key: SimKey, rng: Rng): number {
  const q = key.medianQty * Math.exp(CLEAN_SIGMA * rng.normal(CLEAN_Z_CLIP))
  return Math.max(1, Math.round(q))
}

export function makeKey(rng: Rng, i: number, opts: { prefix?: string; tier?: Tier; home?: HomeNet; scopes?: string[] } = {}): SimKey {
  const tier: Tier = opts.tier ?? (rng.chance(0.5) ? 'retail' : rng.chance(0.7) ? 'pro' : 'institutional')
  const home = opts.home ?? rng.pick(HOME_NETS)
  const n = String(i + 1).padStart(3, '0')
  const bookSize = rng.int(2, 4)
  const book: Instrument[] = []
  while (book.length < bookSize) {
    const ins = rng.pick(INSTRUMENTS)
    if (!book.includes(ins)) book.push(ins)
  }
  const medians = tier === 'retail' ? [1, 5, 10, 20, 50] : tier === 'pro' ? [50, 100, 200, 500] : [500, 1000, 2500, 5000]
  const scopes = opts.scopes ?? ['orders:read', 'orders:write', 'marketdata:read', ...(rng.chance(0.2) ? ['funds:withdraw'] : [])]
  return {
    id: `ak_${opts.prefix ?? 'sim'}_${n}`,
    account_id: `ACC-${opts.prefix ?? 'sim'}-${n}`,
    user_id: `u_${opts.prefix ?? 'sim'}_${n}`,
    tier,
    scopes,
    secret: rng.token(43),
    home,
    ip: `${home.prefix}.${rng.int(10, 250)}`,
    userAgent: rng.pick(USER_AGENTS),
    peakPerMinute: tier === 'retail' ? 1 + rng.next() * 4 : tier === 'pro' ? 4 + rng.next() * 12 : 10 + rng.next() * 20,
    book,
    medianQty: rng.pick(medians),
  }
}

/** The clean population: `n` keys, the same for the same seed. */
export function population(rng: Rng, n: number): SimKey[] {
  return Array.from({ length: n }, (_, i) => makeKey(rng, i))
}
