/**
 * The pino logger every Vigil workspace uses, and the promise it keeps: no secret reaches a
 * log line (CONTRACT §1). Every string on its way to a line goes through `maskText`: the
 * message and its interpolated values (`hooks.logMethod`, then the final message once more
 * after formatting), every value of the merged object at any depth (`formatters.log`),
 * child bindings, and errors (message, stack, causes and own fields). Keys that always hold
 * secrets are censored outright by `redact`.
 *
 * Relied on by: every workspace's logging, and the server's fastify instance, which should
 * be given `maskingSerializers` so request URLs (query strings hold tokens) are masked too.
 */
import pino from 'pino'
import { maskText, secretKeyKind } from './masking.js'

export type Logger = pino.Logger

/** Paths whose values are secrets whatever they look like. */
const REDACT_PATHS = [
  '*.secret',
  '*.password',
  '*.token',
  '*.authorization',
  'req.headers.authorization',
  'req.headers["vigil-signature"]',
  'headers.authorization',
  'secret',
  'password',
  'token',
]
const REDACT_CENSOR = '[masked]'

/**
 * Beyond this depth a value is written as `[Object]`: it bounds the work one log call can
 * cost, and nothing deeper can then carry an unmasked string to the line.
 */
const MAX_DEPTH = 10
const TRUNCATED = '[Object]'
const CIRCULAR = '[Circular]'
const UNSERIALIZABLE = '[Unserializable]'

type Fields = Record<string, unknown>

function isPlainObject(v: object): boolean {
  const proto: unknown = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

function hasToJson(v: object): v is { toJSON: () => unknown } {
  return typeof (v as { toJSON?: unknown }).toJSON === 'function'
}

/** A string under a key that names a secret is replaced whole; anything else is masked as text. */
function maskNamed(key: string, value: string): string {
  const kind = secretKeyKind(key)
  if (kind !== undefined && value.length > 0 && !value.startsWith('[masked')) return `[masked:${kind}]`
  return maskText(value)
}

/**
 * Masks a value for logging without touching the caller's objects: what changes is copied,
 * what does not is passed on as it is.
 */
function maskValue(value: unknown, depth: number, ancestors: object[]): unknown {
  if (typeof value === 'string') return maskText(value)
  if (typeof value !== 'object' || value === null) return value
  // Byte arrays hold numbers only, and walking a large one key by key is slow.
  if (ArrayBuffer.isView(value)) return value
  if (depth >= MAX_DEPTH) return TRUNCATED
  if (ancestors.includes(value)) return CIRCULAR
  try {
    if (value instanceof Error) return serializeError(value, depth, ancestors)
    // What JSON.stringify would write (Date, URL, Buffer): mask that instead.
    if (hasToJson(value)) return maskValue(value.toJSON(), depth, ancestors)
    ancestors.push(value)
    try {
      return Array.isArray(value) ? maskArray(value, depth, ancestors) : maskFields(value as Fields, depth, ancestors)
    } finally {
      ancestors.pop()
    }
  } catch {
    // A throwing getter or toJSON: JSON.stringify would throw too, so write a marker instead.
    return UNSERIALIZABLE
  }
}

function maskArray(list: unknown[], depth: number, ancestors: object[]): unknown[] {
  let out: unknown[] | undefined
  for (let i = 0; i < list.length; i++) {
    const before = list[i]
    const after = maskValue(before, depth + 1, ancestors)
    if (after !== before && out === undefined) out = list.slice(0, i)
    if (out !== undefined) out.push(after)
  }
  return out ?? list
}

function maskFields(obj: Fields, depth: number, ancestors: object[]): Fields {
  let out: Fields | undefined
  // Class instances are copied into plain objects when anything changes, which is what
  // JSON.stringify writes of them anyway (own enumerable fields).
  const keys = Object.keys(obj)
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!
    const before = obj[key]
    const after = typeof before === 'string' ? maskNamed(key, before) : maskValue(before, depth + 1, ancestors)
    if (after !== before && out === undefined) {
      out = {}
      for (let j = 0; j < i; j++) out[keys[j]!] = obj[keys[j]!]
    }
    if (out !== undefined) out[key] = after
  }
  return out ?? obj
}

const rawErrorSerializer = pino.stdSerializers.err

