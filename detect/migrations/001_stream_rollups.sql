-- What the detectors read. Written by materialized views at insert time, so detection never
-- scans the raw events table for "what happened in the last minute".
--
-- detect_stream: each event once more, ordered by ARRIVAL (received_at). The engine walks it
-- with a cursor, so an event sent late (old ts) is still seen, right when it arrives. Kept 3 days.
CREATE TABLE IF NOT EXISTS detect_stream (
  received_at DateTime64(9, 'UTC'),
  ts DateTime64(9, 'UTC'),
  source LowCardinality(String),
  id String,
  action LowCardinality(String),
  outcome LowCardinality(String),
  reason LowCardinality(String),
  api_key_id String,
  account_id String,
  user_id String,
  client_ip IPv6,
  http_path String,
  attrs Map(String, String),
  order_qty Nullable(Float64),
  order_notional Nullable(Float64),
  order_symbol LowCardinality(String),
  geo_country LowCardinality(String),
  geo_city LowCardinality(String),
  geo_lat Nullable(Float32),
  geo_lon Nullable(Float32),
  clock_skew_ms Float64
)
ENGINE = MergeTree
PARTITION BY toDate(received_at)
ORDER BY (received_at, id)
TTL toDateTime(received_at) + INTERVAL 3 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS detect_stream_mv TO detect_stream AS
SELECT received_at, ts, source, id, action, outcome, reason, api_key_id, account_id, user_id, client_ip,
  http_path, attrs, order_qty, order_notional, order_symbol, geo_country, geo_city, geo_lat, geo_lon, clock_skew_ms
FROM events;

