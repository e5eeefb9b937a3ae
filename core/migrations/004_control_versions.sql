-- control_versions: every version of a detection rule file (rules/detections) or playbook
-- file (rules/playbooks) that a Vigil process loaded, kept so the market-access review
-- (SEC 15c3-5(e)) can list each threshold change with who and when. Append-only: a row is
-- written only when a file's content hash differs from the newest row for its id, so a
-- restart on unchanged files adds nothing (core/src/control-versions.ts). A row with an empty
-- sha256 says the control was no longer loaded. Tiny (one row per change), kept for good.
CREATE TABLE IF NOT EXISTS control_versions (
  kind LowCardinality(String),
  id String,
  file String,
  sha256 String,
  params String,
  loaded_at DateTime64(6, 'UTC'),
  by String,
  operator String,
  previous_sha256 String
)
ENGINE = MergeTree
ORDER BY (kind, id, loaded_at);
