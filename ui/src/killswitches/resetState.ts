/**
 * The four-eyes reset of a kill-switch as the page shows it (respond/src/killswitches-routes.ts):
 * the first person's reset answers 202 `{status: 'reset_requested', killswitch}` and the switch
 * waits for a second person; another person's reset answers 200 with the switch reset; the same
 * person again is refused with 409 four_eyes_required (shown as the server says it).
 */
import type { KillSwitch } from './types.js'

export type ResetState =
  | { kind: 'tripped' }
  | { kind: 'waiting'; by: string; at: string; reason: string }
  | { kind: 'reset'; by: string | null; at: string | null; reason: string | null }

export function resetState(sw: KillSwitch): ResetState {
  if (sw.status === 'reset') return { kind: 'reset', by: sw.reset_by, at: sw.reset_at, reason: sw.reset_reason }
  if (sw.reset_request) return { kind: 'waiting', by: sw.reset_request.by, at: sw.reset_request.at, reason: sw.reset_request.reason }
  return { kind: 'tripped' }
}

/** "operator:p2@example.com" → "p2@example.com": the person (or token) behind an actor id. */
export function actorName(actor: string | null | undefined): string {
  if (!actor) return '—'
  return actor.replace(/^operator:/, '').replace(/^person:/, '')
}

/** True when `actor` names the signed-in person (by e-mail). */
export function isMe(actor: string | null | undefined, email: string | undefined): boolean {
  if (!actor || !email) return false
  return actorName(actor).toLowerCase() === email.toLowerCase() || actor.toLowerCase().endsWith(`:${email.toLowerCase()}`)
}

export type ResetAnswer = { kind: 'requested'; killswitch: KillSwitch } | { kind: 'reset'; killswitch: KillSwitch }

/** Reads the answer of `POST /v1/killswitches/:id/reset` (202 requested, or 200 the reset switch). */
export function readResetAnswer(body: unknown): ResetAnswer {
  const b = body as { status?: unknown; killswitch?: unknown } | null
  if (b && b.status === 'reset_requested' && b.killswitch && typeof b.killswitch === 'object') return { kind: 'requested', killswitch: b.killswitch as KillSwitch }
  if (b && (b.status === 'reset' || b.status === 'tripped') && typeof (b as { id?: unknown }).id === 'string') return { kind: 'reset', killswitch: b as unknown as KillSwitch }
  throw new Error('unexpected answer to a kill-switch reset')
}

/** What the reset button says for this switch and this person. */
export function resetLabel(sw: KillSwitch, email: string | undefined): { label: string; hint: string | null } {
  const st = resetState(sw)
  if (st.kind === 'waiting') {
    if (isMe(st.by, email)) return { label: 'Reset requested', hint: 'You asked for this reset; another person must confirm it.' }
    return { label: 'Confirm reset', hint: `${actorName(st.by)} asked for this reset; you are the second person.` }
  }
  return { label: 'Reset', hint: null }
}

/** Tripped switches first (newest first), then the history (newest first). */
export function sortSwitches(items: readonly KillSwitch[]): KillSwitch[] {
  return [...items].sort((a, b) => {
    if (a.status !== b.status) return a.status === 'tripped' ? -1 : 1
    return b.tripped_at.localeCompare(a.tripped_at)
  })
}

/** What tripping a scope does, said before the person confirms. */
export function tripConsequence(type: string, id: string): string {
  const where = type === 'global' ? 'every scope (global)' : `${type.replace('_', ' ')} ${id || '…'}`
  return `New orders on ${where} will be refused by the trading API from its next control update, and resting orders on that scope will be cancelled by the trading API. It stays tripped until two different people reset it.`
}
