/**
 * `/v1/reports` (CONTRACT §4) through the real app: compile, list, download with the right
 * headers; the regulator role reaches reports and nothing else; bad input answers 400 with
 * the stable report codes; compiling is an entry in the audit chain; a file changed on disk
 * is refused at download.
 */
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { appendFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openTestStore, startTestApp, type TestApp, type TestStore } from './test-support.js'

let t: TestStore
let h: TestApp
const out = mkdtempSync(path.join(tmpdir(), 'vigil-report-routes-'))

beforeAll(async () => {
  t = await openTestStore()
  h = await startTestApp(t)
})
afterAll(async () => {
  await h?.close()
  await t?.cleanup()
  rmSync(out, { recursive: true, force: true })
})

const as = (role: keyof TestApp['tokens']) => ({ authorization: `Bearer ${h.tokens[role]}` })
const period = { from: '2026-11-01T00:00:00Z', to: '2026-11-08T00:00:00Z' }
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

async function compile(body: Record<string, unknown>, role: keyof TestApp['tokens'] = 'regulator') {
  return h.app.inject({ method: 'POST', url: '/v1/reports', headers: as(role), payload: body })
}

describe('POST /v1/reports and download', () => {
  it('compiles each format and serves the file with its type, name and SHA-256', async () => {
    for (const format of ['json', 'csv', 'pdf'] as const) {
      const res = await compile({ type: 'alert-latency', ...period, format })
      expect(res.statusCode, res.body).toBe(201)
      const r = res.json()
      expect(r).toMatchObject({ id: expect.stringMatching(/^rpt_[0-9a-f]{24}$/), type: 'alert-latency', format, period: { from: '2026-11-01T00:00:00.000Z', to: '2026-11-08T00:00:00.000Z' }, created_by: expect.stringMatching(/^operator:/) })
      expect(r.download).toBe(`/v1/reports/${r.id}/download`)
      const dl = await h.app.inject({ url: r.download, headers: as('regulator') })
      expect(dl.statusCode).toBe(200)
      expect(dl.headers['content-type']).toBe({ json: 'application/json; charset=utf-8', csv: 'text/csv; charset=utf-8', pdf: 'application/pdf' }[format])
      expect(dl.headers['content-disposition']).toBe(`attachment; filename="${r.id}-alert-latency.${format}"`)
      expect(dl.headers['vigil-report-sha256']).toBe(r.sha256)
      expect(sha(dl.rawPayload)).toBe(r.sha256)
      expect(dl.rawPayload.length).toBe(r.size)
      expect(dl.headers['vigil-report-content-sha256']).toBe(r.content_sha256)
      if (format === 'json') expect(dl.json()).toMatchObject({ id: r.id, content_sha256: r.content_sha256 })
      if (format === 'pdf') {
        const file = path.join(out, `${r.id}.pdf`)
        writeFileSync(file, dl.rawPayload)
        expect(Number(/^Pages:\s+(\d+)/m.exec(execFileSync('pdfinfo', [file], { encoding: 'utf8' }))?.[1])).toBeGreaterThanOrEqual(1)
        execFileSync('pdftoppm', ['-png', '-r', '30', '-f', '1', '-l', '1', file, path.join(out, r.id)])
      }
    }
  })

  it('puts each compilation in the audit chain', async () => {
    const res = await compile({ type: 'clock-sync', ...period, format: 'json' })
    const r = res.json()
    await h.respond.audit.idle()
    const entries = await h.respond.audit.list({ action: 'report.compile', subject: r.id, limit: 5 })
    expect(entries).toHaveLength(1)
    expect(entries[0]).toMatchObject({ actor: r.created_by, detail: { type: 'clock-sync', format: 'json', sha256: r.sha256.replace(/(.{8})(?=.)/g, '$1 '), content_sha256: r.content_sha256.replace(/(.{8})(?=.)/g, '$1 ') } })
    expect((await h.respond.audit.verify()).ok).toBe(true)
  })

  it('refuses a file changed on disk after it was written', async () => {
    const r = (await compile({ type: 'kill-switch-log', ...period, format: 'csv' })).json()
    appendFileSync(h.respond.reports.fileOf(r), 'edited,1\r\n')
    const dl = await h.app.inject({ url: r.download, headers: as('regulator') })
    expect(dl.statusCode).toBe(409)
    expect(dl.json().error.code).toBe('report_integrity')
  })

  it('answers bad input with stable codes, never a 500', async () => {
    const cases: Array<[unknown, number, string]> = [
      [{ type: 'nope', ...period, format: 'pdf' }, 400, 'unknown_report_type'],
      [{ ...period, format: 'pdf' }, 400, 'unknown_report_type'],
      [{ type: 'alert-latency', ...period, format: 'docx' }, 400, 'bad_report_format'],
      [{ type: 'alert-latency', ...period }, 400, 'bad_report_format'],
      [{ type: 'alert-latency', from: 'last week', to: period.to, format: 'pdf' }, 400, 'bad_period'],
      [{ type: 'alert-latency', from: period.from, format: 'pdf' }, 400, 'bad_period'],
      [{ type: 'alert-latency', from: period.to, to: period.from, format: 'pdf' }, 400, 'empty_period'],
      [{ type: 'alert-latency', from: period.from, to: period.from, format: 'pdf' }, 400, 'empty_period'],
      [{ type: 'alert-latency', from: '2020-01-01T00:00:00Z', to: period.to, format: 'pdf' }, 400, 'period_too_long'],
      [{ type: 'dora-incident', ...period, format: 'pdf' }, 400, 'incident_required'],
      [{ type: 'dora-incident', ...period, format: 'pdf', incident_id: 'inc_missing' }, 404, 'incident_not_found'],
      [{ type: 'alert-latency', ...period, format: 'pdf', extra: 1 }, 400, 'bad_request'],
      [[1, 2], 400, 'bad_request'],
    ]
    for (const [body, status, code] of cases) {
      const res = await compile(body as Record<string, unknown>)
      expect(res.statusCode, JSON.stringify(body)).toBe(status)
      expect(res.json().error.code, JSON.stringify(body)).toBe(code)
    }
    const empty = await h.app.inject({ method: 'POST', url: '/v1/reports', headers: as('regulator') })
    expect(empty.statusCode).toBe(400)
    for (const url of ['/v1/reports/rpt_000000000000000000000000/download', '/v1/reports/../../etc/passwd/download', '/v1/reports/nope']) {
      const res = await h.app.inject({ url, headers: as('regulator') })
      expect(res.statusCode, url).toBe(404)
    }
    for (const url of ['/v1/reports?type=nope', '/v1/reports?limit=0', '/v1/reports?from=yesterday', '/v1/reports?cursor=forged', '/v1/reports?bogus=1']) {
      const res = await h.app.inject({ url, headers: as('regulator') })
      expect(res.statusCode, url).toBe(400)
    }
  })
})

