import { describe, expect, it } from 'vitest'
import { fileNameFromDisposition } from './download.js'

describe('file name from Content-Disposition', () => {
  it('reads the quoted name the server sends', () => {
    expect(fileNameFromDisposition('attachment; filename="rep_01-kill-switch-log.pdf"', 'x')).toBe('rep_01-kill-switch-log.pdf')
  })

  it('prefers filename* (RFC 5987) and decodes it', () => {
    expect(fileNameFromDisposition(`attachment; filename="fallback.csv"; filename*=UTF-8''r%C3%A9sum%C3%A9.csv`, 'x')).toBe('résumé.csv')
  })

  it('takes a bare token, unescapes quotes and drops any path', () => {
    expect(fileNameFromDisposition('attachment; filename=report.json', 'x')).toBe('report.json')
    expect(fileNameFromDisposition('attachment; filename="a \\"b\\".csv"', 'x')).toBe('a "b".csv')
    expect(fileNameFromDisposition('attachment; filename="../../etc/passwd"', 'x')).toBe('passwd')
  })

  it('falls back when there is no usable name', () => {
    expect(fileNameFromDisposition(null, 'rep.pdf')).toBe('rep.pdf')
    expect(fileNameFromDisposition('attachment', 'rep.pdf')).toBe('rep.pdf')
    expect(fileNameFromDisposition(`attachment; filename*=UTF-8''%E0%A4%A`, 'rep.pdf')).toBe('rep.pdf')
  })
})