/** pino's error shape (type, message, stack with causes, own fields), every string masked. */
function serializeError(err: Error, depth: number, ancestors: object[]): Fields {
  const serialized = rawErrorSerializer(err) as unknown as Fields
  const out: Fields = {}
  ancestors.push(err)
  try {
    for (const key of Object.keys(serialized)) {
      const v = serialized[key]
      out[key] = typeof v === 'string' ? maskNamed(key, v) : maskValue(v, depth + 1, ancestors)
    }
  } finally {
    ancestors.pop()
  }
  return out
}

/** The merged object of one log call: request and response objects are left to their serializers. */
function maskLogObject(obj: Fields): Fields {
  try {
    let out: Fields | undefined
    const keys = Object.keys(obj)
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!
      const before = obj[key]
      let after: unknown
      if ((key === 'req' || key === 'res') && typeof before === 'object' && before !== null && !isPlainObject(before)) after = before
      else after = typeof before === 'string' ? maskNamed(key, before) : maskValue(before, 1, [obj])
      if (after !== before && out === undefined) {
        out = {}
        for (let j = 0; j < i; j++) out[keys[j]!] = obj[keys[j]!]
      }
      if (out !== undefined) out[key] = after
    }
    return out ?? obj
  } catch {
    return { log_fields: UNSERIALIZABLE }
  }
}

interface RequestLike {
  id?: unknown
  method?: unknown
  url?: unknown
  hostname?: unknown
  ip?: unknown
  headers?: { host?: unknown }
  socket?: { remoteAddress?: unknown; remotePort?: unknown }
  remoteAddress?: unknown
  remotePort?: unknown
}

const asString = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)

/** A request as one line needs it: no headers at all, the URL masked (query strings carry tokens). */
function serializeRequest(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value
  const req = value as RequestLike
  const url = asString(req.url)
  return {
    id: typeof req.id === 'string' || typeof req.id === 'number' ? req.id : undefined,
    method: asString(req.method),
    url: url === undefined ? undefined : maskText(url),
    hostname: asString(req.hostname) ?? asString(req.headers?.host),
    remoteAddress: asString(req.ip) ?? asString(req.socket?.remoteAddress) ?? asString(req.remoteAddress),
    remotePort: req.socket?.remotePort ?? req.remotePort,
  }
}

function serializeResponse(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value
  const statusCode = (value as { statusCode?: unknown }).statusCode
  return { statusCode: typeof statusCode === 'number' ? statusCode : undefined }
}

function serializeAnyError(value: unknown): unknown {
  // Plain objects here were already masked by `formatters.log`, errors included.
  return value instanceof Error ? serializeError(value, 0, []) : value
}

/** Serializers for `req`, `res` and `err` that mask; pass them to fastify's logger options. */
export const maskingSerializers = {
  req: serializeRequest,
  res: serializeResponse,
  err: serializeAnyError,
} as const

/**
 * The logger of every workspace. Writes to `destination` (default stdout) from `level`
 * (default `info`) up, with every secret masked.
 */
export function createLogger(opts: { level?: string; destination?: pino.DestinationStream; name?: string } = {}): Logger {
  const options: pino.LoggerOptions = {
    level: opts.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: REDACT_CENSOR },
    serializers: {
      ...maskingSerializers,
      // The final message, after interpolation and after pino took it from an error.
      msg: (m: unknown) => (typeof m === 'string' ? maskText(m) : m),
    },
    formatters: {
      log: maskLogObject,
      bindings: maskLogObject,
    },
    hooks: {
      logMethod(args, method) {
        const list = args as unknown[]
        for (let i = 0; i < list.length; i++) {
          const a = list[i]
          // The first object is the merged object: `formatters.log` masks it.
          if (typeof a === 'string') list[i] = maskText(a)
          else if (i > 0 && typeof a === 'object' && a !== null) list[i] = maskValue(a, 0, [])
        }
        method.apply(this, args)
      },
    },
  }
  if (opts.name !== undefined) options.name = opts.name
  const logger = opts.destination === undefined ? pino(options) : pino(options, opts.destination)
  // pino hands a child's bindings to no formatter, so mask them on the way in. Children
  // inherit this from the root through their prototype.
  type ChildFn = (this: Logger, bindings: pino.Bindings, options?: pino.ChildLoggerOptions<never>) => Logger
  // pino types `child` generically over custom levels, which this logger never has.
  const baseChild = logger.child as unknown as ChildFn
  const maskedChild: ChildFn = function (bindings, childOptions) {
    return baseChild.call(this, maskLogObject(bindings), childOptions)
  }
  Object.defineProperty(logger, 'child', { value: maskedChild, writable: true, configurable: true })
  return logger
}
