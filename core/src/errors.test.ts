/**
 * Keeps docs/errors.md and the registry in step (STYLE.md, from fastify's
 * test/internals/errors.test.js): every registry entry is documented with its status and
 * code, and the doc lists nothing the registry does not have.
 */
import { describe, it, expect } from 'vitest'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { ERRORS, VigilError, type ErrorName } from './errors.js'

const doc = readFileSync(fileURLToPath(new URL('../../docs/errors.md', import.meta.url)), 'utf8')
const documented = new Map<string, { status: number; code: string }>()
for (const m of doc.matchAll(/^\|\s*`(VIGIL_ERR_[A-Z_]+)`\s*\|\s*(\d{3})\s*\|\s*`([a-z_]+)`\s*\|/gm)) {
  documented.set(m[1] as string, { status: Number(m[2]), code: m[3] as string })
}

describe('error registry', () => {
  it('documents every error with its status and code in docs/errors.md', () => {
    for (const [name, def] of Object.entries(ERRORS)) {
      expect(documented.get(name), `${name} missing from docs/errors.md (or wrong status/code)`).toEqual({ status: def.status, code: def.code })
    }
  })

  it('documents nothing the registry does not have', () => {
    for (const name of documented.keys()) expect(Object.keys(ERRORS)).toContain(name)
  })

  it('names follow VIGIL_ERR_<AREA>_<WHAT> and codes are snake_case', () => {
    for (const [name, def] of Object.entries(ERRORS)) {
      // The one error that belongs to no area: the catch-all behind every unexpected failure.
      if (name !== 'VIGIL_ERR_INTERNAL') expect(name).toMatch(/^VIGIL_ERR_[A-Z]+_[A-Z_]+$/)
      expect(def.code).toMatch(/^[a-z][a-z_]*$/)
      expect(def.status).toBeGreaterThanOrEqual(400)
    }
  })

  it('builds the contract body and carries headers', () => {
    const e = new VigilError('VIGIL_ERR_INGEST_RATE_LIMITED', undefined, { headers: { 'Retry-After': '3' } })
    expect(e.statusCode).toBe(429)
    expect(e.toBody()).toEqual({ error: { code: 'rate_limited', message: ERRORS.VIGIL_ERR_INGEST_RATE_LIMITED.message } })
    expect(e.headers['Retry-After']).toBe('3')
    const d = new VigilError('VIGIL_ERR_API_NOT_FOUND' as ErrorName, 'alert a-1')
    expect(d.message).toBe('No such resource: alert a-1')
  })
})
