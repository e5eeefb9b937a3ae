/**
 * Serves the SOC dashboard (`@vigil/ui`, issue 7) from this server, same origin as the API.
 *
 * Relied on by: browsers. `/assets/*` are Vite's content-hashed files (cached for a year);
 * every page path of the single-page app answers `index.html`, with a fresh nonce written
 * into its `<meta name="csp-nonce">` and into this answer's Content-Security-Policy
 * `style-src`: EUI styles through Emotion, which inserts `<style>` elements at run time, and
 * the policy (security-headers.ts) admits no other inline style. Scripts stay `'self'` only.
 *
 * Only the app's own page paths are routes (no catch-all), so an unknown path under `/v1`
 * still answers the API's 404/405 and the route table stays what the access check lists.
 * When the dashboard is not built (`npm run build` builds it), `/` says so in one line;
 * a dashboard built while Vigil runs is served from the next page load.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply } from 'fastify'
import { VigilError } from '@vigil/core'

/** The dashboard's page paths (ui/src/routes.tsx); each also takes sub-paths. */
export const DASHBOARD_PAGES = ['/overview', '/alerts', '/incidents', '/keys', '/killswitches', '/rules', '/reports', '/account', '/login'] as const

const NONCE_PLACEHOLDER = '__CSP_NONCE__'

/** Where the built dashboard is: `@vigil/ui`'s dist/, or null when that package is absent. */
export function dashboardDistDir(): string | null {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('@vigil/ui/package.json')), 'dist')
  } catch {
    return null
  }
}

/** The CSP of one index.html answer: the global policy with this answer's style nonce. */
export function withStyleNonce(policy: string, nonce: string): string {
  return policy
    .split(';')
    .map((d) => {
      const directive = d.trim()
      return directive.startsWith('style-src ') || directive === 'style-src' ? `${directive} 'nonce-${nonce}'` : directive
    })
    .join(';')
}

export function dashboardRoutes(opts: { distDir?: string | null } = {}): FastifyPluginAsync {
  const distDir = opts.distDir === undefined ? dashboardDistDir() : opts.distDir
  return async function plugin(app: FastifyInstance) {
    const indexPath = distDir ? join(distDir, 'index.html') : null
    // Read again when the file changes: a rebuilt dashboard is served without a restart.
    let cached: { mtimeMs: number; html: string } | null = null
    const readIndex = (): string | null => {
      if (!indexPath) return null
      try {
        const { mtimeMs } = statSync(indexPath)
        if (cached?.mtimeMs !== mtimeMs) cached = { mtimeMs, html: readFileSync(indexPath, 'utf8') }
        return cached.html
      } catch {
        return null
      }
    }

    const page = async (reply: FastifyReply) => {
      const html = readIndex()
      if (html === null) throw new VigilError('VIGIL_ERR_DASHBOARD_NOT_BUILT')
      const nonce = randomBytes(16).toString('base64')
      const policy = reply.getHeader('content-security-policy')
      if (typeof policy === 'string') reply.header('content-security-policy', withStyleNonce(policy, nonce))
      // The page carries a nonce of its own: never from a cache.
      reply.header('cache-control', 'no-store')
      return reply.type('text/html; charset=utf-8').send(html.replaceAll(NONCE_PLACEHOLDER, nonce))
    }

    app.get('/', { config: { permission: 'public' } }, async (_request, reply) => page(reply))
    for (const path of DASHBOARD_PAGES) {
      app.get(path, { config: { permission: 'public' } }, async (_request, reply) => page(reply))
      app.get(`${path}/*`, { config: { permission: 'public' } }, async (_request, reply) => page(reply))
    }

    if (distDir && existsSync(join(distDir, 'assets'))) {
      await app.register(fastifyStatic, { root: join(distDir, 'assets'), serve: false, decorateReply: true, index: false, dotfiles: 'deny' })
      app.get('/assets/*', { config: { permission: 'public' } }, async (request, reply) => {
        const file = (request.params as { '*': string })['*']
        // Hashed names only; anything else is not ours.
        if (!/^[\w.-]+$/.test(file)) throw new VigilError('VIGIL_ERR_API_NOT_FOUND')
        return reply.sendFile(file, { maxAge: 365 * 86_400_000, immutable: true })
      })
    }
  }
}