describe('GET /v1/reports', () => {
  it('lists newest first, filters by type, and pages with a cursor', async () => {
    for (let i = 0; i < 3; i++) expect((await compile({ type: 'pretrade-breaches', ...period, format: 'json' })).statusCode).toBe(201)
    const first = await h.app.inject({ url: '/v1/reports?type=pretrade-breaches&limit=2', headers: as('regulator') })
    expect(first.statusCode).toBe(200)
    const a = first.json()
    expect(a.items).toHaveLength(2)
    expect(a.next).toEqual(expect.any(String))
    const secondRes = await h.app.inject({ url: `/v1/reports?type=pretrade-breaches&limit=2&cursor=${encodeURIComponent(a.next)}`, headers: as('regulator') })
    expect(secondRes.statusCode, secondRes.body).toBe(200)
    const second = secondRes.json()
    expect(second.items).toHaveLength(1)
    expect(second.next).toBeNull()
    const ids = [...a.items, ...second.items].map((r: { id: string }) => r.id)
    expect(new Set(ids).size).toBe(3)
    // As instants: RFC 3339 text with trimmed fractions ("…:34Z" at a whole second) does not sort as text.
    const times = [...a.items, ...second.items].map((r: { created_at: string }) => Date.parse(r.created_at))
    expect(times.every((t) => Number.isFinite(t))).toBe(true)
    expect([...times].sort((x, y) => y - x)).toEqual(times)
    const all = (await h.app.inject({ url: '/v1/reports?limit=1000', headers: as('viewer') })).json()
    expect(all.items.length).toBeGreaterThanOrEqual(7)
    const future = (await h.app.inject({ url: '/v1/reports?from=2999-01-01T00:00:00Z', headers: as('viewer') })).json()
    expect(future).toEqual({ items: [], next: null })
  })
})

describe('roles', () => {
  it('lets a regulator reach reports and nothing else', async () => {
    for (const url of ['/v1/events', '/v1/alerts', '/v1/incidents', '/v1/killswitches', '/v1/audit', '/metrics', '/v1/keys/ak_1']) {
      const res = await h.app.inject({ url, headers: as('regulator') })
      expect(res.statusCode, url).toBe(403)
    }
    const trip = await h.app.inject({ method: 'POST', url: '/v1/killswitches', headers: as('regulator'), payload: { scope: { type: 'global' }, reason: 'x' } })
    expect(trip.statusCode).toBe(403)
    expect((await h.app.inject({ url: '/v1/reports', headers: as('regulator') })).statusCode).toBe(200)
  })

  it('lets a viewer list and download but not compile; no token, no report', async () => {
    expect((await compile({ type: 'alert-latency', ...period, format: 'json' }, 'viewer')).statusCode).toBe(403)
    expect((await h.app.inject({ url: '/v1/reports', headers: as('viewer') })).statusCode).toBe(200)
    expect((await h.app.inject({ url: '/v1/reports' })).statusCode).toBe(401)
    expect((await h.app.inject({ method: 'POST', url: '/v1/reports', payload: { type: 'alert-latency', ...period, format: 'json' } })).statusCode).toBe(401)
    expect((await compile({ type: 'alert-latency', ...period, format: 'json' }, 'admin')).statusCode).toBe(201)
  })
})
