/**
 * A value built on first use and kept. For what is costly to build at import time and not
 * needed by every process that imports the module: compiled JSON Schemas, the geo database.
 * A `vigil` command that only prints its usage then starts in a fraction of the time.
 */
export function lazy<T>(build: () => T): () => T {
  let built = false
  let value: T
  return () => {
    if (!built) {
      value = build()
      built = true
    }
    return value
  }
}
