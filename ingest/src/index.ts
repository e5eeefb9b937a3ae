// Public surface of @vigil/ingest.
export { createSourceRegistry } from './sources.js'
export type { SourceRegistry, SourceInfo, SourceSecret } from './sources.js'
export { createIngest, OWN_SOURCE } from './ingest.js'
export { loadGeoDatabase } from './geo.js'
export type { Ingest, IngestDeps } from './ingest.js'
export type { DurableRows } from './batch-writer.js'
