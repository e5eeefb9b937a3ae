/**
 * A compiled report as a paginated PDF (pdfkit, standard Helvetica/Courier, A4): a cover
 * block with the report id, type, period, generation time (UTC), parameters, regulation and
 * the content SHA-256 with what it covers; the sections; the fields not recorded; and every
 * query the numbers came from (landscape when a table has more than 7 columns). Each page carries the report id and "page i of n" in its
 * footer and the content hash.
 *
 * Deterministic: the PDF's creation date is the report's generation time and its file id is
 * derived from it (pdfkit hashes the info dictionary), so the same report gives the same
 * bytes. Standard fonts speak WinAnsi only: other characters are written as ASCII stand-ins.
 * A table cell is cut at 600 characters in the PDF (the JSON and CSV keep it whole).
 */
import type { Cell, CompiledReport, ReportSection, ReportTable } from './report.js'

const MARGIN = 50
const FOOTER_H = 28
const MAX_CELL_CHARS = 600
// WinAnsi characters above U+00FF that the standard fonts can show.
const WIN_ANSI_EXTRA = new Set('€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ')
const STAND_INS: Record<string, string> = { '≤': '<=', '≥': '>=', '−': '-', '→': '->', '←': '<-', '×': 'x', '≈': '~' }

/** Text the standard fonts can show. */
export function pdfText(s: string): string {
  let out = ''
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0
    if (ch === '\n' || (cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xff)) out += ch
    else if (WIN_ANSI_EXTRA.has(ch)) out += ch
    else out += STAND_INS[ch] ?? (cp < 0x20 || cp === 0x7f ? ' ' : '?')
  }
  return out
}

const cellText = (v: Cell): string => {
  const s = v === null ? '-' : String(v)
  return pdfText(s.length > MAX_CELL_CHARS ? `${s.slice(0, MAX_CELL_CHARS - 1)}…` : s)
}

