-- key_orders: every event that carries an order size (order_qty or order_notional above 0),
-- by key, then event time. order.fat_finger (detect/src/detectors/behaviour-fat-finger.ts)
-- reads a key's orders of the last history_days for every key a batch brings an order for.
-- On `events` that read could not skip anything: its sort key is (source, api_key_id, ts, id)
-- in day partitions, so one granule of 8,192 rows holds a few rows of hundreds of keys, and
-- a batch with orders on a few percent of all keys touched every granule of every day, nine
-- rows in ten of them not orders (measured: the whole table read twice a tick, ~6 s a call
-- at 10 M stored). Here a key's orders are adjacent, only orders are kept, and granules are
-- small (256 rows), so a batch reads its keys' orders and little else.
-- Same collapsing key as `events` (ReplacingMergeTree on the same columns), so a re-sent
-- event collapses here when it collapses there; readers that count still de-duplicate by id.
-- Kept as long as `events` keeps rows: history_days has no upper bound.
CREATE TABLE IF NOT EXISTS key_orders (
  api_key_id String,
  ts DateTime64(9, 'UTC'),
  source LowCardinality(String),
  id String,
  action LowCardinality(String),
  order_symbol LowCardinality(String),
  order_qty Nullable(Float64),
  order_notional Nullable(Float64)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (api_key_id, ts, source, id)
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS key_orders_mv TO key_orders AS
SELECT api_key_id, ts, source, id, action, order_symbol, order_qty, order_notional
FROM events
WHERE api_key_id != '' AND (order_qty > 0 OR order_notional > 0);

-- What `events` held before the view existed. The view comes first, so an event stored
-- meanwhile is copied twice at worst, never missed; the copies collapse as parts merge, as a
-- re-sent event's do in `events`. Run again after a crash, it only copies again.
INSERT INTO key_orders (api_key_id, ts, source, id, action, order_symbol, order_qty, order_notional)
SELECT api_key_id, ts, source, id, action, order_symbol, order_qty, order_notional
FROM events
WHERE api_key_id != '' AND (order_qty > 0 OR order_notional > 0)
SETTINGS throw_on_max_partitions_per_insert_block = 0;
