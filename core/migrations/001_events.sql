-- The audit events of CONTRACT §1 as stored. {{EVENT_COLUMNS}} is expanded from
-- core/src/event-schema.ts, the one definition of the event (later column additions come
-- as ALTER ... ADD COLUMN IF NOT EXISTS migrations, so old installs catch up).
-- ReplacingMergeTree on (source, api_key_id, ts, id): a retried event with the same id is
-- collapsed in storage; readers that count use FINAL or count(DISTINCT id).
-- Day partitions; per-key reads hit the sort key, per-IP reads a bloom filter. Skip indexes
-- cost insert speed (bloom on account_id plus a set on action: -20 % rows/s, measured), so
-- other access paths belong in rollups, not here.
CREATE TABLE IF NOT EXISTS events (
  {{EVENT_COLUMNS}},
  INDEX idx_client_ip client_ip TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(ts)
ORDER BY (source, api_key_id, ts, id)
SETTINGS index_granularity = 8192;
