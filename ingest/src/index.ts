// Public surface of @vigil/ingest.
export { createSourceRegistry } from './sources.js'
export type { SourceRegistry, SourceInfo, SourceSecret } from './sources.js'
export { createIngest, OWN_SOURCE } from './ingest.js'
export { createGeoLookup, loadGeoDatabase } from './geo.js'
// What ingest writes for one event, for the storage benchmark (test/bench/storage.bench.ts).
export { normalizeEvent, ROW_COLUMNS, ROW_FORMAT } from './normalize.js'
export type { Ingest, IngestDeps } from './ingest.js'
export type { DurableRows } from './batch-writer.js'
