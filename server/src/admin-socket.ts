/**
 * The admin socket of a running `vigil up`: `<dataDir>/vigil.sock`, a Unix domain socket
 * carrying the admin operations of admin-commands.ts over HTTP, for a CLI that cannot open
 * the store because this process holds the embedded engine's lock on the data dir.
 *
 * Relied on by: runtime.ts, which starts it on the embedded engine and closes it before the
 * store; the CLI (admin-socket-client.ts), which posts `/v1/admin/<operation>` with the
 * operation's input as JSON and gets its answer, or the registry's error body.
 *
 * Filesystem permission is the authentication, as with Docker's socket: the socket is
 * served only inside a data dir that this process's user owns and that group and others
 * cannot enter, and is itself 0600. There are no tokens and no TCP listener; whoever can
 * connect could already read the master key next to it.
 */
import { chmodSync, lstatSync, rmSync, statSync, unlinkSync } from 'node:fs'
import { connect } from 'node:net'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { VigilError, type VigilConfig } from '@vigil/core'
import { ADMIN_OPERATIONS, type AdminContext, type AdminInput, type AdminOperation } from './admin-commands.js'
import { ADMIN_SHAPES, adminSocketPath, operatorFacingError } from './admin-shapes.js'
import { frameworkErrorReply, sendVigilError, toVigilError } from './error-reply.js'

export interface AdminSocket {
  readonly path: string
  /** Stops accepting requests, lets those in flight finish, removes the socket file. */
  close(): Promise<void>
}

export interface AdminSocketDeps extends AdminContext {
  config: Pick<VigilConfig, 'dataDir'>
  logger: Logger
}

/** Longest a sun_path may be (the kernel's 108 and 104 bytes, less the NUL). */
const MAX_SOCKET_PATH = process.platform === 'linux' ? 107 : 103
/** Admin inputs are a few short strings, and a rule test run's summary (about 150 bytes a rule). */
const BODY_LIMIT = 256 * 1024

/** Why the data dir may not carry the socket, or undefined when it may. */
function unsafeDataDir(dataDir: string): string | undefined {
  const uid = process.getuid?.()
  if (uid === undefined) return 'this platform has no file owners to rely on'
  const st = statSync(dataDir)
  if (st.uid !== uid) return `the data dir is owned by uid ${st.uid}, not by this process's uid ${uid}`
  if ((st.mode & 0o077) !== 0) {
    return `the data dir is open to group or others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); chmod 700 it`
  }
  return undefined
}

/** True when a process accepts connections on `socketPath`. */
function isServed(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(socketPath)
    probe.once('connect', () => {
      probe.destroy()
      resolve(true)
    })
    probe.once('error', () => resolve(false))
  })
}

/**
 * Makes room for our socket. A socket file nobody serves is what a crashed `vigil up`
 * leaves behind; anything else at that path is not ours to delete. Returns why not, if not.
 */
async function clearStaleSocket(socketPath: string): Promise<string | undefined> {
  let st
  try {
    st = lstatSync(socketPath)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  if (!st.isSocket()) return `${socketPath} exists and is not a socket`
  if (await isServed(socketPath)) return `another process already serves ${socketPath}`
  unlinkSync(socketPath)
  return undefined
}

function buildAdminApp(deps: AdminSocketDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: false,
    frameworkErrors: frameworkErrorReply,
    bodyLimit: BODY_LIMIT,
  })

  let closing = false
  app.addHook('preClose', async () => {
    closing = true
  })
  app.addHook('onRequest', async () => {
    if (closing) throw new VigilError('VIGIL_ERR_API_UNAVAILABLE', 'shutting down', { headers: { connection: 'close' } })
  })

  app.setErrorHandler((err: unknown, request, reply) => {
    // Framework errors (a bad body) keep their mapping; anything else is answered the way
    // the CLI shows it when it runs the operation itself, so both paths print one line.
    const mapped = toVigilError(err, request)
    const vigil = mapped.errName === 'VIGIL_ERR_INTERNAL' && mapped !== err ? operatorFacingError(err) : mapped
    if (vigil.statusCode >= 500) request.log.error({ err: vigil.cause ?? vigil, code: vigil.code }, 'admin request failed')
    return sendVigilError(reply, vigil)
  })
  app.setNotFoundHandler((_request, reply) => sendVigilError(reply, new VigilError('VIGIL_ERR_API_NOT_FOUND')))

  // Every change is logged with who made it; the answers carry secrets and are never logged.
  app.addHook('onResponse', async (request, reply) => {
    const by = (request.body as { by?: unknown } | undefined)?.by
    request.log.info(
      { route: request.routeOptions.url ?? null, status: reply.statusCode, ms: Math.round(reply.elapsedTime), ...(typeof by === 'string' ? { by } : {}) },
      'admin request',
    )
  })

  const ctx: AdminContext = {
    store: deps.store,
    sources: deps.sources,
    ...(deps.redis ? { redis: deps.redis } : {}),
    ...(deps.response ? { response: deps.response } : {}),
    ...(deps.people ? { people: deps.people } : {}),
  }
  const route = <K extends AdminOperation>(operation: K) => {
    const fields = ADMIN_SHAPES[operation].input as readonly string[]
    app.post(
      `/v1/admin/${operation}`,
      {
        schema: {
          body: {
            type: 'object',
            required: fields,
            additionalProperties: false,
            // Only the types: values are checked by the operations, so a bad one gets the
            // same error here as when the CLI runs the operation itself.
            properties: Object.fromEntries(fields.map((f) => [f, { type: 'string' }])),
          },
        },
      },
      // The schema above has checked the shape AdminInput<K> promises.
      async (request) => ADMIN_OPERATIONS[operation](ctx, request.body as AdminInput<K>),
    )
  }
  for (const operation of Object.keys(ADMIN_SHAPES) as AdminOperation[]) route(operation)
  return app
}

/**
 * Serves the admin operations on `<dataDir>/vigil.sock`. Resolves undefined, after logging
 * why, when the socket must not or cannot be served: Vigil then runs on, and the CLI
 * reports the store as locked, as it did before there was a socket.
 */
export async function startAdminSocket(deps: AdminSocketDeps): Promise<AdminSocket | undefined> {
  const socketPath = adminSocketPath(deps.config)
  const log = deps.logger.child({ socket: socketPath })
  const skip = (why: string, err?: unknown) => {
    log.warn({ ...(err === undefined ? {} : { err }) }, `admin socket not served, so vigil sources/tokens need vigil up stopped: ${why}`)
    return undefined
  }

  try {
    const unsafe = unsafeDataDir(deps.config.dataDir)
    if (unsafe) return skip(unsafe)
    if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) return skip(`its path is longer than ${MAX_SOCKET_PATH} bytes`)
    const blocked = await clearStaleSocket(socketPath)
    if (blocked) return skip(blocked)
  } catch (err) {
    return skip('the data dir could not be checked', err)
  }

  const app = buildAdminApp({ ...deps, logger: log })
  try {
    await app.listen({ path: socketPath, listenTextResolver: () => 'admin socket listening' })
    // bind() made the file under the umask; the 0700 data dir already keeps others out,
    // so this only has to hold if someone loosens the dir later.
    chmodSync(socketPath, 0o600)
  } catch (err) {
    await app.close().catch(() => {})
    rmSync(socketPath, { force: true })
    return skip('listening failed', err)
  }

  let closing: Promise<void> | undefined
  return {
    path: socketPath,
    close() {
      closing ??= (async () => {
        await app.close()
        // We still hold the store's lock, so no other Vigil can have bound this path since.
        rmSync(socketPath, { force: true })
      })()
      return closing
    },
  }
}
