-- Incidents (CONTRACT §4) as an append-only log of changes: opened, an alert attached (which
-- may raise the severity), a status change with its note. The current incident is the row
-- with the highest version; every earlier row stays as its history. An incident's id is
-- derived from the alert that opened it, so a retried open_incident step opens nothing twice.
-- Writes to one incident are serialised by a Redis lock (respond/src/incidents.ts), so
-- versions never collide.
CREATE TABLE IF NOT EXISTS incident_changes (
  id String,
  version UInt64,
  change LowCardinality(String),
  title String,
  severity LowCardinality(String),
  status LowCardinality(String),
  entity_type LowCardinality(String),
  entity_id String,
  api_key_id String,
  account_id String,
  opened_at DateTime64(6, 'UTC'),
  note String,
  actor String,
  changed_at DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY (id, version);

-- Which alerts belong to which incident. One row per (incident, alert): attaching again is
-- answered from here and writes nothing. Ordered by alert too, so "is this alert already in an
-- incident" (a retried step) is one lookup.
CREATE TABLE IF NOT EXISTS incident_alerts (
  incident_id String,
  alert_id String,
  attached_at DateTime64(6, 'UTC'),
  actor String
)
ENGINE = MergeTree
ORDER BY (incident_id, alert_id);

-- Every step attempt and outcome, every approval and every human action on an incident.
-- `detail` is JSON, masked before it is written: it never holds a secret. Entries are only
-- ever added; `seq` orders entries written in the same microsecond.
CREATE TABLE IF NOT EXISTS incident_timeline (
  incident_id String,
  at DateTime64(6, 'UTC'),
  seq UInt64,
  kind LowCardinality(String),
  actor String,
  alert_id String,
  playbook String,
  step String,
  attempt Nullable(UInt32),
  outcome String,
  detail String
)
ENGINE = MergeTree
ORDER BY (incident_id, at, seq);
