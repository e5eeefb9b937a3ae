/**
 * `notify_email`: mails the alert (HTML and text parts) through the SMTP server of SMTP_URL
 * with nodemailer, and `sendDigest`, the daily digest of medium/low incidents the engine
 * schedules (playbook default: medium/low open an incident only, and land in the digest).
 *
 * Relied on by: playbooks (the params below) and the engine's digest job.
 *
 * Alert fields are attacker-influenced (request paths, user agents): every value is masked
 * and HTML-escaped in the HTML part, and stripped of line breaks in the subject, so a value
 * can neither inject markup nor a header. Idempotency: effect-record.ts, plus a Message-ID
 * derived from the idempotency key, so a duplicate that slips through (a crash between the
 * send and the record) is recognisable as the same message by mail systems.
 */
import { createHash } from 'node:crypto'
import { Type, type Static } from '@sinclair/typebox'
import { UnrecoverableError } from 'bullmq'
import { createRequire } from 'node:module'
import type nodemailerModule from 'nodemailer'
import { lazy, maskText, type Alert, type VigilConfig } from '@vigil/core'
import type { Logger } from 'pino'
import type { Redis } from 'ioredis'
import type { Action, ActionContext, ActionResult } from '../action.js'
import type { Incident, IncidentSummary } from '../seams.js'
import { claimEffect, recordEffect, releaseEffect } from './effect-record.js'
import { renderTemplate } from './template.js'

const EMAIL = '^[^\\s@<>,;"]{1,64}@[^\\s@<>,;"]{1,255}$'

export const NotifyEmailParams = Type.Object(
  {
    to: Type.Optional(Type.Array(Type.String({ pattern: EMAIL, maxLength: 320 }), { minItems: 1, maxItems: 20, description: 'Recipients; default EMAIL_TO' })),
    subject: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description: 'Subject template, e.g. "[Vigil {{alert.severity}}] {{alert.rule}} on {{alert.api_key_id}}" (fields as in every template)',
      }),
    ),
  },
  { additionalProperties: false },
)
export type NotifyEmailParams = Static<typeof NotifyEmailParams>

export interface EmailSendOptions {
  /** Connection, greeting and socket timeouts. @defaultValue `10000` */
  timeoutMs?: number
}

const DEFAULT_SUBJECT = '[Vigil {{alert.severity}}] {{alert.rule}}: {{alert.summary}}'

