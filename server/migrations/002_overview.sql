-- What the dashboard's overview (GET /v1/overview) reads instead of raw events.
--
-- overview_source_1s: per EVENT-TIME second and source, events, those not successful
-- (outcome != 'success') and the largest clock skew in absolute value. Time first in the sort
-- key: the overview reads a period across all sources. Kept 35 days, like detect's rollups.
CREATE TABLE IF NOT EXISTS overview_source_1s (
  second DateTime('UTC'),
  source LowCardinality(String),
  events SimpleAggregateFunction(sum, UInt64),
  failures SimpleAggregateFunction(sum, UInt64),
  skew_max_abs SimpleAggregateFunction(max, Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMMDD(second)
ORDER BY (second, source)
TTL second + INTERVAL 35 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS overview_source_1s_mv TO overview_source_1s AS
SELECT toStartOfSecond(ts) AS second, source, count() AS events, countIf(outcome != 'success') AS failures,
  max(abs(clock_skew_ms)) AS skew_max_abs
FROM events
GROUP BY second, source;

-- overview_source_last: when each source's newest event reached ingest (its received_at),
-- one row per source once merged: a source's lag without scanning its history.
CREATE TABLE IF NOT EXISTS overview_source_last (
  source LowCardinality(String),
  last_received SimpleAggregateFunction(max, DateTime64(9, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY source;

CREATE MATERIALIZED VIEW IF NOT EXISTS overview_source_last_mv TO overview_source_last AS
SELECT source, max(received_at) AS last_received FROM events GROUP BY source;
