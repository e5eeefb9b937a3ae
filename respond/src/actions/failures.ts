/**
 * How the state actions fail: a store refusing the input (a 4xx VigilError — a bad key id,
 * a bad scope) is a failure no retry can mend, so it becomes bullmq's UnrecoverableError;
 * anything else (storage or Redis down) stays an ordinary error and is retried.
 */
import { UnrecoverableError } from 'bullmq'
import { isVigilError } from '@vigil/core'

export async function refusalsAreUnrecoverable<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (isVigilError(err) && err.statusCode >= 400 && err.statusCode < 500) throw new UnrecoverableError(`${what}: ${err.message}`)
    throw err
  }
}
