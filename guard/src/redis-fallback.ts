/**
 * What the guard does when Redis fails: each call that errors or takes longer than
 * `timeoutMs` is answered by this instance's in-memory twin instead, so requests neither
 * hang nor fail while Redis is down. Limits, lockouts and the replay cache then hold per
 * instance rather than across instances until Redis answers again (README, "Failure modes").
 */

export interface FallbackOptions {
  /** @defaultValue 250 */
  timeoutMs?: number
  /** Told about each failure (the plugin logs it, at most once a minute). */
  onError?: (err: unknown) => void
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`redis did not answer within ${ms} ms`)), ms)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

type AsyncMethods<T> = { [K in keyof T]: T[K] extends (...args: infer A) => Promise<infer R> ? (...args: A) => Promise<R> : never }

/** `primary` with every async method falling back to the same method of `fallback`. */
export function withMemoryFallback<T extends AsyncMethods<T>>(primary: T, fallback: T, opts: FallbackOptions = {}): T {
  const timeoutMs = opts.timeoutMs ?? 250
  return new Proxy(primary, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver)
      if (typeof value !== 'function') return value
      const backup: unknown = Reflect.get(fallback, prop)
      return async (...args: unknown[]) => {
        try {
          return await withTimeout(Promise.resolve((value as (...a: unknown[]) => unknown).apply(target, args)), timeoutMs)
        } catch (err) {
          opts.onError?.(err)
          return (backup as (...a: unknown[]) => unknown).apply(fallback, args)
        }
      }
    },
  })
}
