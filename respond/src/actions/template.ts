/**
 * Text templates in playbook params (`reason: "{{alert.rule}} on {{alert.api_key_id}}"`,
 * incident titles): `{{name}}` replaced by a field of the alert, the incident or the run.
 *
 * Relied on by: the state actions for reasons and titles; `templateProblems` lets playbook
 * lint name an unknown field. What comes out is one line, masked (maskText), and bounded,
 * because it is stored as a reason or a title and shown to people.
 */
import { maskText } from '@vigil/core'
import type { ActionContext } from '../action.js'

/** What a template can read: the alert, the run's incident, the playbook. */
export type TemplateContext = Pick<ActionContext, 'alert' | 'incident' | 'playbook'>

const FIELDS: Record<string, (ctx: TemplateContext) => string | number | null | undefined> = {
  'alert.id': (c) => c.alert.id,
  'alert.rule': (c) => c.alert.rule,
  'alert.severity': (c) => c.alert.severity,
  'alert.summary': (c) => c.alert.summary,
  'alert.count': (c) => c.alert.count,
  'alert.entity.type': (c) => c.alert.entity.type,
  'alert.entity.id': (c) => c.alert.entity.id,
  'alert.api_key_id': (c) => c.alert.api_key_id,
  'alert.account_id': (c) => c.alert.account_id,
  'alert.client_ip': (c) => c.alert.client_ip,
  'incident.id': (c) => c.incident?.id,
  'incident.title': (c) => c.incident?.title,
  playbook: (c) => c.playbook,
}
export const TEMPLATE_FIELDS: readonly string[] = Object.keys(FIELDS)

const PLACEHOLDER = /\{\{\s*([a-z_.]{1,64})\s*\}\}/g

/** Unknown `{{…}}` names in a template; empty when it is fine. */
export function templateProblems(template: string): string[] {
  const out: string[] = []
  for (const m of template.matchAll(PLACEHOLDER)) if (!(m[1]! in FIELDS)) out.push(`unknown template field {{${m[1]}}}`)
  return out
}

/** The template with its fields filled in: one line, masked, at most `max` characters. */
export function renderTemplate(template: string, ctx: TemplateContext, max = 1000): string {
  const filled = template.replace(PLACEHOLDER, (whole, name: string) => {
    const get = FIELDS[name]
    if (!get) return whole
    const v = get(ctx)
    return v === null || v === undefined ? '-' : String(v)
  })
  const line = maskText(filled.replace(/[\r\n\t]+/g, ' ').trim())
  return line.length > max ? `${line.slice(0, max - 1)}…` : line
}