-- rollup_entity_1s: per entity (api_key, user, ip, net, account) per EVENT-TIME second, the
-- counts the window rules need. Sort key puts time right after the entity type, so a window
-- scan reads only its seconds. Kept 35 days.
CREATE TABLE IF NOT EXISTS rollup_entity_1s (
  entity_type LowCardinality(String),
  bucket DateTime('UTC'),
  entity_id String,
  events SimpleAggregateFunction(sum, UInt64),
  auth_failures SimpleAggregateFunction(sum, UInt64),
  auth_successes SimpleAggregateFunction(sum, UInt64),
  ip_not_allowed SimpleAggregateFunction(sum, UInt64),
  scope_denied SimpleAggregateFunction(sum, UInt64),
  rate_limited SimpleAggregateFunction(sum, UInt64),
  orders SimpleAggregateFunction(sum, UInt64),
  notional SimpleAggregateFunction(sum, Float64),
  ips AggregateFunction(uniqExact, IPv6),
  failed_keys AggregateFunction(uniqExact, String),
  failed_users AggregateFunction(uniqExact, String),
  -- By reason, so a rule can choose which reasons count (its failure_reasons).
  auth_fail_reasons SimpleAggregateFunction(sumMap, Map(String, UInt64)),
  denial_reasons SimpleAggregateFunction(sumMap, Map(String, UInt64))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMMDD(bucket)
ORDER BY (entity_type, bucket, entity_id)
TTL bucket + INTERVAL 35 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_entity_1s_api_key_mv TO rollup_entity_1s AS
SELECT 'api_key' AS entity_type, toStartOfSecond(ts) AS bucket, api_key_id AS entity_id,
  count() AS events,
  countIf(action LIKE 'auth.%' AND outcome IN ('failure', 'denied')) AS auth_failures,
  countIf(action LIKE 'auth.%' AND outcome = 'success') AS auth_successes,
  countIf(reason = 'ip_not_allowed') AS ip_not_allowed,
  countIf(reason = 'scope_denied') AS scope_denied,
  countIf(reason = 'rate_limited') AS rate_limited,
  countIf(action = 'order.new') AS orders,
  sumIf(ifNull(order_notional, 0), action = 'order.new') AS notional,
  uniqExactState(client_ip) AS ips,
  uniqExactStateIf(api_key_id, api_key_id != '' AND action LIKE 'auth.%' AND outcome IN ('failure', 'denied')) AS failed_keys,
  uniqExactStateIf(user_id, user_id != '' AND action LIKE 'auth.%' AND outcome IN ('failure', 'denied')) AS failed_users,
  sumMapIf(map(reason, toUInt64(1)), action LIKE 'auth.%' AND outcome IN ('failure', 'denied')) AS auth_fail_reasons,
  sumMapIf(map(reason, toUInt64(1)), outcome != 'success' AND reason != '') AS denial_reasons
FROM events
WHERE api_key_id != ''
GROUP BY entity_type, bucket, entity_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_entity_1s_user_mv TO rollup_entity_1s AS
SELECT 'user' AS entity_type, toStartOfSecond(ts) AS bucket, user_id AS entity_id,
  count() AS events,
  countIf(action LIKE 'auth.%' AND outcome IN ('failure', 'denied')) AS auth_failures,
  countIf(action LIKE 'auth.%' AND outcome = 'success') AS auth_successes,
  countIf(reason = 'ip_not_allowed') AS ip_not_allowed,
  countIf(reason = 'scope_denied') AS scope_denied,
  countIf(reason = 'rate_limited') AS rate_limited,
  countIf(action = 'order.new') AS orders,
  sumIf(ifNull(order_notional, 0), action = 'order.new') AS notional,
  uniqExactState(client_ip) AS ips,
  uniqExactStateIf(api_key_id, api_key_id != '' AND action LIKE 'auth.%' AND outcome IN ('failure', 'denied')) AS failed_keys,
  uniqExactStateIf(user_id, user_id != '' AND action LIKE 'auth.%' AND outcome IN ('failure', 'denied')) AS failed_users,
  sumMapIf(map(reason, toUInt64(1)), action LIKE 'auth.%' AND outcome IN ('failure', 'denied')) AS auth_fail_reasons,
  sumMapIf(map(reason, toUInt64(1)), outcome != 'success' AND reason != '') AS denial_reasons
FROM events
WHERE user_id != ''
GROUP BY entity_type, bucket, entity_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_entity_1s_account_mv TO rollup_entity_1s AS
SELECT 'account' AS entity_type, toStartOfSecond(ts) AS bucket, account_id AS entity_id,
  count() AS events,
  countIf(action LIKE 'auth.%' AND outcome IN ('failure', 'denied')) AS auth_failures,
  countIf(action LIKE 'auth.%' AND outcome = 'success') AS auth_successes,
  countIf(reason = 'ip_not_allowed') AS ip_not_allowed,
  countIf(reason = 'scope_denied') AS scope_denied,
  countIf(reason = 'rate_limited') AS rate_limited,
  countIf(action = 'order.new') AS orders,
  sumIf(ifNull(order_notional, 0), action = 'order.new') AS notional,
  uniqExactState(client_ip) AS ips,
  uniqExactStateIf(api_key_id, api_key_id != '' AND action LIKE 'auth.%' AND outcome IN ('failure', 'denied')) AS failed_keys,
  uniqExactStateIf(user_id, user_id != '' AND action LIKE 'auth.%' AND outcome IN ('failure', 'denied')) AS failed_users,
  sumMapIf(map(reason, toUInt64(1)), action LIKE 'auth.%' AND outcome IN ('failure', 'denied')) AS auth_fail_reasons,
  sumMapIf(map(reason, toUInt64(1)), outcome != 'success' AND reason != '') AS denial_reasons
FROM events
WHERE account_id != ''
GROUP BY entity_type, bucket, entity_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_entity_1s_ip_mv TO rollup_entity_1s AS
SELECT 'ip' AS entity_type, toStartOfSecond(ts) AS bucket, replaceRegexpOne(IPv6NumToString(client_ip), '^::ffff:(\\d+\\.\\d+\\.\\d+\\.\\d+)$', '\\1') AS entity_id,
  count() AS events,
  countIf(action LIKE 'auth.%' AND outcome IN ('failure', 'denied')) AS auth_failures,
  countIf(action LIKE 'auth.%' AND outcome = 'success') AS auth_successes,
  countIf(reason = 'ip_not_allowed') AS ip_not_allowed,
  countIf(reason = 'scope_denied') AS scope_denied,
  countIf(reason = 'rate_limited') AS rate_limited,
  countIf(action = 'order.new') AS orders,
  sumIf(ifNull(order_notional, 0), action = 'order.new') AS notional,
  uniqExactState(client_ip) AS ips,
  uniqExactStateIf(api_key_id, api_key_id != '' AND action LIKE 'auth.%' AND outcome IN ('failure', 'denied')) AS failed_keys,
  uniqExactStateIf(user_id, user_id != '' AND action LIKE 'auth.%' AND outcome IN ('failure', 'denied')) AS failed_users,
  sumMapIf(map(reason, toUInt64(1)), action LIKE 'auth.%' AND outcome IN ('failure', 'denied')) AS auth_fail_reasons,
  sumMapIf(map(reason, toUInt64(1)), outcome != 'success' AND reason != '') AS denial_reasons
FROM events
WHERE client_ip != toIPv6('::')
GROUP BY entity_type, bucket, entity_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_entity_1s_net_mv TO rollup_entity_1s AS
SELECT 'net' AS entity_type, toStartOfSecond(ts) AS bucket, if(startsWith(IPv6NumToString(client_ip), '::ffff:'), concat(IPv4NumToString(toIPv4(bitAnd(toUInt32(toIPv4(replaceOne(IPv6NumToString(client_ip), '::ffff:', ''))), 4294967040))), '/24'), concat(IPv6NumToString(IPv6CIDRToRange(client_ip, 48).1), '/48')) AS entity_id,
  count() AS events,
  countIf(action LIKE 'auth.%' AND outcome IN ('failure', 'denied')) AS auth_failures,
  countIf(action LIKE 'auth.%' AND outcome = 'success') AS auth_successes,
  countIf(reason = 'ip_not_allowed') AS ip_not_allowed,
  countIf(reason = 'scope_denied') AS scope_denied,
  countIf(reason = 'rate_limited') AS rate_limited,
  countIf(action = 'order.new') AS orders,
  sumIf(ifNull(order_notional, 0), action = 'order.new') AS notional,
  uniqExactState(client_ip) AS ips,
  uniqExactStateIf(api_key_id, api_key_id != '' AND action LIKE 'auth.%' AND outcome IN ('failure', 'denied')) AS failed_keys,
  uniqExactStateIf(user_id, user_id != '' AND action LIKE 'auth.%' AND outcome IN ('failure', 'denied')) AS failed_users,
  sumMapIf(map(reason, toUInt64(1)), action LIKE 'auth.%' AND outcome IN ('failure', 'denied')) AS auth_fail_reasons,
  sumMapIf(map(reason, toUInt64(1)), outcome != 'success' AND reason != '') AS denial_reasons
FROM events
WHERE client_ip != toIPv6('::')
GROUP BY entity_type, bucket, entity_id;

-- rollup_key_1h: a key's orders and notional per event-time hour, for baselines by hour of
-- week (volume.spike). Kept 120 days.
CREATE TABLE IF NOT EXISTS rollup_key_1h (
  api_key_id String,
  hour DateTime('UTC'),
  orders UInt64,
  notional Float64,
  events UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (api_key_id, hour)
TTL hour + INTERVAL 120 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_key_1h_mv TO rollup_key_1h AS
SELECT api_key_id, toStartOfHour(ts) AS hour,
  countIf(action = 'order.new') AS orders,
  sumIf(ifNull(order_notional, 0), action = 'order.new') AS notional,
  count() AS events
FROM events
WHERE api_key_id != ''
GROUP BY api_key_id, hour;

-- key_geo: where each key has been used, by country, with first and last event time.
CREATE TABLE IF NOT EXISTS key_geo (
  api_key_id String,
  country LowCardinality(String),
  first_seen SimpleAggregateFunction(min, DateTime64(9, 'UTC')),
  last_seen SimpleAggregateFunction(max, DateTime64(9, 'UTC')),
  events SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
ORDER BY (api_key_id, country);

CREATE MATERIALIZED VIEW IF NOT EXISTS key_geo_mv TO key_geo AS
SELECT api_key_id, geo_country AS country, min(ts) AS first_seen, max(ts) AS last_seen, count() AS events
FROM events
WHERE api_key_id != '' AND geo_country != ''
GROUP BY api_key_id, country;
