/**
 * Playbook files as versions of a control (core/src/control-versions.ts): each loaded
 * playbook's file hash and what decides what it does, for the control-version log that
 * `vigil up` keeps (server/src/runtime.ts) and the market-access review reads. The settings
 * listed here are what reports call a change of a playbook.
 */
import path from 'node:path'
import { snapshotControls, type ControlSnapshots } from '@vigil/core'
import { DEFAULT_PLAYBOOKS_DIR, parsePlaybook, PlaybookError, type ActionRegistry, type Playbook } from './playbooks.js'

const REPO_ROOT = path.resolve(DEFAULT_PLAYBOOKS_DIR, '..', '..')

/** What a playbook version is judged by: its switch, trigger and every step's settings. */
export function playbookControlParams(p: Playbook): Record<string, unknown> {
  return {
    enabled: p.enabled,
    trigger: p.trigger,
    steps: p.steps.map((s) => ({ action: s.action, params: s.params, when: s.when, approval: s.approval, attempts: s.attempts, backoff_ms: s.backoffMs })),
  }
}

export type PlaybookSnapshots = ControlSnapshots

/** The loaded playbooks as control snapshots; one whose file was edited since it was loaded is skipped and named (core's `snapshotControls`). */
export function playbookControlSnapshots(playbooks: readonly Playbook[], actions: ActionRegistry, read?: (file: string) => string): PlaybookSnapshots {
  return snapshotControls(playbooks, {
    kind: 'playbook',
    root: REPO_ROOT,
    params: playbookControlParams,
    parse(text, file) {
      try {
        return parsePlaybook(text, file, actions)
      } catch (err) {
        if (err instanceof PlaybookError) return undefined
        throw err
      }
    },
    ...(read ? { read } : {}),
  })
}
