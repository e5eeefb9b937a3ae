-- key_accounts: which accounts each key acted for, with the first and last event time. The
-- key explorer (`GET /v1/keys?q=`, server/src/key-explorer.ts) finds keys by a prefix of
-- their api_key_id (the sort key) or of an account_id (a scan of this small table: keys ×
-- accounts rows), and `GET /v1/keys/:id/activity` names a key's accounts from it. `events`
-- counts a re-sent event again until parts merge; it only orders, nobody reads it as a total.
CREATE TABLE IF NOT EXISTS key_accounts (
  api_key_id String,
  account_id String,
  first_seen SimpleAggregateFunction(min, DateTime64(9, 'UTC')),
  last_seen SimpleAggregateFunction(max, DateTime64(9, 'UTC')),
  events SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
ORDER BY (api_key_id, account_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS key_accounts_mv TO key_accounts AS
SELECT api_key_id, account_id, min(ts) AS first_seen, max(ts) AS last_seen, count() AS events
FROM events
WHERE api_key_id != ''
GROUP BY api_key_id, account_id;

-- What `events` held before the view existed (migrations run before ingest starts). Run again
-- after a crash, it only adds rows that min/max leave as they were.
INSERT INTO key_accounts (api_key_id, account_id, first_seen, last_seen, events)
SELECT api_key_id, account_id, min(ts), max(ts), count()
FROM events
WHERE api_key_id != ''
GROUP BY api_key_id, account_id;
