/**
 * The Block Kit messages Vigil posts to Slack: an alert (what fired, on which key and
 * account, the numbers, what was already done, links to the dashboard) with an Acknowledge
 * button, and an approval request with Approve / Reject buttons. Pure functions.
 *
 * Relied on by: notify_slack and postApprovalRequest (notify-slack.ts), and the
 * interactivity route (slack-interactions.ts), which reads back the `action_id`s and the
 * button `value`s defined here. Button values carry ids only, never a secret.
 *
 * Alert fields are attacker-influenced (paths, user agents, key ids a client chose), so
 * every one of them is masked (maskText) and escaped before it reaches mrkdwn: `&`, `<`,
 * `>` are entity-escaped (no links, no `<!channel>` mentions) and values sit in inline
 * code with backticks replaced, so `*bold*` or `_x_` in a path formats nothing.
 */
import { maskText, type Alert } from '@vigil/core'
import type { ActionContext } from '../action.js'
import type { IncidentSummary } from '../seams.js'

/** The `action_id`s of Vigil's buttons. */
export const SLACK_ACTION_IDS = {
  acknowledge: 'vigil.acknowledge',
  approve: 'vigil.approve',
  reject: 'vigil.reject',
} as const
export type SlackButtonAction = keyof typeof SLACK_ACTION_IDS

/** What a button's `value` carries (JSON), for the interactivity route. */
export interface SlackButtonValue {
  alert_id: string
  incident_id: string | null
  approval_id?: string
}

export interface TextObject {
  type: 'plain_text' | 'mrkdwn'
  text: string
  emoji?: boolean
}
export interface ButtonElement {
  type: 'button'
  action_id: string
  text: TextObject
  value: string
  style?: 'primary' | 'danger'
  confirm?: { title: TextObject; text: TextObject; confirm: TextObject; deny: TextObject }
}
export type SlackBlock =
  | { type: 'header'; text: TextObject }
  | { type: 'section'; text?: TextObject; fields?: TextObject[]; block_id?: string }
  | { type: 'context'; elements: TextObject[] }
  | { type: 'actions'; block_id?: string; elements: ButtonElement[] }
  | { type: 'divider' }

export interface SlackAlertOptions {
  /** Base of dashboard links (`config.publicUrl`). */
  publicUrl: string
  /** `@here`, `@channel`, `@U123ABC` (a user) or `@subteam^S123` (a user group). */
  mention?: string
  /** Add the Acknowledge button. @defaultValue `true` */
  buttons?: boolean
  /** Turns the message into an approval request with Approve / Reject buttons. */
  approval?: { id: string; action: string; description: string; expiresAt?: string }
}

const SEVERITY_EMOJI = { critical: ':rotating_light:', high: ':red_circle:', medium: ':large_orange_diamond:', low: ':large_blue_circle:' } as const

// Slack's limits: header text 150, section text 3000, a field 2000, 10 fields, a button value 2000.
const HEADER_MAX = 150
const SECTION_MAX = 3000
const FIELD_VALUE_MAX = 300

function cut(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`
}

/** Text safe inside mrkdwn: masked, entity-escaped, one line. */
export function escapeMrkdwn(s: string): string {
  return maskText(s)
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
}

/** An attacker-influenced value as inline code: nothing inside formats, links or mentions. */
export function codeValue(s: string | number | null | undefined, max = FIELD_VALUE_MAX): string {
  if (s === null || s === undefined || s === '') return '_none_'
  // Backticks would end the code span; U+02CB looks alike and ends nothing.
  return `\`${cut(escapeMrkdwn(String(s)).replace(/`/g, 'ˋ'), max)}\``
}

/**
 * Plain text: Slack applies no formatting to plain_text, but it decodes `&lt;` and friends
 * everywhere, so the three characters are escaped here too (belt and braces: a `<!channel>`
 * never reaches Slack as such). Masked and bounded.
 */
