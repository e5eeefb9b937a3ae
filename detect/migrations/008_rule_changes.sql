-- rule_changes: every time a detection rule was switched on or off at runtime
-- (`POST /v1/rules/:id/enabled`), with why and by whom. Append-only: a rule's state is its
-- newest row; a rule with no row is as its file says (`enabled`, default true). Every engine
-- process re-reads the newest rows at most once a second (detect/src/rule-states.ts), so a
-- switch reaches every process within a tick or two. Tiny (one row per switch), kept for good.
CREATE TABLE IF NOT EXISTS rule_changes (
  rule LowCardinality(String),
  enabled UInt8,
  reason String,
  actor String,
  at DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY (rule, at);
