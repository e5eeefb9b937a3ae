/**
 * Runs the slowest test files first. In a fresh clone (CI) vitest has no duration cache and
 * orders files by size, so a two-minute file could start last and leave one worker idle at
 * the end; starting the heavy ones first keeps both workers busy to the end. Seconds below
 * are from a full run on the 2-core machine (`npm test`, test/artifacts/vitest.json), plus,
 * for the three end-to-end files whose beforeAll starts Vigil and a browser or guard, that
 * set-up (vitest.json times the tests only); files not listed keep vitest's own order after
 * them. Only the order changes, never what runs.
 */
import { relative } from 'node:path'
import { BaseSequencer, type TestSpecification } from 'vitest/node'

const SECONDS: ReadonlyMap<string, number> = new Map([
  ['server/src/cli.test.ts', 106],
  ['test/integration/dashboard-e2e.test.ts', 101],
  ['test/integration/guard-e2e.test.ts', 74],
  ['test/integration/demo-e2e.test.ts', 65],
  ['test/integration/sim-e2e.test.ts', 36],
  ['detect/src/detectors.test.ts', 35],
  ['detect/src/detectors/behaviour-detectors.test.ts', 29],
  ['detect/src/memory.test.ts', 28],
  ['test/integration/demo-cycle.test.ts', 26],
  ['server/src/people.test.ts', 24],
  ['server/src/rules-test-cli.test.ts', 24],
  ['test/integration/response-e2e.test.ts', 22],
  ['server/src/rules-cli.test.ts', 22],
  ['server/src/reports-cli.test.ts', 20],
  ['test/integration/crash-recovery.test.ts', 18],
  ['core/src/redis.test.ts', 14],
  ['detect/src/engine.test.ts', 14],
  ['server/src/runtime.test.ts', 14],
  ['server/src/users-cli-offline.test.ts', 13],
  ['respond/src/playbook-fixtures.test.ts', 9],
  ['test/integration/detection-e2e.test.ts', 9],
  ['respond/src/engine.test.ts', 8],
  ['guard/src/shipper.test.ts', 8],
  ['server/src/reports.test.ts', 8],
])

export class HeavyFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const ordered = await super.sort(files)
    const weight = (f: TestSpecification) => SECONDS.get(relative(f.project.config.root, f.moduleId).replaceAll('\\', '/')) ?? 0
    // Array.prototype.sort is stable: unlisted files keep vitest's order.
    return ordered.sort((a, b) => weight(b) - weight(a))
  }
}
