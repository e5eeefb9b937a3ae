-- What the playbook engine must remember beyond Redis (respond/src/engine.ts). BullMQ's
-- job ids stop a step being queued twice while Redis remembers the job; these tables are the
-- record that survives Redis: a step found here with a success is never run again, an
-- approval found decided is never decided again, and a dead-lettered step can be listed and
-- retried after a restart. All are append-only; the current view is argMax over version.

-- One row per change of a playbook run: started, waiting for approval, done, aborted,
-- dead-lettered. run_id is `<alert id>.<playbook id>`. The alert rides along (as JSON, its
-- evidence already masked by detect) so a run parked for approval or dead-lettered can
-- resume without the queue that first carried it.
CREATE TABLE IF NOT EXISTS respond_runs (
  run_id String,
  version UInt64,
  alert_id String,
  playbook LowCardinality(String),
  incident_id String,
  status LowCardinality(String),
  alert String,
  changed_at DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY (run_id, version);

-- One row per outcome of a step attempt: done / already_done / skipped (success: the step
-- never runs again under this key), failed (a retry follows), dead_lettered, rejected,
-- aborted. idempotency_key is `<alert id>.<playbook id>.<step index>`.
CREATE TABLE IF NOT EXISTS respond_steps (
  idempotency_key String,
  run_id String,
  step UInt16,
  action LowCardinality(String),
  attempt UInt32,
  outcome LowCardinality(String),
  summary String,
  error String,
  actor String,
  at DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY (run_id, step, at);

-- Steps that exhausted their attempts or failed beyond retry: `dead`, then `retried` when an
-- operator re-queued one (vigil respond dlq retry). error is masked before it is written.
CREATE TABLE IF NOT EXISTS respond_dead_letters (
  id String,
  version UInt64,
  status LowCardinality(String),
  idempotency_key String,
  run_id String,
  playbook LowCardinality(String),
  step UInt16,
  action LowCardinality(String),
  alert_id String,
  incident_id String,
  attempts UInt32,
  error String,
  dead_at DateTime64(6, 'UTC'),
  changed_by String,
  changed_at DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY (id, version);

-- Approval requests of `require_approval` steps: pending, then approved / rejected (by a
-- person with approvals:write) or expired (nobody answered; on_timeout then applied). The id
-- is derived from the step's idempotency key, so a redelivered run asks only once.
CREATE TABLE IF NOT EXISTS approvals (
  id String,
  version UInt64,
  status LowCardinality(String),
  idempotency_key String,
  run_id String,
  playbook LowCardinality(String),
  step UInt16,
  action LowCardinality(String),
  alert_id String,
  incident_id String,
  on_timeout LowCardinality(String),
  requested_at DateTime64(6, 'UTC'),
  expires_at DateTime64(6, 'UTC'),
  decided_by String,
  note String,
  changed_at DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY (id, version);
