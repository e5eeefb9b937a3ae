/**
 * `vigil reports generate <type> --from <t> --to <t> --format pdf|json|csv --out <file>`
 * (CONTRACT §6), plus `--incident <id>` for dora-incident. The report is compiled and stored
 * like `POST /v1/reports` (report-commands.ts), then copied to `--out`; `--json` prints
 * `{"id", "path", "sha256", …}` with `path` the file written.
 */
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import path from 'node:path'
import type { Command } from 'commander'
import { VigilError } from '@vigil/core'
import { REPORT_FORMATS, REPORT_TYPES } from '@vigil/respond/report-kinds'
import type { AdminInput, AdminOperation, AdminOutput } from './admin-commands.js'

export interface ReportsCliDeps {
  run<K extends AdminOperation>(operation: K, input: AdminInput<K>): Promise<AdminOutput<K>>
  emit(json: boolean, outcome: { json: object; human: string }): unknown
  actor(): string
}

export function registerReportsCommands(program: Command, deps: ReportsCliDeps): void {
  program
    .command('reports')
    .description('regulatory reports compiled from what Vigil recorded')
    .command('generate <type>')
    .description(`compile a report and write it to --out; types: ${REPORT_TYPES.join(', ')}`)
    .requiredOption('--from <time>', 'RFC 3339 start of the period (inclusive)')
    .requiredOption('--to <time>', 'RFC 3339 end of the period (exclusive)')
    .requiredOption('--format <format>', REPORT_FORMATS.join('|'))
    .requiredOption('--out <file>', 'where to write the report')
    .option('--incident <id>', 'the incident (dora-incident only)')
    .option('--json', 'print one JSON object')
    .action(async (type: string, opts: { from: string; to: string; format: string; out: string; incident?: string; json?: boolean }) => {
      const out = path.resolve(opts.out)
      // Checked here first, so a mistake is answered without opening the store; the operation checks again.
      const { checkReportFormat, checkReportRequest } = await import('@vigil/respond')
      checkReportRequest({ type, from: opts.from, to: opts.to, ...(opts.incident !== undefined ? { incident_id: opts.incident } : {}) })
      checkReportFormat(opts.format)
      const made = await deps.run('reports/generate', { type, from: opts.from, to: opts.to, format: opts.format, incident_id: opts.incident ?? '', by: deps.actor() })
      try {
        mkdirSync(path.dirname(out), { recursive: true })
        copyFileSync(made.file, out)
      } catch (err) {
        throw new VigilError('VIGIL_ERR_CLI_USAGE', `could not write --out ${out}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err })
      }
      // The copy is what the operator hands on: check it is the file that was recorded.
      if (createHash('sha256').update(readFileSync(out)).digest('hex') !== made.sha256) throw new VigilError('VIGIL_ERR_REPORT_INTEGRITY')
      deps.emit(opts.json === true, {
        json: { id: made.id, path: out, sha256: made.sha256, content_sha256: made.content_sha256, type: made.type, format: made.format, size: made.size },
        human: `Report ${made.id} (${made.type}, ${made.format}, ${made.size} bytes) written to ${out}\nSHA-256 ${made.sha256}\n`,
      })
    })
}
