-- rule_test_runs: each `vigil rules test` run, recorded in the data dir's store so the
-- market-access review (SEC 15c3-5(e)) can show each control tested in the period: when, by
-- whom, which rules with which file hashes (those of control_versions), how many fixtures
-- passed and failed. The rule_* arrays run in parallel, one entry per rule tested.
-- Append-only, one row a run; kept for good (annual reviews look back a year and more).
CREATE TABLE IF NOT EXISTS rule_test_runs (
  id String,
  started_at DateTime64(6, 'UTC'),
  finished_at DateTime64(6, 'UTC'),
  by String,
  operator String,
  only_rule String,
  tests UInt32,
  passed UInt32,
  failed UInt32,
  rules Array(String),
  rule_sha256 Array(String),
  rule_tests Array(UInt32),
  rule_failed Array(UInt32),
  recorded_at DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY (finished_at, id);
