-- Compiled regulatory reports (CONTRACT §4 /v1/reports): one row per compiled file, which
-- lives in <VIGIL_DATA_DIR>/reports/<id>.<format>. sha256 is the file's bytes (the download's
-- Vigil-Report-SHA256 header); content_sha256 is the report's content hash, the same in every
-- format (respond/src/reports/report.ts). Rows are only added; compiling is also an entry in
-- the audit chain (report.compile).
CREATE TABLE IF NOT EXISTS reports (
  id String,
  type LowCardinality(String),
  period_from DateTime64(3, 'UTC'),
  period_to DateTime64(3, 'UTC'),
  parameters String,
  format LowCardinality(String),
  sha256 String,
  content_sha256 String,
  size UInt64,
  created_by String,
  created_at DateTime64(6, 'UTC')
)
ENGINE = MergeTree
ORDER BY (created_at, id);
