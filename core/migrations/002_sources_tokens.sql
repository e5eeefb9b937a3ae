-- Sources (trading APIs that send events) and operator API tokens, as append-only logs of
-- changes: every change is a new row, the current state is the row with the highest
-- version. Nothing is updated in place, so the history is the forensic trail.
-- Secrets are stored only encrypted (AES-256-GCM, core/src/crypto.ts); tokens only hashed.
CREATE TABLE IF NOT EXISTS source_changes (
  id String,
  version UInt64,
  change LowCardinality(String),
  status LowCardinality(String),
  secret_enc String,
  previous_secret_enc String,
  previous_valid_until DateTime64(3, 'UTC'),
  clock_limit_us UInt64 DEFAULT 1000,
  changed_at DateTime64(3, 'UTC') DEFAULT now64(3),
  changed_by String DEFAULT ''
)
ENGINE = MergeTree
ORDER BY (id, version);

CREATE TABLE IF NOT EXISTS api_token_changes (
  id String,
  version UInt64,
  change LowCardinality(String),
  name String,
  role LowCardinality(String),
  token_hash String,
  expires_at DateTime64(3, 'UTC'),
  changed_at DateTime64(3, 'UTC') DEFAULT now64(3),
  changed_by String DEFAULT ''
)
ENGINE = MergeTree
ORDER BY (id, version);
