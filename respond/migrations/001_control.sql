-- The platform's own audit log, hash-chained: each row carries the previous row's hash, and
-- its own hash covers (seq, at, actor, action, subject, detail, prev_hash). A row edited,
-- deleted or moved breaks the chain where it was, which `vigil audit verify` reports. Rows
-- are written in seq order under one lock (respond/src/audit-log.ts); nothing updates them.
CREATE TABLE IF NOT EXISTS audit_log (
  seq UInt64,
  at DateTime64(6, 'UTC'),
  actor String,
  action LowCardinality(String),
  subject String,
  detail String,
  prev_hash String,
  hash String
)
ENGINE = MergeTree
ORDER BY seq;

-- What trading APIs enforce (CONTRACT §3) as an append-only log of changes: key revocations
-- and restorations, kill-switch trips and resets. `version` is the control-channel version:
-- consecutive, one per change, so a guard resuming from version n gets exactly what it missed
-- (version > n). Current key states and tripped switches are derived (argMax over version).
-- A kill-switch reset row repeats the switch's scope so "is this scope tripped" is one lookup.
CREATE TABLE IF NOT EXISTS control_log (
  version UInt64,
  kind LowCardinality(String),
  subject String,
  scope_type LowCardinality(String),
  scope_id String,
  reason String,
  actor String,
  incident_id String,
  alert_id String,
  at DateTime64(6, 'UTC')
)
ENGINE = MergeTree
ORDER BY version;

-- Four-eyes: the first person's request to reset a kill-switch. It changes nothing a guard
-- enforces, so it takes no control version; the reset itself (by a second person) does.
CREATE TABLE IF NOT EXISTS killswitch_reset_requests (
  killswitch_id String,
  requested_by String,
  reason String,
  at DateTime64(6, 'UTC')
)
ENGINE = MergeTree
ORDER BY (killswitch_id, at);
