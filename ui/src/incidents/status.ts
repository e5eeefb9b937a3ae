/**
 * Incident status moves and the checks the dashboard makes before it asks the server
 * (respond/src/incidents.ts canMove, respond/src/incidents-routes.ts). Tested in status.test.ts.
 */
import { INCIDENT_STATUSES, type IncidentStatus } from './types.js'

/** The route's limit for a note and for a resolution. */
export const INCIDENT_TEXT_MAX = 4000

/** Forward along open → contained → resolved → closed, or back to open. */
export function allowedMoves(from: IncidentStatus): IncidentStatus[] {
  return INCIDENT_STATUSES.filter((to) => (to === 'open' ? from !== 'open' : INCIDENT_STATUSES.indexOf(to) > INCIDENT_STATUSES.indexOf(from)))
}

/** A resolution goes with resolved and closed; the dashboard asks for one there. */
export function needsResolution(to: IncidentStatus): boolean {
  return to === 'resolved' || to === 'closed'
}

export interface StatusChange {
  status: IncidentStatus
  note: string
  resolution: string
}

/** What is wrong with a status change, field by field (empty when it can be sent). */
export function statusChangeErrors(from: IncidentStatus, c: StatusChange): Partial<Record<keyof StatusChange, string>> {
  const errors: Partial<Record<keyof StatusChange, string>> = {}
  if (!allowedMoves(from).includes(c.status)) errors.status = `An incident that is ${from} cannot become ${c.status}.`
  if (needsResolution(c.status) && c.resolution.trim() === '') errors.resolution = 'Say how the incident was resolved.'
  if (c.resolution.length > INCIDENT_TEXT_MAX) errors.resolution = `At most ${INCIDENT_TEXT_MAX} characters (${c.resolution.length} now).`
  if (c.note.length > INCIDENT_TEXT_MAX) errors.note = `At most ${INCIDENT_TEXT_MAX} characters (${c.note.length} now).`
  return errors
}

/** The body of POST /v1/incidents/:id/status: empty note left out, resolution only where allowed. */
export function statusBody(c: StatusChange): { status: IncidentStatus; note?: string; resolution?: string } {
  return {
    status: c.status,
    ...(c.note.trim() !== '' ? { note: c.note } : {}),
    ...(needsResolution(c.status) && c.resolution.trim() !== '' ? { resolution: c.resolution } : {}),
  }
}

/** What is wrong with a note before it is added, or null. */
export function noteError(note: string): string | null {
  if (note.trim() === '') return 'Write a note first.'
  if (note.length > INCIDENT_TEXT_MAX) return `At most ${INCIDENT_TEXT_MAX} characters (${note.length} now).`
  return null
}

/** Keys and accounts the incident touches: its own and every alert's, each once, in order met. */
export function affectedOf(incident: { api_key_id: string | null; account_id: string | null; alerts?: Array<{ api_key_id: string | null; account_id: string | null }> }): {
  keys: string[]
  accounts: string[]
} {
  const keys: string[] = []
  const accounts: string[] = []
  const add = (list: string[], v: string | null | undefined) => {
    if (v && !list.includes(v)) list.push(v)
  }
  add(keys, incident.api_key_id)
  add(accounts, incident.account_id)
  for (const a of incident.alerts ?? []) {
    add(keys, a.api_key_id)
    add(accounts, a.account_id)
  }
  return { keys, accounts }
}
