/**
 * Times in report queries and answers. Periods are passed to ClickHouse as text parameters
 * (`YYYY-MM-DD hh:mm:ss.ffffff`, UTC) and compared as DateTime64; times read back keep every
 * digit ClickHouse gave (µs for state tables, ns for events) as RFC 3339 UTC.
 */
import { msToCh } from '../clickhouse-time.js'
import type { ReportPeriod } from './report.js'

/** The period as query parameters `from` and `to`. */
export function periodParams(p: ReportPeriod): { from: string; to: string } {
  return { from: msToCh(Date.parse(p.from)), to: msToCh(Date.parse(p.to)) }
}

/** `2026-11-24 09:30:00.123456` → `2026-11-24T09:30:00.123456Z`, every fractional digit kept. */
export function chToIsoExact(t: string): string {
  return `${t.replace(' ', 'T')}Z`
}

/** Microseconds between two ClickHouse texts of one precision or another (b − a). */
export function diffUs(a: string, b: string): number {
  return chToUs(b) - chToUs(a)
}

/** ClickHouse time text → µs since the epoch (digits past µs dropped). */
export function chToUs(t: string): number {
  const [base, frac = ''] = t.split('.')
  return Date.parse(`${(base ?? '').replace(' ', 'T')}Z`) * 1000 + Number(frac.padEnd(6, '0').slice(0, 6))
}

/** 1234567 µs → `1234.567` ms as a number rounded to the µs. */
export function usToMs(us: number): number {
  return Math.round(us) / 1000
}

/** One SQL text as shown in reports: comment-free, indentation collapsed. */
export function sqlText(sql: string): string {
  return sql
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join('\n')
}
