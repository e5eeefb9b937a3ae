-- People who sign in to Vigil (CONTRACT §6 `vigil users`), as an append-only log of
-- changes like api_token_changes: every change is a new row with the next version, the
-- current state of a person is their highest version. Passwords are stored only as
-- argon2id hashes, TOTP secrets only encrypted (AES-256-GCM under the master key, bound to
-- the email), recovery codes only as keyed hashes. Sessions live in Redis, not here.
CREATE TABLE IF NOT EXISTS user_changes (
  email String,
  version UInt64,
  change LowCardinality(String),
  role LowCardinality(String),
  status LowCardinality(String),
  password_hash String,
  totp_secret_enc String DEFAULT '',
  totp_pending_enc String DEFAULT '',
  recovery_hashes Array(String) DEFAULT [],
  changed_at DateTime64(3, 'UTC') DEFAULT now64(3),
  changed_by String DEFAULT ''
)
ENGINE = MergeTree
ORDER BY (email, version);