function plain(s: string, max: number): TextObject {
  const text = maskText(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  return { type: 'plain_text', text: cut(text, max), emoji: true }
}

const MENTION = /^@(here|channel|[UW][A-Z0-9]{2,20}|subteam\^S[A-Z0-9]{2,20})$/
/** The mention syntax Slack renders, or undefined for anything else. */
export function slackMention(m: string | undefined): string | undefined {
  const hit = m === undefined ? null : MENTION.exec(m)
  if (!hit) return undefined
  const who = hit[1] as string
  if (who === 'here' || who === 'channel') return `<!${who}>`
  if (who.startsWith('subteam^')) return `<!${who}>`
  return `<@${who}>`
}

function link(publicUrl: string, kind: 'alerts' | 'incidents', id: string, label: string): string {
  const url = `${publicUrl.replace(/\/+$/, '')}/${kind}/${encodeURIComponent(id)}`
  // `|` and `>` would end Slack's <url|label> syntax: the URL is percent-encoded, the label escaped.
  return `<${url}|${escapeMrkdwn(label).replace(/\|/g, '¦')}>`
}

/** Numeric evidence (the numbers that made the rule fire), at most `max` of them. */
function evidenceNumbers(evidence: Record<string, unknown>, max: number): string[] {
  const out: string[] = []
  for (const [k, v] of Object.entries(evidence)) {
    if (typeof v === 'number' && Number.isFinite(v) && /^[A-Za-z0-9_.]{1,40}$/.test(k)) out.push(`${k}=${v}`)
    if (out.length === max) break
  }
  return out
}

export function buttonValue(v: SlackButtonValue): string {
  return JSON.stringify(v)
}

/** The fallback `text` of the message (notifications, screen readers). */
export function slackAlertText(alert: Alert, opts: Pick<SlackAlertOptions, 'approval'> = {}): string {
  const head = `[${alert.severity.toUpperCase()}] ${alert.rule}: ${escapeMrkdwn(cut(alert.summary, 500))}`
  return opts.approval ? `Approval needed: ${escapeMrkdwn(opts.approval.action)} — ${head}` : head
}

/**
 * The blocks of an alert message. `done` is what the playbook already did (ActionContext),
 * shown so the reader knows what is left to do.
 */
export function slackAlertBlocks(alert: Alert, incident: IncidentSummary | null, done: ActionContext['done'], opts: SlackAlertOptions): SlackBlock[] {
  const blocks: SlackBlock[] = []
  const emoji = SEVERITY_EMOJI[alert.severity] ?? ''
  const title = opts.approval ? `Approval needed: ${opts.approval.action}` : `${alert.severity.toUpperCase()} · ${alert.rule}`
  blocks.push({ type: 'header', text: plain(`${emoji} ${title}`.trim(), HEADER_MAX) })

  const mention = slackMention(opts.mention)
  if (mention) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `${mention} ${alert.severity} alert` } })
  if (opts.approval) {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: cut(`*Step waiting for approval:* ${codeValue(opts.approval.action, 64)} ${escapeMrkdwn(opts.approval.description)}${opts.approval.expiresAt ? `\n*Expires:* ${escapeMrkdwn(opts.approval.expiresAt)}` : ''}`, SECTION_MAX) },
    })
  }
  // The summary is the detector's prose around attacker-chosen values: plain_text formats nothing.
  blocks.push({ type: 'section', text: plain(alert.summary || '(no summary)', SECTION_MAX) })

  const fields: TextObject[] = [
    { type: 'mrkdwn', text: `*Rule*\n${codeValue(alert.rule, 120)}` },
    { type: 'mrkdwn', text: `*Severity*\n${alert.severity} (score ${Number.isFinite(alert.score) ? alert.score : '?'})` },
    { type: 'mrkdwn', text: `*Entity*\n${escapeMrkdwn(alert.entity.type)} ${codeValue(alert.entity.id)}` },
    { type: 'mrkdwn', text: `*API key*\n${codeValue(alert.api_key_id)}` },
    { type: 'mrkdwn', text: `*Account*\n${codeValue(alert.account_id)}` },
    { type: 'mrkdwn', text: `*Client IP*\n${codeValue(alert.client_ip, 64)}` },
    { type: 'mrkdwn', text: `*Events*\n${Number.isFinite(alert.count) ? alert.count : '?'} from ${escapeMrkdwn(alert.first_seen)} to ${escapeMrkdwn(alert.last_seen)}` },
  ]
  const numbers = evidenceNumbers(alert.evidence ?? {}, 4)
  if (numbers.length) fields.push({ type: 'mrkdwn', text: `*Numbers*\n${numbers.map((n) => codeValue(n, 60)).join(' ')}` })
  if (incident) fields.push({ type: 'mrkdwn', text: `*Incident*\n${codeValue(incident.id, 64)} (${escapeMrkdwn(incident.status)})` })
  blocks.push({ type: 'section', fields: fields.slice(0, 10) })

  const doneLines = done.map((d) => `• ${codeValue(d.action, 64)} ${d.outcome.replace('_', ' ')}: ${escapeMrkdwn(cut(d.summary, 200))}`)
  blocks.push({ type: 'section', text: { type: 'mrkdwn', text: cut(`*Already done*\n${doneLines.length ? doneLines.join('\n') : 'Nothing yet.'}`, SECTION_MAX) } })

  const links = [link(opts.publicUrl, 'alerts', alert.id, `Alert ${alert.id}`)]
  if (incident) links.push(link(opts.publicUrl, 'incidents', incident.id, `Incident ${incident.id}`))
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: links.join('  ·  ') }] })

  const base: SlackButtonValue = { alert_id: alert.id, incident_id: incident?.id ?? null }
  const buttons: ButtonElement[] = []
  if (opts.approval) {
    const value = buttonValue({ ...base, approval_id: opts.approval.id })
    buttons.push({
      type: 'button',
      action_id: SLACK_ACTION_IDS.approve,
      text: plain('Approve', 75),
      style: 'primary',
      value,
      confirm: {
        title: plain('Approve this step?', 100),
        text: { type: 'mrkdwn', text: `Vigil will run ${codeValue(opts.approval.action, 64)} now.` },
        confirm: plain('Approve', 30),
        deny: plain('Cancel', 30),
      },
    })
    buttons.push({ type: 'button', action_id: SLACK_ACTION_IDS.reject, text: plain('Reject', 75), style: 'danger', value })
  }
  if (opts.buttons !== false || opts.approval) {
    buttons.push({ type: 'button', action_id: SLACK_ACTION_IDS.acknowledge, text: plain('Acknowledge', 75), value: buttonValue(base) })
  }
  if (buttons.length) blocks.push({ type: 'actions', block_id: 'vigil.actions', elements: buttons })
  return blocks
}
