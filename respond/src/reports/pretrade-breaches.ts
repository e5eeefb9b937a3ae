/**
 * `pretrade-breaches` (MiFID II RTS 6 Art. 15, SEC 15c3-5(c)(1)): pre-trade controls that
 * stopped orders in the period.
 * - Orders refused for risk: order events with reason `risk_rejected`, by limit type. The
 *   type is the event's `attrs.risk_check` (`price_collar`, `order_value`, `volume`,
 *   `duplicate`, …) when the trading API sends it; otherwise `unclassified`.
 * - Message-rate limit: order events refused `rate_limited` (by the guard or the API).
 * - Fat-finger alerts: `order.fat_finger` alerts raised in the period.
 * - Overrides of a limit and who approved them: `admin.config_change` events with
 *   `attrs.change = limit_override` (what the guard's `reportLimitOverride` ships; attrs in
 *   docs/reports.md "Extensions to CONTRACT"). One without `approved_by` is listed as such.
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

export interface LimitOverrideRow {
  at: string
  event_id: string
  source: string
  account_id: string
  api_key_id: string
  limit_type: string
  from: string
  to: string
  /** RFC 3339, or null: until changed again. */
  until: string | null
  /** Null when the event names no approver (sent without the guard's check). */
  approved_by: string | null
  requested_by: string | null
  reason: string
}

export interface PretradeBreachesData {
  risk_rejected: number
  rate_limited_orders: number
  fat_finger_alerts: number
  limit_overrides: number
  /** Overrides whose event names no approver. */
  overrides_without_approver: number
  by_type: PretradeByType[]
  refusals: PretradeRefusal[]
  fat_finger: FatFingerAlert[]
  overrides: LimitOverrideRow[]
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

const OVERRIDES = `
SELECT toString(ts) AS at, id, source, account_id, api_key_id, attrs['limit_type'] AS limit_type, attrs['from'] AS from_value,
  attrs['to'] AS to_value, attrs['until'] AS until, attrs['approved_by'] AS approved_by, attrs['requested_by'] AS requested_by,
  attrs['override_reason'] AS reason
FROM events FINAL
WHERE action = 'admin.config_change' AND attrs['change'] = 'limit_override'
  AND ts >= toDateTime64({from:String}, 9, 'UTC') AND ts < toDateTime64({to:String}, 9, 'UTC')
ORDER BY ts, id`

interface OverrideRow {
  at: string
  id: string
  source: string
  account_id: string
  api_key_id: string
  limit_type: string
  from_value: string
  to_value: string
  until: string
  approved_by: string
  requested_by: string
  reason: string
}

export async function pretradeBreaches(ctx: ReportContext): Promise<ReportBody<PretradeBreachesData>> {
  const { store } = ctx.deps
  const p = periodParams(ctx.period)
  const [byType, refusals, fat, overrideRows] = await Promise.all([
    store.query<{ limit_type: string; refused: string; accounts: string; api_keys: string }>(BY_TYPE, p),
    store.query<{ at: string; id: string; source: string; api_key_id: string; account_id: string; action: string; limit_type: string; symbol: string; qty: number | null; price: number | null; notional: number | null }>(REFUSALS, p),
    store.query<{ id: string; api_key_id: string; account_id: string; severity: string; first_seen: string; summary: string }>(FAT_FINGER, p),
    store.query<OverrideRow>(OVERRIDES, p),
  ])
  const overrides: LimitOverrideRow[] = overrideRows.map((o) => ({
    at: chToIsoExact(o.at),
    event_id: o.id,
    source: o.source,
    account_id: o.account_id,
    api_key_id: o.api_key_id,
    limit_type: o.limit_type || 'unclassified',
    from: o.from_value,
    to: o.to_value,
    until: o.until || null,
    approved_by: o.approved_by || null,
    requested_by: o.requested_by || null,
    reason: o.reason,
  }))
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
    limit_overrides: overrides.length,
    overrides_without_approver: overrides.filter((o) => o.approved_by === null).length,
    by_type,
    refusals: rows,
    fat_finger,
    overrides,
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
          ['Limit overrides', data.limit_overrides],
          ['Limit overrides without a named approver', data.overrides_without_approver],
        ],
      },
      {
        title: 'Limit overrides and who approved them',
        text: [
          overrides.length === 0
            ? 'No limit override was reported in the period.'
            : 'Each override of a pre-trade limit a trading API reported (admin.config_change with attrs.change = limit_override): the limit, its value before and during the override, until when, who approved it and why.',
        ],
        table: {
          columns: ['time (UTC)', 'source', 'account', 'API key', 'limit', 'from', 'to', 'until', 'approved by', 'requested by', 'reason'],
          rows: overrides.map((o) => [o.at, o.source, o.account_id, o.api_key_id, o.limit_type, o.from, o.to, o.until ?? 'until changed', o.approved_by ?? '(none named)', o.requested_by, o.reason]),
        },
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
      { name: 'limit overrides reported in the period', sql: sqlText(OVERRIDES) },
    ],
    not_recorded: [
      ...(data.overrides_without_approver > 0
        ? [{ field: 'approver of some limit overrides', why: `${data.overrides_without_approver} override event(s) name no approved_by; they were sent without the guard's check` }]
        : []),
      ...(by_type.some((t) => t.limit_type === 'unclassified')
        ? [{ field: 'limit type of some risk refusals', why: 'their events carry no attrs.risk_check; they are counted as unclassified' }]
        : []),
    ],
  }
}
