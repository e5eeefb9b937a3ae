/**
 * The CLI's side of the admin socket (admin-socket.ts): runs an admin operation in the
 * `vigil up` that holds the data dir, and hands back exactly what running it here would
 * have — its answer, or the same VigilError — so the CLI prints the same either way.
 */
import { request } from 'node:http'
import { lstatSync } from 'node:fs'
import { ERRORS, VigilError, type ErrorName } from '@vigil/core'
import type { AdminInput, AdminOperation, AdminOutput } from './admin-commands.js'
import { ADMIN_SHAPES } from './admin-shapes.js'

/** Long enough for a busy embedded engine, short enough that a hung `vigil up` is noticed. */
const DEFAULT_TIMEOUT_MS = 30_000

/**
 * Only a socket owned by the user running the CLI is trusted with its commands: anything
 * else at that path was not made by this user's `vigil up`, and would be handed the
 * request and be believed about the secret it answers with.
 */
function isOwnSocket(socketPath: string): boolean {
  const uid = process.getuid?.()
  try {
    const st = lstatSync(socketPath)
    return uid !== undefined && st.isSocket() && st.uid === uid
  } catch {
    return false
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** The registry error a body names, rebuilt with the same detail so its message is identical. */
function errorFromBody(status: number, body: unknown): VigilError | undefined {
  if (!isRecord(body) || !isRecord(body.error)) return undefined
  const { code, message } = body.error
  if (typeof code !== 'string' || typeof message !== 'string') return undefined
  const entry = Object.entries(ERRORS).find(([, def]) => def.code === code && def.status === status)
  if (!entry) return new VigilError('VIGIL_ERR_INTERNAL', `${code}: ${message}`.slice(0, 300))
  const [name, def] = entry as [ErrorName, (typeof ERRORS)[ErrorName]]
  const detail = message === def.message ? undefined : message.startsWith(`${def.message}: `) ? message.slice(def.message.length + 2) : message
  return new VigilError(name, detail)
}

function unreachable(socketPath: string, why: string, cause?: unknown): VigilError {
  return new VigilError('VIGIL_ERR_API_UNAVAILABLE', `the running Vigil's admin socket ${socketPath}: ${why}`, cause === undefined ? {} : { cause })
}

/**
 * Runs `operation` in the Vigil serving `socketPath`. Resolves undefined when none does
 * (no socket, not ours, or a stale file after a crash), so the caller opens the store
 * itself. Rejects with the operation's own VigilError when it failed there, and with
 * `unavailable` when the peer stopped answering midway (the change may then have been made).
 */
export function callAdminSocket<K extends AdminOperation>(
  socketPath: string,
  operation: K,
  input: AdminInput<K>,
  opts: { timeoutMs?: number } = {},
): Promise<AdminOutput<K> | undefined> {
  if (!isOwnSocket(socketPath)) return Promise.resolve(undefined)
  const payload = JSON.stringify(input)
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        method: 'POST',
        path: `/v1/admin/${operation}`,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        // One connection per command: nothing pooled keeps the CLI's loop alive after it.
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('error', (err) => reject(unreachable(socketPath, 'the answer was cut off', err)))
        res.on('end', () => {
          let body: unknown
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
          } catch (err) {
            reject(unreachable(socketPath, 'the answer is not JSON', err))
            return
          }
          const status = res.statusCode ?? 0
          const keys: readonly PropertyKey[] = ADMIN_SHAPES[operation].answers
          if (status === 200 && isRecord(body) && keys.every((k) => Object.hasOwn(body, k))) {
            // Built by our own server from the same table. Only the answer's own keys are
            // kept, in its order, so nothing else can ride along into what the CLI prints.
            resolve(Object.fromEntries(keys.map((k) => [k, body[k as string]])) as AdminOutput<K>)
            return
          }
          reject(errorFromBody(status, body) ?? unreachable(socketPath, `unexpected answer (HTTP ${status})`))
        })
      },
    )
    req.setTimeout(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, () => req.destroy(unreachable(socketPath, 'no answer in time')))
    req.on('error', (err: NodeJS.ErrnoException) => {
      // Nobody listening: a socket file left by a crashed `vigil up`, or one shutting down.
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') resolve(undefined)
      else reject(err instanceof VigilError ? err : unreachable(socketPath, err.code ?? err.message, err))
    })
    req.end(payload)
  })
}
