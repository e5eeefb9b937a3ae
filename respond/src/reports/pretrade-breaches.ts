/**
 * `pretrade-breaches` (MiFID II RTS 6 Art. 15, SEC 15c3-5(c)(1)): pre-trade controls that
 * stopped orders in the period.
 * - Orders refused for risk: order events with reason `risk_rejected`, by limit type. The
 *   type is the event's `attrs.risk_check` (`price_collar`, `order_value`, `volume`,
 *   `duplicate`, …) when the trading API sends it; otherwise `unclassified`.
 * - Message-rate limit: order events refused `rate_limited` (by the guard or the API).
 * - Fat-finger alerts: `order.fat_finger` alerts raised in the period.
 * Overrides of a limit and who approved them are not reported to Vigil: named as not recorded.
 */
import type { ReportBody, ReportContext } from './report.js'
import { chToIsoExact, periodParams, sqlText } from './sql-time.js'

export interface PretradeByType {
  limit_type: string
  refused: number
  accounts: number
  api_keys: number
}

export interface PretradeRefusal {
  at: string
  event_id: string
  source: string
  api_key_id: string
  account_id: string
  action: string
  limit_type: string
  symbol: string
  qty: number | null
  price: number | null
  notional: number | null
}

export interface FatFingerAlert {
  alert_id: string
  api_key_id: string
  account_id: string
  first_seen: string
  severity: string
  summary: string
}

export interface PretradeBreachesData {
  risk_rejected: number
  rate_limited_orders: number
  fat_finger_alerts: number
  by_type: PretradeByType[]
  refusals: PretradeRefusal[]
  fat_finger: FatFingerAlert[]
}

const LIMIT_TYPE = `if(reason = 'rate_limited', 'message_rate', if(attrs['risk_check'] = '', 'unclassified', attrs['risk_check']))`
const WHERE = `startsWith(action, 'order.') AND reason IN ('risk_rejected', 'rate_limited')
  AND ts >= toDateTime64({from:String}, 9, 'UTC') AND ts < toDateTime64({to:String}, 9, 'UTC')`

const BY_TYPE = `
SELECT ${LIMIT_TYPE} AS limit_type, count() AS refused, uniqExact(account_id) AS accounts, uniqExact(api_key_id) AS api_keys
FROM events FINAL
WHERE ${WHERE}
GROUP BY limit_type
ORDER BY limit_type`

const REFUSALS = `
SELECT toString(ts) AS at, id, source, api_key_id, account_id, action, ${LIMIT_TYPE} AS limit_type,
  order_symbol AS symbol, order_qty AS qty, order_price AS price, order_notional AS notional
FROM events FINAL
WHERE ${WHERE}
ORDER BY ts, id`

const FAT_FINGER = `
SELECT id, api_key_id, account_id, severity, toString(first_seen) AS first_seen, summary
FROM alert_changes
WHERE change = 'open' AND rule = 'order.fat_finger' AND detected_at >= toDateTime64({from:String}, 6, 'UTC') AND detected_at < toDateTime64({to:String}, 6, 'UTC')
ORDER BY first_seen, id
LIMIT 1 BY id`

export async function pretradeBreaches(ctx: ReportContext): Promise<ReportBody<PretradeBreachesData>> {
  const { store } = ctx.deps
  const p = periodParams(ctx.period)
  const [byType, refusals, fat] = await Promise.all([
    store.query<{ limit_type: string; refused: string; accounts: string; api_keys: string }>(BY_TYPE, p),
    store.query<{ at: string; id: string; source: string; api_key_id: string; account_id: string; action: string; limit_type: string; symbol: string; qty: number | null; price: number | null; notional: number | null }>(REFUSALS, p),
    store.query<{ id: string; api_key_id: string; account_id: string; severity: string; first_seen: string; summary: string }>(FAT_FINGER, p),
  ])
  const by_type = byType.map((r) => ({ limit_type: r.limit_type, refused: Number(r.refused), accounts: Number(r.accounts), api_keys: Number(r.api_keys) }))
  const rows: PretradeRefusal[] = refusals.map((r) => ({
    at: chToIsoExact(r.at),
    event_id: r.id,
    source: r.source,
    api_key_id: r.api_key_id,
    account_id: r.account_id,
    action: r.action,
    limit_type: r.limit_type,
    symbol: r.symbol,
    qty: r.qty,
    price: r.price,
    notional: r.notional,
  }))
  const fat_finger = fat.map((a) => ({ alert_id: a.id, api_key_id: a.api_key_id, account_id: a.account_id, first_seen: chToIsoExact(a.first_seen), severity: a.severity, summary: a.summary }))
  const data: PretradeBreachesData = {
    risk_rejected: by_type.filter((t) => t.limit_type !== 'message_rate').reduce((a, t) => a + t.refused, 0),
    rate_limited_orders: by_type.find((t) => t.limit_type === 'message_rate')?.refused ?? 0,
    fat_finger_alerts: fat_finger.length,
    by_type,
    refusals: rows,
    fat_finger,
  }
  return {
    title: 'Pre-trade control breaches',
    regulation: ['MiFID II RTS 6 Art. 15 (pre-trade controls)', 'SEC Rule 15c3-5(c)(1) (financial risk management controls)'],
    data,
    sections: [
      {
        title: 'Summary',
        text: [
          'Orders the trading API refused for risk (reason risk_rejected), by the limit named in the event\'s attrs.risk_check; orders refused by the message-rate limit (reason rate_limited); and fat-finger alerts Vigil raised.',
        ],
        facts: [
          ['Orders refused for risk', data.risk_rejected],
          ['Orders refused by the message-rate limit', data.rate_limited_orders],
          ['Fat-finger alerts', data.fat_finger_alerts],
        ],
      },
      { title: 'Refusals by limit type', table: { columns: ['limit type', 'orders refused', 'accounts', 'API keys'], rows: by_type.map((t) => [t.limit_type, t.refused, t.accounts, t.api_keys]) } },
      {
        title: 'Fat-finger alerts',
        table: { columns: ['alert', 'API key', 'account', 'first seen (UTC)', 'severity', 'summary'], rows: fat_finger.map((a) => [a.alert_id, a.api_key_id, a.account_id, a.first_seen, a.severity, a.summary]) },
      },
      {
        title: 'Every refused order',
        table: {
          columns: ['time (UTC)', 'event', 'source', 'API key', 'account', 'action', 'limit', 'symbol', 'qty', 'price', 'notional'],
          rows: rows.map((r) => [r.at, r.event_id, r.source, r.api_key_id, r.account_id, r.action, r.limit_type, r.symbol, r.qty, r.price, r.notional]),
        },
      },
    ],
    queries: [
      { name: 'refusals by limit type', sql: sqlText(BY_TYPE) },
      { name: 'every refused order', sql: sqlText(REFUSALS) },
      { name: 'fat-finger alerts raised in the period', sql: sqlText(FAT_FINGER) },
    ],
    not_recorded: [
      { field: 'overrides of a pre-trade limit and who approved them', why: 'trading APIs do not report limit overrides to Vigil; no event or table records them' },
      ...(by_type.some((t) => t.limit_type === 'unclassified')
        ? [{ field: 'limit type of some risk refusals', why: 'their events carry no attrs.risk_check; they are counted as unclassified' }]
        : []),
    ],
  }
}
