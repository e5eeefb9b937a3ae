/**
 * How Vigil's HTTP listener is exposed: TLS 1.3 only, required beyond loopback, and optional
 * mutual TLS for machine clients (issue 6 §5, DESIGN "Security of Vigil itself").
 *
 * Relied on by: `runtime.ts` (refuses to start, or listens with these options) and `app.ts`
 * (the client-certificate check on machine routes). What operators rely on, documented in the
 * README ("Transport and hardening"):
 * - Listening on anything but loopback (127.0.0.0/8, ::1, localhost) needs VIGIL_TLS_CERT and
 *   VIGIL_TLS_KEY, else start-up stops with one line naming them.
 * - With a certificate, every connection is TLS 1.3 (`minVersion`), on loopback too.
 * - With VIGIL_TLS_CLIENT_CA, every TLS handshake asks for a client certificate and verifies
 *   it against that CA. Machine routes (`config.permission: 'source'`: ingest, the control
 *   channel) then refuse a request without a verified one (`client_cert_required`), before
 *   their own HMAC check. People's routes (operator API, dashboard, health, metrics) and
 *   Slack's callbacks accept a request without one: browsers and Slack hold no certificate of
 *   ours, and those routes have their own authentication.
 */
import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { isIPv4 } from 'node:net'
import { createSecureContext, type TLSSocket } from 'node:tls'
import type { FastifyInstance } from 'fastify'
import { VigilError, type VigilConfig } from '@vigil/core'
import { routePermission } from './access-control.js'

/** What `https.createServer` receives. Plain data, so tests can build their own. */
export interface TlsServerOptions {
  cert: Buffer
  key: Buffer
  minVersion: 'TLSv1.3'
  /** Set with VIGIL_TLS_CLIENT_CA: the CA client certificates must chain to. */
  ca?: Buffer
  /** True with a client CA: the handshake asks for a certificate (and still completes without one). */
  requestCert?: boolean
  /** Always false: a request without a certificate is refused per route, not per connection. */
  rejectUnauthorized?: boolean
}

/**
 * Source routes that stay open to callers without a client certificate: Slack signs its
 * callbacks with its own secret and cannot present a certificate issued by our CA.
 */
const CLIENT_CERT_EXEMPT = new Set(['/v1/slack/interactions'])

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g

/** Does `host` only ever accept connections from this machine? Names other than localhost may resolve anywhere. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1')
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h
  return isIPv4(v4) && v4.startsWith('127.')
}

function readSetting(file: string, name: string): Buffer {
  try {
    return readFileSync(file)
  } catch (err) {
    throw new VigilError('VIGIL_ERR_CONFIG_INVALID', `${name} could not be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`)
  }
}

/**
 * The listener's TLS options, or undefined for plain HTTP. Throws `config_invalid` naming the
 * setting when Vigil would listen beyond loopback without TLS, or when the files are not a
 * usable certificate, key and CA.
 */
export function tlsServerOptions(config: Pick<VigilConfig, 'host' | 'tls'>): TlsServerOptions | undefined {
  const { cert: certFile, key: keyFile, clientCa: caFile } = config.tls
  if (certFile === undefined || keyFile === undefined) {
    if (!isLoopbackHost(config.host)) {
      throw new VigilError(
        'VIGIL_ERR_CONFIG_INVALID',
        `VIGIL_TLS_CERT and VIGIL_TLS_KEY must be set to listen beyond loopback (VIGIL_HOST=${config.host.slice(0, 64)})`,
      )
    }
    return undefined
  }
  const options: TlsServerOptions = { cert: readSetting(certFile, 'VIGIL_TLS_CERT'), key: readSetting(keyFile, 'VIGIL_TLS_KEY'), minVersion: 'TLSv1.3' }
  try {
    createSecureContext({ cert: options.cert, key: options.key })
  } catch {
    // OpenSSL's reason (a PEM parse error, "key values mismatch") is not worth a second line.
    throw new VigilError('VIGIL_ERR_CONFIG_INVALID', 'VIGIL_TLS_CERT and VIGIL_TLS_KEY are not a PEM certificate and its private key')
  }
  if (caFile !== undefined) {
    const ca = readSetting(caFile, 'VIGIL_TLS_CLIENT_CA')
    // OpenSSL skips what it cannot parse in a CA list, which would silently refuse every client.
    const blocks = ca.toString('utf8').match(PEM_CERTIFICATE) ?? []
    try {
      if (blocks.length === 0) throw new Error('no certificate')
      for (const block of blocks) new X509Certificate(block)
    } catch {
      throw new VigilError('VIGIL_ERR_CONFIG_INVALID', 'VIGIL_TLS_CLIENT_CA is not a PEM certificate bundle')
    }
    Object.assign(options, { ca, requestCert: true, rejectUnauthorized: false })
  }
  return options
}

/** The scheme a listener with these options serves. */
export function schemeOf(tls: TlsServerOptions | undefined): 'http' | 'https' {
  return tls ? 'https' : 'http'
}

/**
 * Refuses machine-route requests whose connection presented no certificate that verifies
 * against the client CA. Installed before the access check, so nothing else runs first.
 */
export function installClientCertCheck(app: FastifyInstance, tls: TlsServerOptions | undefined): void {
  if (!tls?.requestCert) return
  app.addHook('onRequest', async (request) => {
    if (routePermission(request) !== 'source' || CLIENT_CERT_EXEMPT.has(request.routeOptions.url ?? '')) return
    const socket = request.raw.socket as Partial<TLSSocket>
    if (socket.authorized !== true) throw new VigilError('VIGIL_ERR_TLS_CLIENT_CERT_REQUIRED')
  })
}
