/**
 * A `fetch` for the shipper and the control client that talks to Vigil over TLS with a client
 * certificate (mTLS, Vigil's `VIGIL_TLS_CLIENT_CA`) and/or a private CA. Node's global fetch
 * takes no certificate, so this one goes through `node:https` with one keep-alive agent, and
 * answers a standard `Response` whose body streams (the control channel's SSE reads it as it
 * comes). Only what the guard uses is supported: a string or URL, `method`, `headers` as a
 * plain object or `Headers`, a string or bytes `body`, and `signal`.
 *
 * Relied on by: plugin.ts (`tls` option), and anyone building a shipper or control client by
 * hand (`fetch` option). Secrets (the key) live only inside the agent; nothing is logged here.
 */
import http from 'node:http'
import https from 'node:https'
import { Readable } from 'node:stream'

export interface GuardTlsOptions {
  /** The guard's client certificate (PEM), sent when Vigil asks for one. */
  cert?: string | Buffer
  /** Its private key (PEM). */
  key?: string | Buffer
  /** CA certificate(s) (PEM) that Vigil's server certificate must chain to; default: Node's roots. */
  ca?: string | Buffer | Array<string | Buffer>
  /** Name checked against Vigil's certificate when it differs from the URL's host. */
  servername?: string
}

function headerObject(h: RequestInit['headers']): Record<string, string> {
  const out: Record<string, string> = {}
  // Headers takes every form fetch does (object, pairs, Headers) and lower-cases the names.
  new Headers(h).forEach((v, k) => {
    out[k] = v
  })
  return out
}

function bodyBytes(body: RequestInit['body']): Buffer | string | undefined {
  if (body === undefined || body === null) return undefined
  if (typeof body === 'string' || Buffer.isBuffer(body)) return body
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  if (body instanceof ArrayBuffer) return Buffer.from(body)
  throw new TypeError('tlsFetch: only string or byte bodies are supported')
}

/** A fetch that presents `tls.cert`/`tls.key` and trusts `tls.ca`; plain `http:` URLs go without TLS. */
export function tlsFetch(tls: GuardTlsOptions): typeof fetch {
  if ((tls.cert === undefined) !== (tls.key === undefined)) throw new TypeError('tlsFetch: cert and key go together')
  const agent = new https.Agent({
    keepAlive: true,
    ...(tls.cert !== undefined ? { cert: tls.cert, key: tls.key } : {}),
    ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
    ...(tls.servername !== undefined ? { servername: tls.servername } : {}),
  })
  const plain = new http.Agent({ keepAlive: true })
  const doFetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url)
    const secure = url.protocol === 'https:'
    if (!secure && url.protocol !== 'http:') return Promise.reject(new TypeError(`tlsFetch: unsupported protocol ${url.protocol}`))
    const body = bodyBytes(init?.body)
    return new Promise<Response>((resolve, reject) => {
      const signal = init?.signal ?? undefined
      if (signal?.aborted) {
        reject(signal.reason ?? new Error('aborted'))
        return
      }
      const req = (secure ? https : http).request(
        url,
        { method: init?.method ?? 'GET', headers: headerObject(init?.headers), agent: secure ? agent : plain, ...(signal ? { signal } : {}) },
        (res) => {
          const headers = new Headers()
          for (const [k, v] of Object.entries(res.headers)) {
            if (Array.isArray(v)) for (const x of v) headers.append(k, x)
            else if (v !== undefined) headers.set(k, v)
          }
          const status = res.statusCode ?? 0
          const empty = status === 204 || status === 304 || init?.method === 'HEAD'
          if (empty) res.resume()
          resolve(new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status, statusText: res.statusMessage ?? '', headers }))
        },
      )
      req.on('error', reject)
      req.end(body)
    })
  }
  return doFetch as typeof fetch
}