/** HTML-escapes a masked value. */
export function escapeHtml(s: string): string {
  return maskText(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;')
}

/** One line, masked, bounded: safe in a header. */
function headerText(s: string, max: number): string {
  // eslint-disable-next-line no-control-regex -- removing control characters is the point
  const one = maskText(s).replace(/[\r\n\t\v\f\u0085\u2028\u2029]+/g, ' ').replace(/[\x00-\x1f\x7f]/g, '')
  return one.length <= max ? one : `${one.slice(0, max - 1)}…`
}

function dashboardUrl(publicUrl: string, kind: 'alerts' | 'incidents', id: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/${kind}/${encodeURIComponent(id)}`
}

/** The subject from a template like every other (`{{alert.rule}}`); one pass, so a value is never expanded again. */
export function emailSubject(template: string, alert: Alert, incident: IncidentSummary | null): string {
  return headerText(renderTemplate(template, { alert, incident, playbook: '' }, 250), 250)
}

export interface RenderedEmail {
  subject: string
  text: string
  html: string
}

/** The alert as an email: the same facts as the Slack message (slack-blocks.ts). */
export function alertEmail(alert: Alert, incident: IncidentSummary | null, done: ActionContext['done'], opts: { publicUrl: string; subject?: string }): RenderedEmail {
  const rows: Array<[string, string]> = [
    ['Rule', alert.rule],
    ['Severity', `${alert.severity} (score ${alert.score})`],
    ['Entity', `${alert.entity.type} ${alert.entity.id}`],
    ['API key', alert.api_key_id ?? '—'],
    ['Account', alert.account_id ?? '—'],
    ['Client IP', alert.client_ip ?? '—'],
    ['Events', `${alert.count} from ${alert.first_seen} to ${alert.last_seen}`],
  ]
  for (const [k, v] of Object.entries(alert.evidence ?? {})) {
    if (typeof v === 'number' && Number.isFinite(v) && rows.length < 12) rows.push([k.slice(0, 40), String(v)])
  }
  if (incident) rows.push(['Incident', `${incident.id} (${incident.status})`])
  const alertUrl = dashboardUrl(opts.publicUrl, 'alerts', alert.id)
  const incidentUrl = incident ? dashboardUrl(opts.publicUrl, 'incidents', incident.id) : null
  const doneText = done.length ? done.map((d) => `- ${d.action} ${d.outcome}: ${maskText(d.summary)}`).join('\n') : '- nothing yet'

  const text = [
    `${alert.severity.toUpperCase()} alert: ${alert.rule}`,
    '',
    maskText(alert.summary),
    '',
    ...rows.map(([k, v]) => `${k}: ${maskText(v)}`),
    '',
    'Already done:',
    doneText,
    '',
    `Alert: ${alertUrl}`,
    ...(incidentUrl ? [`Incident: ${incidentUrl}`] : []),
  ].join('\n')

  const html = `<!doctype html>
<html><body style="font-family: sans-serif">
<h2>${escapeHtml(alert.severity.toUpperCase())} alert: ${escapeHtml(alert.rule)}</h2>
<p>${escapeHtml(alert.summary)}</p>
<table cellpadding="4" style="border-collapse: collapse">
${rows.map(([k, v]) => `<tr><th align="left">${escapeHtml(k)}</th><td><code>${escapeHtml(v)}</code></td></tr>`).join('\n')}
</table>
<h3>Already done</h3>
<ul>${done.length ? done.map((d) => `<li><code>${escapeHtml(d.action)}</code> ${escapeHtml(d.outcome)}: ${escapeHtml(d.summary)}</li>`).join('') : '<li>nothing yet</li>'}</ul>
<p><a href="${escapeHtml(alertUrl)}">Open the alert</a>${incidentUrl ? ` · <a href="${escapeHtml(incidentUrl)}">Open the incident</a>` : ''}</p>
</body></html>`
  return { subject: emailSubject(opts.subject ?? DEFAULT_SUBJECT, alert, incident), text, html }
}

/** `<vigil.<hash>@<sender domain>>`: the same key always gives the same Message-ID. */
export function messageIdFor(onceKey: string, from: string, kind = 'vigil'): string {
  const domain = /@([^\s@<>]+)>?\s*$/.exec(from)?.[1] ?? 'vigil.invalid'
  return `<${kind}.${createHash('sha256').update(onceKey).digest('hex').slice(0, 32)}@${domain}>`
}

// Loaded when a transport is first made (≈ 0.1 s): most processes importing actions never send mail.
const require = createRequire(import.meta.url)
const nodemailer = lazy((): typeof nodemailerModule => require('nodemailer') as typeof nodemailerModule)

/** An SMTP transport for `SMTP_URL` with every timeout at `timeoutMs`, and no file or URL access from message content. */
export function smtpTransport(smtpUrl: string | undefined, timeoutMs: number): ReturnType<typeof nodemailerModule.createTransport> {
  return nodemailer().createTransport({
    url: smtpUrl,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    disableFileAccess: true,
    disableUrlAccess: true,
  } as Parameters<typeof nodemailerModule.createTransport>[0])
}

/** From nodemailer's error code and SMTP reply code only: never the URL, which may hold a password. */
function smtpFailure(err: unknown): Error {
  const e = err as { code?: string; responseCode?: number }
  const code = typeof e.code === 'string' ? e.code.slice(0, 20) : 'unknown'
  const reply = typeof e.responseCode === 'number' ? e.responseCode : undefined
  if (reply !== undefined && reply >= 500) return new UnrecoverableError(`the SMTP server refused the message (${reply})`)
  if (code === 'EAUTH' || code === 'ENOAUTH' || code === 'ECONFIG' || code === 'EENVELOPE' || code === 'EMESSAGE') {
    return reply !== undefined && reply < 500 ? new Error(`the SMTP server deferred the message (${reply})`) : new UnrecoverableError(`the SMTP server refused the message (${code})`)
  }
  if (reply !== undefined) return new Error(`the SMTP server deferred the message (${reply})`)
  return new Error(`the SMTP server could not be reached (${code})`)
}

interface SendInput {
  config: VigilConfig
  logger: Logger
  redis: Redis
  onceKey: string
  to: readonly string[]
  mail: RenderedEmail
  opts: EmailSendOptions
}

async function sendOnce(input: SendInput): Promise<{ sent: boolean; messageId: string }> {
  const { config, redis, onceKey, logger } = input
  const from = config.emailFrom as string
  const messageId = messageIdFor(onceKey, from)
  const timeoutMs = input.opts.timeoutMs ?? 10_000
  const claim = await claimEffect(redis, 'email', onceKey, 4 * timeoutMs)
  if (claim.kind === 'done') return { sent: false, messageId }
  if (claim.kind === 'busy') throw new Error('another attempt of this step is sending the email')
  const transport = smtpTransport(config.smtpUrl, timeoutMs)
  try {
    await transport.sendMail({ from, to: [...input.to], subject: input.mail.subject, text: input.mail.text, html: input.mail.html, messageId })
  } catch (err) {
    await releaseEffect(redis, 'email', onceKey, claim.token).catch(() => {})
    throw smtpFailure(err)
  } finally {
    transport.close()
  }
  try {
    await recordEffect(redis, 'email', onceKey, { messageId, recipients: input.to.length })
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'email sent but not recorded')
  }
  return { sent: true, messageId }
}

function missingSetting(config: VigilConfig, to: readonly string[]): string | null {
  if (!config.smtpUrl) return 'SMTP_URL'
  if (!config.emailFrom) return 'EMAIL_FROM'
  if (to.length === 0) return 'EMAIL_TO'
  return null
}

export function createNotifyEmail(opts: EmailSendOptions = {}): Action<typeof NotifyEmailParams> {
  return {
    type: 'notify_email',
    description: 'Email the alert (HTML and text) with what fired, the numbers, what was done and dashboard links',
    params: NotifyEmailParams,
    destructive: false,
    async run(ctx, params, deps): Promise<ActionResult> {
      const to = params.to ?? deps.config.emailTo
      const missing = missingSetting(deps.config, to)
      if (missing) return { outcome: 'skipped', summary: `email is not configured (${missing} is not set)` }
      const mail = alertEmail(ctx.alert, ctx.incident, ctx.done, { publicUrl: deps.config.publicUrl, ...(params.subject ? { subject: params.subject } : {}) })
      const out = await sendOnce({ config: deps.config, logger: deps.logger, redis: deps.redis, onceKey: ctx.idempotencyKey, to, mail, opts })
      const detail = { message_id: out.messageId, recipients: to.length }
      return out.sent
        ? { outcome: 'done', summary: `emailed the alert to ${to.length} recipient${to.length === 1 ? '' : 's'}`, detail }
        : { outcome: 'already_done', summary: `the alert was already emailed to ${to.length} recipient${to.length === 1 ? '' : 's'}`, detail }
    },
  }
}

export const notifyEmail = createNotifyEmail()

export interface DigestInput {
  /** The period the digest covers (RFC 3339); with `until` it names the digest, so it is sent once. */
  since: string
  until: string
  incidents: ReadonlyArray<Omit<Incident, 'timeline'>>
  /** Default: EMAIL_TO. */
  to?: readonly string[]
  /** @defaultValue `Vigil daily digest` */
  title?: string
}

export function digestEmail(input: DigestInput, publicUrl: string): RenderedEmail {
  const title = input.title ?? 'Vigil daily digest'
  const n = input.incidents.length
  const sorted = [...input.incidents].sort((a, b) => (a.opened_at < b.opened_at ? -1 : a.opened_at > b.opened_at ? 1 : 0))
  const line = (i: Omit<Incident, 'timeline'>) =>
    `- [${i.severity}] ${maskText(i.title)} — ${i.status}, ${i.entity.type} ${maskText(i.entity.id)}, ${i.alert_ids.length} alert(s), opened ${i.opened_at}: ${dashboardUrl(publicUrl, 'incidents', i.id)}`
  const text = [`${title}: ${input.since} to ${input.until}`, '', n === 0 ? 'No incidents in this period.' : `${n} incident${n === 1 ? '' : 's'}:`, ...sorted.map(line)].join('\n')
  const rows = sorted
    .map(
      (i) =>
        `<tr><td>${escapeHtml(i.severity)}</td><td><a href="${escapeHtml(dashboardUrl(publicUrl, 'incidents', i.id))}">${escapeHtml(i.title)}</a></td><td>${escapeHtml(i.status)}</td><td><code>${escapeHtml(`${i.entity.type} ${i.entity.id}`)}</code></td><td>${i.alert_ids.length}</td><td>${escapeHtml(i.opened_at)}</td></tr>`,
    )
    .join('\n')
  const html = `<!doctype html>
<html><body style="font-family: sans-serif">
<h2>${escapeHtml(title)}</h2>
<p>${escapeHtml(input.since)} to ${escapeHtml(input.until)}: ${n === 0 ? 'no incidents.' : `${n} incident${n === 1 ? '' : 's'}.`}</p>
${n === 0 ? '' : `<table cellpadding="4" style="border-collapse: collapse">\n<tr><th>Severity</th><th>Incident</th><th>Status</th><th>Entity</th><th>Alerts</th><th>Opened</th></tr>\n${rows}\n</table>`}
</body></html>`
  return { subject: headerText(`${title}: ${n} incident${n === 1 ? '' : 's'} (${input.since.slice(0, 10)})`, 250), text, html }
}

/**
 * Mails the digest of the incidents given (the engine selects the medium/low ones of the
 * period). Sent once per (since, until) whatever the retries.
 */
export async function sendDigest(deps: { config: VigilConfig; logger: Logger; redis: Redis }, input: DigestInput, opts: EmailSendOptions = {}): Promise<ActionResult> {
  const to = input.to ?? deps.config.emailTo
  const missing = missingSetting(deps.config, to)
  if (missing) return { outcome: 'skipped', summary: `email is not configured (${missing} is not set)` }
  const mail = digestEmail(input, deps.config.publicUrl)
  const out = await sendOnce({ ...deps, onceKey: `digest.${input.since}.${input.until}`, to, mail, opts })
  const detail = { message_id: out.messageId, incidents: input.incidents.length }
  return out.sent
    ? { outcome: 'done', summary: `emailed the digest of ${input.incidents.length} incident(s)`, detail }
    : { outcome: 'already_done', summary: 'the digest was already emailed', detail }
}
