/**
 * The registry of actions playbooks can name. The playbook schema and `vigil playbooks lint`
 * read it for each action's params schema; the engine looks up each step's action here.
 * Add an action by importing it and listing it once below.
 */
import type { Action } from '../action.js'
import { openIncident } from './open-incident.js'
import { attachAlert } from './attach-alert.js'
import { revokeKey } from './revoke-key.js'
import { restoreKey } from './restore-key.js'
import { killSwitch } from './kill-switch.js'
import { notifySlack } from './notify-slack.js'
import { notifyEmail } from './notify-email.js'
import { webhook } from './webhook.js'
import { compileReport } from './compile-report.js'

export const ACTIONS: readonly Action[] = [openIncident, attachAlert, revokeKey, restoreKey, killSwitch, notifySlack, notifyEmail, webhook, compileReport]

const BY_TYPE: ReadonlyMap<string, Action> = new Map(ACTIONS.map((a) => [a.type, a]))

/** The action playbooks call `type`, or undefined. */
export function actionByType(type: string): Action | undefined {
  return BY_TYPE.get(type)
}
