import { defineConfig } from 'vitest/config'
import { fileURLToPath } from 'node:url'
import { HeavyFirstSequencer } from './test/sequencer.js'

const src = (p: string) => fileURLToPath(new URL(p, import.meta.url))

// Tests import workspaces by name; point those names at the sources so a test run needs
// no build (the CLI tests that spawn `vigil` use the built dist, see scripts/test.sh).
export default defineConfig({
  resolve: {
    alias: {
      '@vigil/core': src('./core/src/index.ts'),
      '@vigil/ingest': src('./ingest/src/index.ts'),
      '@vigil/detect': src('./detect/src/index.ts'),
      // Before '@vigil/respond', whose alias would otherwise take this subpath too.
      '@vigil/respond/report-kinds': src('./respond/src/reports/kinds.ts'),
      '@vigil/respond': src('./respond/src/index.ts'),
      '@vigil/guard': src('./guard/src/index.ts'),
      '@vigil/demo': src('./demo/src/index.ts'),
      '@vigil/server': src('./server/src/index.ts'),
    },
  },
  test: {
    include: ['{core,ingest,detect,respond,guard,demo,server}/src/**/*.test.ts', 'ui/src/**/*.test.{ts,tsx}', 'rules/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    // chDB binds one data directory per process: every test file gets its own process.
    pool: 'forks',
    isolate: true,
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    globalSetup: ['./test/global-setup.ts'],
    // Slowest files first, so neither worker idles at the end (test/sequencer.ts).
    sequence: { sequencer: HeavyFirstSequencer },
  },
})
