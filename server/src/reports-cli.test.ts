/**
 * `vigil reports generate` (CONTRACT §6) run as an operator runs it: the real `vigil` shim
 * over server/dist, on a fresh data dir (store opened by the CLI, audit chain in the test
 * Redis). The file written to --out is the stored one, opens as a PDF, and the command's
 * errors are the stable report codes with exit status 2.
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runVigil } from './cli-test-support.js'

let dataDir: string
let outDir: string

const vigil = (args: string[]) => runVigil(dataDir, args)

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex')
const period = ['--from', '2026-11-01T00:00:00Z', '--to', '2026-11-08T00:00:00Z']

beforeAll(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'vigil-reports-cli-'))
  outDir = mkdtempSync(path.join(tmpdir(), 'vigil-reports-out-'))
})
afterAll(() => {
  for (const dir of [dataDir, outDir]) if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('vigil reports generate', () => {
  it('writes a PDF to --out and prints one JSON object with its id, path and sha256', async () => {
    const out = path.join(outDir, 'latency.pdf')
    const r = await vigil(['reports', 'generate', 'alert-latency', ...period, '--format', 'pdf', '--out', out, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const lines = r.stdout.split('\n').filter(Boolean)
    expect(lines).toHaveLength(1)
    const body = JSON.parse(lines[0] as string) as { id: string; path: string; sha256: string; content_sha256: string }
    expect(body).toMatchObject({ id: expect.stringMatching(/^rpt_[0-9a-f]{24}$/), path: out, type: 'alert-latency', format: 'pdf' })
    expect(sha(out)).toBe(body.sha256)
    // The stored copy under the data dir is the same file.
    expect(readdirSync(path.join(dataDir, 'reports'))).toContain(`${body.id}.pdf`)
    expect(sha(path.join(dataDir, 'reports', `${body.id}.pdf`))).toBe(body.sha256)
    const info = execFileSync('pdfinfo', [out], { encoding: 'utf8' })
    expect(Number(/^Pages:\s+(\d+)/m.exec(info)?.[1])).toBeGreaterThanOrEqual(1)
    execFileSync('pdftoppm', ['-png', '-r', '30', '-f', '1', '-l', '1', out, path.join(outDir, 'latency')])
    expect(existsSync(path.join(outDir, 'latency-1.png'))).toBe(true)
    expect(execFileSync('pdftotext', [out, '-'], { encoding: 'utf8' })).toContain(body.content_sha256)
  }, 180_000)

  it('writes JSON and CSV, and records each compilation in the audit chain', async () => {
    const json = path.join(outDir, 'sub', 'clock.json')
    const a = await vigil(['reports', 'generate', 'clock-sync', ...period, '--format', 'json', '--out', json, '--json'])
    expect(a.code, a.stderr).toBe(0)
    const made = JSON.parse(a.stdout) as { id: string; content_sha256: string }
    expect(JSON.parse(readFileSync(json, 'utf8'))).toMatchObject({ id: made.id, type: 'clock-sync', content_sha256: made.content_sha256 })
    const csv = path.join(outDir, 'audit.csv')
    const b = await vigil(['reports', 'generate', 'audit-integrity', ...period, '--format', 'csv', '--out', csv])
    expect(b.code, b.stderr).toBe(0)
    expect(b.stdout).toMatch(/^Report rpt_[0-9a-f]{24} \(audit-integrity, csv, \d+ bytes\) written to /)
    expect(readFileSync(csv, 'utf8')).toMatch(/^report_id,rpt_/)
    const v = await vigil(['audit', 'verify', '--json'])
    expect(v.code, v.stderr).toBe(0)
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true })
    expect((JSON.parse(v.stdout) as { rows: number }).rows).toBeGreaterThanOrEqual(3)
  }, 300_000)

  it('refuses bad input with the stable codes and exit status 2, writing nothing', async () => {
    const out = path.join(outDir, 'never.pdf')
    const cases: Array<[string[], string]> = [
      [['reports', 'generate', 'weekly-fun', ...period, '--format', 'pdf', '--out', out, '--json'], 'unknown_report_type'],
      [['reports', 'generate', 'alert-latency', '--from', '2026-11-08T00:00:00Z', '--to', '2026-11-01T00:00:00Z', '--format', 'pdf', '--out', out, '--json'], 'empty_period'],
      [['reports', 'generate', 'alert-latency', '--from', 'monday', '--to', '2026-11-01T00:00:00Z', '--format', 'pdf', '--out', out, '--json'], 'bad_period'],
      [['reports', 'generate', 'alert-latency', ...period, '--format', 'docx', '--out', out, '--json'], 'bad_report_format'],
      [['reports', 'generate', 'dora-incident', ...period, '--format', 'pdf', '--out', out, '--json'], 'incident_required'],
    ]
    for (const [args, code] of cases) {
      const r = await vigil(args)
      expect(r.code, args.join(' ')).toBe(2)
      expect(JSON.parse(r.stderr)).toMatchObject({ error: { code } })
      expect(r.stdout).toBe('')
    }
    const missing = await vigil(['reports', 'generate', 'alert-latency', ...period, '--format', 'pdf', '--json'])
    expect(missing.code).toBe(2)
    expect(JSON.parse(missing.stderr)).toMatchObject({ error: { code: 'usage' } })
    expect(existsSync(out)).toBe(false)
  }, 180_000)
})
