// Public surface of @vigil/core. Names are listed one by one on purpose: what is not here
// is internal to core.
export { ERRORS, VigilError, vigilError, isVigilError } from './errors.js'
export type { ErrorName, ErrorBody } from './errors.js'
export { loadConfig, CONFIG_SETTINGS } from './config.js'
export type { VigilConfig, IngestConfig, LoadConfigOptions, StorageConfig } from './config.js'
export {
  AuditEventSchema,
  EnrichmentSchema,
  HttpSchema,
  TlsSchema,
  OrderSchema,
  EVENT_COLUMNS,
  columnDefault,
  CLICKHOUSE_KEYWORD,
  OUTCOMES,
  ACTIONS,
  REASONS,
  TS_PATTERN,
} from './event-schema.js'
export type { AuditEvent, Enrichment, StoredEvent, EventColumn, Outcome } from './event-schema.js'
export { openStore, storeUnavailable } from './store.js'
export type { Store, QueryParams, OpenStoreOptions, RawFormat } from './store.js'
export { TIERED_POLICY, COLD_VOLUME, embeddedStorageConfigXml, resolveTiering } from './storage-tiers.js'
export type { StorageTiering } from './storage-tiers.js'
export { migrate, readMigrations, CORE_MIGRATIONS_DIR } from './migrate.js'
export type { Migration } from './migrate.js'
export { signPayload, verifySignature, loadMasterKey, encryptSecret, decryptSecret, generateSecret, hashToken, safeEqual } from './crypto.js'
export { startRedis } from './redis.js'
export type { RedisHandle, RedisLogger, StartRedisOptions } from './redis.js'
export { maskText, maskIdentifier, maskEvent, MASK_KINDS } from './masking.js'
export { createLogger, maskingSerializers } from './logger.js'
export type { Logger } from './logger.js'
export { SEVERITIES, ENTITY_TYPES, ALERT_STATUSES, severityRank } from './alert.js'
export type { Alert, AlertStatus, Severity, EntityType } from './alert.js'
export { instanceId } from './instance.js'
export { lazy } from './lazy.js'
export { describeSchemaError, schemaProblems, formatFileProblem, listDataFiles } from './data-file.js'
export type { SchemaProblem, SchemaErrorStyle } from './data-file.js'
export { CONTROL_KINDS, canonicalParamsJson, contentSha256, controlAuthor, recordControlVersions, snapshotControls } from './control-versions.js'
export type { ControlAuthor, ControlKind, ControlReader, ControlSnapshot, ControlSnapshots, ControlVersion, RecordControlVersionsOptions } from './control-versions.js'
