import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger } from '@vigil/core'
import { buildApp } from './app.js'
import { DASHBOARD_PAGES, dashboardDistDir, dashboardRoutes, withStyleNonce } from './dashboard.js'
import { createMetricsRegistry } from './metrics-route.js'
import { openTestStore, type TestStore } from './test-support.js'

const INDEX = '<!doctype html><meta name="csp-nonce" content="__CSP_NONCE__"><script type="module" src="/assets/index-abc123.js"></script>'

describe('dashboard serving', () => {
  let t: TestStore
  let dist: string
  let app: FastifyInstance
  let unbuilt: FastifyInstance

  const build = (distDir: string | null) =>
    buildApp({
      logger: createLogger({ level: 'silent' }),
      store: t.store,
      redis: { ping: async () => 'PONG' },
      ingest: { routes: async () => {}, status: () => ({ storage: 'ok', spoolBytes: 0 }) },
      metrics: createMetricsRegistry(),
      plugins: [dashboardRoutes({ distDir })],
    } as Parameters<typeof buildApp>[0])

  beforeAll(async () => {
    t = await openTestStore()
    dist = mkdtempSync(path.join(tmpdir(), 'vigil-ui-dist-'))
    mkdirSync(path.join(dist, 'assets'))
    writeFileSync(path.join(dist, 'index.html'), INDEX)
    writeFileSync(path.join(dist, 'assets', 'index-abc123.js'), 'console.log("ui")')
    writeFileSync(path.join(dist, 'secret.txt'), 'not an asset')
    app = await build(dist)
    unbuilt = await build(path.join(dist, 'missing'))
  })

  afterAll(async () => {
    await app?.close()
    await unbuilt?.close()
    await t?.cleanup()
    rmSync(dist, { recursive: true, force: true })
  })

  it('answers index.html for the root and every page path, with a fresh style nonce in the page and its CSP', async () => {
    const nonces = new Set<string>()
    for (const url of ['/', ...DASHBOARD_PAGES, '/alerts/al_123', '/incidents/inc_1', '/keys/k%2F1']) {
      const res = await app.inject({ method: 'GET', url })
      expect(res.statusCode, url).toBe(200)
      expect(res.headers['content-type']).toMatch(/^text\/html/)
      expect(res.headers['cache-control']).toBe('no-store')
      const nonce = /content="([^"]+)"/.exec(res.body)?.[1]
      expect(nonce).toMatch(/^[A-Za-z0-9+/]{22}==$/)
      const csp = String(res.headers['content-security-policy'])
      expect(csp).toContain(`style-src 'self' 'nonce-${nonce}'`)
      // Scripts stay same-origin only: no nonce, no inline.
      expect(csp).toMatch(/script-src 'self';/)
      expect(csp).not.toContain('unsafe-inline')
      nonces.add(nonce!)
    }
    expect(nonces.size).toBe(DASHBOARD_PAGES.length + 4)
  })

  it('serves hashed assets for a year and nothing outside assets/', async () => {
    const res = await app.inject({ method: 'GET', url: '/assets/index-abc123.js' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/javascript/)
    expect(res.headers['cache-control']).toContain('immutable')
    expect(res.body).toBe('console.log("ui")')
    for (const url of ['/assets/..%2fsecret.txt', '/assets/../secret.txt', '/assets/%2e%2e/secret.txt', '/secret.txt', '/assets/nope.js', '/index.html']) {
      const bad = await app.inject({ method: 'GET', url })
      expect(bad.statusCode, url).toBe(404)
      expect(bad.body).not.toContain('not an asset')
      expect(bad.json()).toMatchObject({ error: { code: 'not_found' } })
    }
  })

  it('leaves the API its own 404 and 405 answers', async () => {
    expect((await app.inject({ method: 'GET', url: '/v1/nothing-here' })).json()).toMatchObject({ error: { code: 'not_found' } })
    const wrongMethod = await app.inject({ method: 'POST', url: '/alerts' })
    expect(wrongMethod.statusCode).toBe(405)
    expect(wrongMethod.headers.allow).toContain('GET')
  })

  it('says in one line that the dashboard is not built, rather than a blank page', async () => {
    const res = await unbuilt.inject({ method: 'GET', url: '/' })
    expect(res.statusCode).toBe(503)
    expect(res.json()).toMatchObject({ error: { code: 'dashboard_not_built' } })
    expect((await unbuilt.inject({ method: 'GET', url: '/assets/index-abc123.js' })).statusCode).toBe(404)
  })

  it('serves a dashboard rebuilt while it runs from the next page load', async () => {
    const before = await app.inject({ method: 'GET', url: '/' })
    expect(before.body).toContain('index-abc123.js')
    writeFileSync(path.join(dist, 'index.html'), INDEX.replace('index-abc123.js', 'index-def456.js') + '<!-- rebuilt -->')
    const after = await app.inject({ method: 'GET', url: '/' })
    expect(after.body).toContain('index-def456.js')
    writeFileSync(path.join(dist, 'index.html'), INDEX)
  })

  it('adds the nonce to style-src only', () => {
    expect(withStyleNonce("default-src 'self';style-src 'self';img-src 'self' data:", 'N')).toBe("default-src 'self';style-src 'self' 'nonce-N';img-src 'self' data:")
    expect(withStyleNonce("style-src-attr 'none';style-src 'self'", 'N')).toBe("style-src-attr 'none';style-src 'self' 'nonce-N'")
  })

  it('finds the built dashboard of this checkout', () => {
    expect(dashboardDistDir()).toBe(path.resolve(import.meta.dirname, '../../ui/dist'))
  })
})
