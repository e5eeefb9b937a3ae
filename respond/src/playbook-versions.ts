/**
 * Playbook files as versions of a control (core/src/control-versions.ts): each loaded
 * playbook's file hash and what decides what it does, for the control-version log that
 * `vigil up` keeps (server/src/runtime.ts) and the market-access review reads. The settings
 * listed here are what reports call a change of a playbook.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { canonicalParamsJson, contentSha256, type ControlSnapshot } from '@vigil/core'
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

export interface PlaybookSnapshots {
  snapshots: ControlSnapshot[]
  /** Playbooks whose file no longer says what was loaded: not snapshotted, with why. */
  skipped: Array<{ id: string; file: string; why: string }>
}

/**
 * The loaded playbooks as control snapshots; each file is read, hashed and parsed again, and
 * one edited since it was loaded is skipped and named (see detect's `ruleControlSnapshots`).
 */
export function playbookControlSnapshots(playbooks: readonly Playbook[], actions: ActionRegistry, read: (file: string) => string = (f) => readFileSync(f, 'utf8')): PlaybookSnapshots {
  const snapshots: ControlSnapshot[] = []
  const skipped: PlaybookSnapshots['skipped'] = []
  for (const p of playbooks) {
    const abs = path.isAbsolute(p.file) ? p.file : path.join(REPO_ROOT, p.file)
    let text: string
    try {
      text = read(abs)
    } catch (err) {
      skipped.push({ id: p.id, file: p.file, why: `unreadable: ${(err as NodeJS.ErrnoException).code ?? 'error'}` })
      continue
    }
    let now: Playbook
    try {
      now = parsePlaybook(text, p.file, actions)
    } catch (err) {
      if (!(err instanceof PlaybookError)) throw err
      skipped.push({ id: p.id, file: p.file, why: 'edited since it was loaded, and no longer valid' })
      continue
    }
    const params = playbookControlParams(p)
    if (now.id !== p.id || canonicalParamsJson(playbookControlParams(now)) !== canonicalParamsJson(params)) {
      skipped.push({ id: p.id, file: p.file, why: 'edited since it was loaded' })
      continue
    }
    snapshots.push({ kind: 'playbook', id: p.id, file: p.file, sha256: contentSha256(text), params })
  }
  return { snapshots, skipped }
}
