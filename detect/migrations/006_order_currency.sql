-- order.fat_finger compares an order's notional only with the key's earlier orders in the
-- same currency: a desk trading Tokyo in JPY and New York in USD on one key sends notionals
-- a hundred times apart in ordinary business, and compared across currencies every switch
-- looked like a fat finger. The currency comes from `order.currency` (events.order_currency)
-- into detect_stream and key_orders; the views are created again with it (no insert runs
-- while migrations do). Every statement can run again after a crash.
ALTER TABLE detect_stream ADD COLUMN IF NOT EXISTS order_currency LowCardinality(String) DEFAULT '' AFTER order_symbol;

DROP VIEW IF EXISTS detect_stream_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS detect_stream_mv TO detect_stream AS
SELECT received_at, ts, source, id, action, outcome, reason, api_key_id, account_id, user_id, client_ip,
  http_path, attrs, order_qty, order_notional, order_symbol, order_currency, geo_country, geo_city, geo_lat, geo_lon, clock_skew_ms
FROM events;

ALTER TABLE key_orders ADD COLUMN IF NOT EXISTS order_currency LowCardinality(String) DEFAULT '' AFTER order_symbol;

DROP VIEW IF EXISTS key_orders_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS key_orders_mv TO key_orders AS
SELECT api_key_id, ts, source, id, action, order_symbol, order_currency, order_qty, order_notional
FROM events
WHERE api_key_id != '' AND (order_qty > 0 OR order_notional > 0);

-- The orders stored before: copied again with their currency; the copies replace the old rows
-- as parts merge (same collapsing key), and the merge is forced here so readers see one row.
INSERT INTO key_orders (api_key_id, ts, source, id, action, order_symbol, order_currency, order_qty, order_notional)
SELECT api_key_id, ts, source, id, action, order_symbol, order_currency, order_qty, order_notional
FROM events
WHERE api_key_id != '' AND (order_qty > 0 OR order_notional > 0) AND order_currency != ''
SETTINGS throw_on_max_partitions_per_insert_block = 0;

OPTIMIZE TABLE key_orders FINAL;
