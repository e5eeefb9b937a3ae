/**
 * What `vigil up` records at start about its controls: every rule and playbook file it
 * loaded, as a new version in `control_versions` when the file's content differs from the
 * newest recorded (core/src/control-versions.ts). Rules and playbooks are loaded once, at
 * start; whatever loads them again later must call this again.
 *
 * Relied on by: runtime.ts. A failure to record is logged and does not stop detection: the
 * versions are evidence for the annual review, and the next start records what is missing.
 */
import type { Logger } from 'pino'
import { controlAuthor, recordControlVersions, type ControlVersion, type Store, type VigilConfig } from '@vigil/core'
import { ruleControlSnapshots, type Rule } from '@vigil/detect'
import { ACTIONS, playbookControlSnapshots, type ActionRegistry, type Playbook } from '@vigil/respond'

export interface LoadedControls {
  store: Store
  config: Pick<VigilConfig, 'operator'>
  logger: Logger
  rules: readonly Rule[]
  playbooks: readonly Playbook[]
  /** The actions the playbooks were checked against. @defaultValue respond's ACTIONS */
  actions?: ActionRegistry
}

/** Records the versions that changed since the last start; resolves with them ([] when none, or when recording failed). */
export async function recordLoadedControls(deps: LoadedControls): Promise<ControlVersion[]> {
  try {
    const rules = ruleControlSnapshots(deps.rules)
    const playbooks = playbookControlSnapshots(deps.playbooks, deps.actions ?? ACTIONS)
    for (const s of [...rules.skipped, ...playbooks.skipped]) deps.logger.warn({ control: s.id, file: s.file, why: s.why }, 'control version not recorded')
    // A kind is complete only when nothing of it was skipped, or a skipped file would read as removed.
    const complete = [...(rules.skipped.length === 0 ? (['rule'] as const) : []), ...(playbooks.skipped.length === 0 ? (['playbook'] as const) : [])]
    const recorded = await recordControlVersions(deps.store, [...rules.snapshots, ...playbooks.snapshots], controlAuthor(deps.config), { complete })
    if (recorded.length > 0) deps.logger.info({ versions: recorded.map((v) => `${v.kind}:${v.id}${v.sha256 === '' ? ' (removed)' : ''}`) }, 'control versions recorded')
    return recorded
  } catch (err) {
    deps.logger.error({ err }, 'control versions not recorded')
    return []
  }
}
