-- Rollups for the behaviour detectors (detect/src/detectors/behaviour-*.ts) that 001 does
-- not keep. Written by materialized views at insert time, like 001's.

-- rollup_key_orders_1m: per event-time minute, key and action: how many events and their
-- notional. For volume.spike, whose counted actions are a rule param (`order_actions`;
-- rollup_entity_1s and rollup_key_1h count `order.new` only) and whose 10-minute windows
-- need slots finer than rollup_key_1h's hours: a burst in the first minutes after an open is
-- a desk's routine, and an hourly total spread over the hour would call it a spike.
-- Time leads the sort key because a tick reads the same few slots (this window, and the same
-- window 1..n weeks back) for every key it saw. Kept 120 days, like rollup_key_1h.
CREATE TABLE IF NOT EXISTS rollup_key_orders_1m (
  minute DateTime('UTC'),
  api_key_id String,
  action LowCardinality(String),
  orders UInt64,
  notional Float64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, api_key_id, action)
TTL minute + INTERVAL 120 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_key_orders_1m_mv TO rollup_key_orders_1m AS
SELECT toStartOfMinute(ts) AS minute, api_key_id, action, count() AS orders, sum(ifNull(order_notional, 0)) AS notional
FROM events
WHERE api_key_id != ''
GROUP BY minute, api_key_id, action;

-- key_action_first_seen: when each key first did each action (event time). volume.spike's
-- key age ("days since the key's first order") without scanning the minute rollup. Small
-- (keys × actions), so kept for good.
CREATE TABLE IF NOT EXISTS key_action_first_seen (
  api_key_id String,
  action LowCardinality(String),
  first_seen SimpleAggregateFunction(min, DateTime64(9, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (api_key_id, action);

CREATE MATERIALIZED VIEW IF NOT EXISTS key_action_first_seen_mv TO key_action_first_seen AS
SELECT api_key_id, action, min(ts) AS first_seen
FROM events
WHERE api_key_id != ''
GROUP BY api_key_id, action;

-- key_geo_1d: key_geo by event-time day. key_geo says whether a key was ever used from a
-- country before an event; its last_seen already includes the event being judged (and any
-- later one), so it cannot say whether a country first seen long ago was used within
-- geo.new_country's history_days. This can, to the day. Kept 400 days.
CREATE TABLE IF NOT EXISTS key_geo_1d (
  api_key_id String,
  country LowCardinality(String),
  day Date,
  first_seen SimpleAggregateFunction(min, DateTime64(9, 'UTC')),
  events SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
ORDER BY (api_key_id, country, day)
TTL day + INTERVAL 400 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS key_geo_1d_mv TO key_geo_1d AS
SELECT api_key_id, geo_country AS country, toDate(ts) AS day, min(ts) AS first_seen, count() AS events
FROM events
WHERE api_key_id != '' AND geo_country != ''
GROUP BY api_key_id, country, day;

-- rollup_source_skew_1s: per source per event-time second, events and a t-digest of
-- clock_skew_ms. clock.skew takes a percentile over a 5-minute window per source; at
-- 20k events/s from one gateway that is millions of raw rows a tick. A t-digest merges
-- across seconds and answers any percentile (quantileTDigestMerge(level) accepts the state
-- whatever level it was built with). Kept 35 days, like rollup_entity_1s.
CREATE TABLE IF NOT EXISTS rollup_source_skew_1s (
  source LowCardinality(String),
  second DateTime('UTC'),
  events SimpleAggregateFunction(sum, UInt64),
  skew AggregateFunction(quantileTDigest, Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMMDD(second)
ORDER BY (source, second)
TTL second + INTERVAL 35 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_source_skew_1s_mv TO rollup_source_skew_1s AS
SELECT source, toStartOfSecond(ts) AS second, count() AS events, quantileTDigestState(clock_skew_ms) AS skew
FROM events
GROUP BY source, second;