export async function renderPdf(report: CompiledReport): Promise<Buffer> {
  // Loaded when a PDF is made (≈ 0.2 s): most processes that import reports never render one.
  const { default: PDFDocument } = await import('pdfkit')
  const generated = new Date(report.generated_at)
  // Wide tables get the page's width: landscape when any table has more than 7 columns.
  const wide = report.sections.some((s) => (s.table?.columns.length ?? 0) > 7)
  const doc = new PDFDocument({
    size: 'A4',
    layout: wide ? 'landscape' : 'portrait',
    margins: { top: MARGIN, bottom: MARGIN + FOOTER_H, left: MARGIN, right: MARGIN },
    bufferPages: true,
    info: {
      Title: pdfText(`${report.title} ${report.id}`),
      Author: 'Vigil',
      Subject: pdfText(`${report.type} ${report.period.from} - ${report.period.to}`),
      Creator: 'Vigil',
      Producer: 'Vigil (pdfkit)',
      CreationDate: generated,
      ModDate: generated,
    },
  })
  const chunks: Buffer[] = []
  doc.on('data', (c: Buffer) => chunks.push(c))
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)))
    doc.on('error', reject)
  })

  const width = doc.page.width - 2 * MARGIN
  const bottom = () => doc.page.height - doc.page.margins.bottom

  doc.font('Helvetica-Bold').fontSize(18).text(pdfText(report.title))
  doc.moveDown(0.3)
  doc.font('Helvetica').fontSize(10).text(pdfText(report.regulation.join('; ')))
  doc.moveDown(0.8)
  const cover: Array<[string, string]> = [
    ['Report id', report.id],
    ['Type', report.type],
    ['Period (UTC)', `from ${report.period.from} to ${report.period.to} (end excluded)`],
    ...(report.parameters.incident_id !== undefined ? [['Incident', report.parameters.incident_id] as [string, string]] : []),
    ['Generated (UTC)', report.generated_at],
    ['Content SHA-256', report.content_sha256],
  ]
  facts(cover)
  doc.moveDown(0.4)
  doc
    .font('Helvetica-Oblique')
    .fontSize(8)
    .text(
      'The content SHA-256 is the SHA-256 of the UTF-8 canonical JSON (keys sorted at every depth, no whitespace) of this report\'s JSON form without its content_sha256 field: ' +
        'id, type, title, regulation, period, parameters, generated_at, data, sections, queries and not_recorded. Recompute it from the JSON download of the same report id.',
      { width },
    )
  doc.moveDown(1)

  for (const s of report.sections) section(s)
  if (report.not_recorded.length > 0) {
    section({
      title: 'Not recorded',
      text: ['The regulation asks for these; Vigil does not record them (yet), so they are named here rather than filled in.'],
      table: { columns: ['field', 'why'], rows: report.not_recorded.map((n) => [n.field, n.why]) },
    })
  }
  heading('Queries the numbers came from')
  for (const q of report.queries) {
    ensure(40)
    doc.font('Helvetica-Bold').fontSize(8).text(pdfText(q.name), { width })
    doc.font('Courier').fontSize(7).text(pdfText(q.sql), { width })
    doc.moveDown(0.6)
  }

  // Footers, once the page count is known. The bottom margin is lifted while writing them so
  // pdfkit does not open a new page for text below it.
  const range = doc.bufferedPageRange()
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i)
    const saved = doc.page.margins.bottom
    doc.page.margins.bottom = 0
    const y = doc.page.height - MARGIN - FOOTER_H + 8
    doc.font('Helvetica').fontSize(7).fillColor('#444444')
    doc.text(pdfText(`Vigil report ${report.id} - ${report.type} - generated ${report.generated_at}`), MARGIN, y, { width, lineBreak: false })
    doc.text(`page ${i - range.start + 1} of ${range.count}`, MARGIN, y, { width, align: 'right', lineBreak: false })
    doc.text(`content SHA-256 ${report.content_sha256}`, MARGIN, y + 10, { width, lineBreak: false })
    doc.fillColor('#000000')
    doc.page.margins.bottom = saved
  }
  doc.end()
  return done

  function ensure(h: number): void {
    if (doc.y + h > bottom()) doc.addPage()
  }

  function heading(title: string): void {
    ensure(60)
    doc.x = MARGIN
    doc.font('Helvetica-Bold').fontSize(13).text(pdfText(title), MARGIN, doc.y, { width })
    doc.moveDown(0.3)
  }

  function facts(list: Array<[string, Cell]>): void {
    const labelW = 140
    for (const [k, v] of list) {
      doc.font('Helvetica').fontSize(9)
      const h = Math.max(doc.heightOfString(pdfText(k), { width: labelW - 8 }), doc.heightOfString(cellText(v), { width: width - labelW }))
      ensure(h + 2)
      const y = doc.y
      doc.font('Helvetica-Bold').text(pdfText(k), MARGIN, y, { width: labelW - 8 })
      doc.font('Helvetica').text(cellText(v), MARGIN + labelW, y, { width: width - labelW })
      doc.y = y + h + 2
    }
    doc.x = MARGIN
  }

  function section(s: ReportSection): void {
    if (s.new_page) doc.addPage()
    heading(s.title)
    doc.font('Helvetica').fontSize(9)
    for (const t of s.text ?? []) {
      ensure(20)
      doc.font('Helvetica').fontSize(9).text(pdfText(t), MARGIN, doc.y, { width })
      doc.moveDown(0.3)
    }
    if (s.facts && s.facts.length > 0) facts(s.facts)
    if (s.table) table(s.table)
    doc.moveDown(0.8)
  }

  function table(t: ReportTable): void {
    const n = t.columns.length
    if (n === 0) return
    doc.fontSize(7)
    // Widths by content, each at least 40 pt: the longest text of a column (capped) decides.
    // (a header may wrap, so it counts for at most 12 characters).
    const want = t.columns.map((c, i) => Math.min(60, Math.max(6, Math.min(c.length, 12), ...t.rows.slice(0, 500).map((r) => cellText(r[i] ?? null).length))))
    const total = want.reduce((a, b) => a + b, 0)
    const widths = want.map((w) => Math.max(40, (w / total) * width))
    const scale = width / widths.reduce((a, b) => a + b, 0)
    for (let i = 0; i < widths.length; i++) widths[i] = (widths[i] as number) * scale
    const row = (cells: string[], bold: boolean) => {
      doc.font(bold ? 'Helvetica-Bold' : 'Helvetica').fontSize(7)
      const h = Math.max(...cells.map((c, i) => doc.heightOfString(c, { width: (widths[i] as number) - 4 }))) + 3
      return h
    }
    const draw = (cells: string[], bold: boolean, h: number) => {
      const y = doc.y
      let x = MARGIN
      doc.font(bold ? 'Helvetica-Bold' : 'Helvetica').fontSize(7)
      cells.forEach((c, i) => {
        doc.text(c, x + 2, y + 1, { width: (widths[i] as number) - 4 })
        x += widths[i] as number
      })
      doc
        .moveTo(MARGIN, y + h)
        .lineTo(MARGIN + width, y + h)
        .lineWidth(0.3)
        .strokeColor('#bbbbbb')
        .stroke()
      doc.x = MARGIN
      doc.y = y + h
    }
    const header = t.columns.map(pdfText)
    const headerH = row(header, true)
    ensure(headerH * 2)
    draw(header, true, headerH)
    if (t.rows.length === 0) {
      doc.font('Helvetica-Oblique').fontSize(8).text('(no rows)', MARGIN, doc.y + 2, { width })
      return
    }
    for (const r of t.rows) {
      const cells = t.columns.map((_c, i) => cellText(r[i] ?? null))
      const h = row(cells, false)
      if (doc.y + h > bottom()) {
        doc.addPage()
        draw(header, true, headerH)
      }
      draw(cells, false, h)
    }
  }
}
