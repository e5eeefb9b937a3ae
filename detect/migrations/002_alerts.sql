-- Alerts (CONTRACT §4) as an append-only log of changes: a new alert, a repeat that raises
-- its count and last_seen, a status change with its note. The current alert is the row with
-- the highest version; every earlier row stays as the alert's history.
-- An alert's id is derived from (rule, entity, start of its window), so a retried tick or a
-- second detector process computes the same id and never doubles an alert.
CREATE TABLE IF NOT EXISTS alert_changes (
  id String,
  version UInt64,
  change LowCardinality(String),
  rule LowCardinality(String),
  severity LowCardinality(String),
  score Float64,
  status LowCardinality(String),
  entity_type LowCardinality(String),
  entity_id String,
  api_key_id String,
  account_id String,
  client_ip String,
  first_seen DateTime64(6, 'UTC'),
  last_seen DateTime64(6, 'UTC'),
  count UInt64,
  summary String,
  evidence String,
  incident_id String,
  note String,
  changed_by String,
  changed_at DateTime64(6, 'UTC') DEFAULT now64(6),
  detected_at DateTime64(6, 'UTC'),
  event_received_at DateTime64(9, 'UTC')
)
ENGINE = MergeTree
ORDER BY (id, version);

-- Where each detector process has got to in detect_stream, so a restart resumes there.
CREATE TABLE IF NOT EXISTS detect_cursor (
  name String,
  received_at DateTime64(9, 'UTC'),
  id String,
  updated_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY name;
