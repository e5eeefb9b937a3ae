-- alert_feed: every row of alert_changes once more, sorted by when it was stored, so the live
-- alerts stream (GET /v1/alerts/stream) asks "what changed after this position" through the
-- sort key instead of scanning alert_changes, which is sorted by alert id. Every vigil process
-- on one ClickHouse server reads the same feed, so a change stored by another process's
-- detector reaches this process's stream clients. A position is (changed_at, id, version).
-- Kept 7 days: a client away longer reloads the list instead of resuming.
CREATE TABLE IF NOT EXISTS alert_feed (
  changed_at DateTime64(6, 'UTC'),
  id String,
  version UInt64
)
ENGINE = MergeTree
ORDER BY (changed_at, id, version)
TTL toDateTime(changed_at) + INTERVAL 7 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS alert_feed_mv TO alert_feed AS
SELECT changed_at, id, version FROM alert_changes;

-- The changes of the last 7 days stored before this migration. A change stored while it runs
-- may land twice; readers take DISTINCT rows.
INSERT INTO alert_feed SELECT changed_at, id, version FROM alert_changes WHERE changed_at >= now64(6) - INTERVAL 7 DAY;
