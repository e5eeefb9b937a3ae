-- rollup_denials_1s: what the account rules (auth.*, access.*, rate.abuse;
-- detect/src/detectors/access-*.ts, auth-*.ts, rate-*.ts) count, per api_key, user and ip
-- and per EVENT-TIME second, from the non-success events that carry a reason only:
--
-- denials_by_ip: those events counted by "<client ip> <reason>" (the ip as the stream shows
--   it: IPv4 dotted, IPv6 text; '' when the event had none). rollup_entity_1s's ips and
--   reason maps cannot say how many of a key's bad_signature failures came from how many
--   addresses, nor leave out a rule's allowlisted addresses: this can, for whichever reasons
--   a rule names (its failure_reasons).
-- credentials: on ip rows only, the distinct (reason, api_key_id, user_id when the event had
--   no key) of those events: how many credentials one address failed on, for the reasons a
--   rule names. rollup_entity_1s's failed_keys/failed_users count auth.* actions only, and an
--   API key fails its signature on whatever call it signs (api.request, order.new).
--
-- A table of its own rather than columns of rollup_entity_1s: it holds a row only where
-- something was refused, so a tick reads a window of refusals, not of all traffic. Sort key
-- and retention as rollup_entity_1s: time after the entity type, so a window scan reads only
-- its seconds; kept 35 days.
CREATE TABLE IF NOT EXISTS rollup_denials_1s (
  entity_type LowCardinality(String),
  bucket DateTime('UTC'),
  entity_id String,
  denials_by_ip SimpleAggregateFunction(sumMap, Map(String, UInt64)),
  credentials SimpleAggregateFunction(groupUniqArrayArray, Array(Tuple(String, String, String)))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMMDD(bucket)
ORDER BY (entity_type, bucket, entity_id)
TTL bucket + INTERVAL 35 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_denials_1s_mv TO rollup_denials_1s AS
WITH if(client_ip = toIPv6('::'), '', replaceRegexpOne(IPv6NumToString(client_ip), '^::ffff:(\\d+\\.\\d+\\.\\d+\\.\\d+)$', '\\1')) AS ip_text
SELECT e.1 AS entity_type, toStartOfSecond(ts) AS bucket, e.2 AS entity_id,
  sumMap(map(concat(ip_text, ' ', toString(reason)), toUInt64(1))) AS denials_by_ip,
  groupUniqArrayIf((toString(reason), api_key_id, if(api_key_id = '', user_id, '')), e.1 = 'ip' AND (api_key_id != '' OR user_id != '')) AS credentials
FROM events
ARRAY JOIN [('api_key', api_key_id), ('user', user_id), ('ip', ip_text)] AS e
WHERE outcome != 'success' AND reason != '' AND e.2 != ''
GROUP BY entity_type, bucket, entity_id;
