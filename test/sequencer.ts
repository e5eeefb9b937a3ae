/**
 * Runs the slowest test files first. In a fresh clone (CI) vitest has no duration cache and
 * orders files by size, so a two-minute file could start last and leave one worker idle at
 * the end; starting the heavy ones first keeps both workers busy to the end. Seconds below
 * are from a full run on the 2-core machine (`npm test`, test/artifacts/vitest.json); files
 * not listed keep vitest's own order after them. Only the order changes, never what runs.
 */
import { relative } from 'node:path'
import { BaseSequencer, type TestSpecification } from 'vitest/node'

const SECONDS: ReadonlyMap<string, number> = new Map([
  ['server/src/cli.test.ts', 114],
  ['test/integration/dashboard-e2e.test.ts', 109],
  ['server/src/people.test.ts', 97],
  ['detect/src/detectors.test.ts', 57],
  ['test/integration/guard-e2e.test.ts', 56],
  ['test/integration/demo-cycle.test.ts', 54],
  ['test/integration/demo-e2e.test.ts', 51],
  ['server/src/reports-cli.test.ts', 37],
  ['test/integration/sim-e2e.test.ts', 36],
  ['test/integration/response-e2e.test.ts', 30],
  ['server/src/rules-cli.test.ts', 29],
  ['test/integration/crash-recovery.test.ts', 25],
  ['detect/src/memory.test.ts', 20],
  ['server/src/users-cli-offline.test.ts', 19],
  ['detect/src/detectors/behaviour-detectors.test.ts', 18],
  ['detect/src/engine.test.ts', 17],
  ['server/src/runtime.test.ts', 17],
  ['test/integration/detection-e2e.test.ts', 16],
  ['core/src/redis.test.ts', 14],
  ['respond/src/engine.test.ts', 13],
  ['detect/src/rules.test.ts', 10],
  ['respond/src/playbook-fixtures.test.ts', 10],
  ['server/src/reports.test.ts', 9],
])

export class HeavyFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const ordered = await super.sort(files)
    const weight = (f: TestSpecification) => SECONDS.get(relative(f.project.config.root, f.moduleId).replaceAll('\\', '/')) ?? 0
    // Array.prototype.sort is stable: unlisted files keep vitest's order.
    return ordered.sort((a, b) => weight(b) - weight(a))
  }
}
