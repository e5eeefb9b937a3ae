/**
 * Delivery of a stored report by email (nodemailer over SMTP_URL, as notify_email sends):
 * the file attached, the period, the id and both SHA-256s in the text, so a recipient can
 * check the attachment against the audit chain's `report.compile` entry.
 *
 * Relied on by: the `compile_report` step and the scheduled reports. Once-only per
 * `onceKey` (effect-record.ts), with a Message-ID derived from it, so a retried job never
 * mails twice what was sent.
 */
import { UnrecoverableError } from 'bullmq'
import type { VigilConfig } from '@vigil/core'
import type { Redis } from 'ioredis'
import { claimEffect, recordEffect, releaseEffect } from '../actions/effect-record.js'
import { messageIdFor, smtpTransport } from '../actions/notify-email.js'
import type { StoredReport } from './report-store.js'
import { REPORT_CONTENT_TYPES } from './render.js'

export interface ReportEmail {
  config: VigilConfig
  redis: Redis
  report: StoredReport
  bytes: Buffer
  to: readonly string[]
  /** The same on every retry of one delivery. */
  onceKey: string
  /** @defaultValue 10000 */
  timeoutMs?: number
}

/** The setting that is missing for email delivery, or null. */
export function missingEmailSetting(config: VigilConfig, to: readonly string[]): string | null {
  if (!config.smtpUrl) return 'SMTP_URL'
  if (!config.emailFrom) return 'EMAIL_FROM'
  if (to.length === 0) return 'EMAIL_TO'
  return null
}

export function reportEmailText(r: StoredReport): { subject: string; text: string } {
  return {
    subject: `[Vigil report] ${r.type} ${r.period.from} - ${r.period.to}`,
    text: [
      `Vigil compiled the ${r.type} report ${r.id} for the period ${r.period.from} to ${r.period.to} (end excluded).`,
      '',
      `File: ${r.id}-${r.type}.${r.format} (${r.size} bytes)`,
      `SHA-256 of the file: ${r.sha256}`,
      `Content SHA-256: ${r.content_sha256}`,
      `Compiled by ${r.created_by} at ${r.created_at}; recorded in Vigil's audit chain as report.compile.`,
    ].join('\n'),
  }
}

/** Sends the report once; answers whether this call sent it. Errors never carry the SMTP URL. */
export async function emailReport(input: ReportEmail): Promise<{ sent: boolean }> {
  const missing = missingEmailSetting(input.config, input.to)
  if (missing) throw new UnrecoverableError(`emailing a report needs ${missing}`)
  const timeoutMs = input.timeoutMs ?? 10_000
  const claim = await claimEffect(input.redis, 'report_email', input.onceKey, 4 * timeoutMs)
  if (claim.kind === 'done') return { sent: false }
  if (claim.kind === 'busy') throw new Error('another attempt is sending this report')
  const from = input.config.emailFrom as string
  const messageId = messageIdFor(input.onceKey, from, 'vigil.report')
  const transport = smtpTransport(input.config.smtpUrl, timeoutMs)
  const { subject, text } = reportEmailText(input.report)
  try {
    await transport.sendMail({
      from,
      to: [...input.to],
      subject,
      text,
      messageId,
      attachments: [{ filename: `${input.report.id}-${input.report.type}.${input.report.format}`, content: input.bytes, contentType: REPORT_CONTENT_TYPES[input.report.format].split(';')[0] }],
    })
  } catch (err) {
    await releaseEffect(input.redis, 'report_email', input.onceKey, claim.token).catch(() => {})
    const e = err as { code?: string; responseCode?: number }
    const reply = typeof e.responseCode === 'number' ? e.responseCode : undefined
    const code = typeof e.code === 'string' ? e.code.slice(0, 20) : 'unknown'
    if (reply !== undefined && reply >= 500) throw new UnrecoverableError(`the SMTP server refused the report (${reply})`)
    throw new Error(reply !== undefined ? `the SMTP server deferred the report (${reply})` : `the SMTP server could not be reached (${code})`)
  } finally {
    transport.close()
  }
  await recordEffect(input.redis, 'report_email', input.onceKey, { report_id: input.report.id, recipients: input.to.length }).catch(() => undefined)
  return { sent: true }
}
