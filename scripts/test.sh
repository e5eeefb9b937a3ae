#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs every check and test: lint, import cycles, types,
# then the whole Vitest suite against real chDB, a real redis-server and Chromium (the
# dashboard end to end; its screenshots go to test/artifacts/screenshots/).
set -euo pipefail
cd "$(dirname "$0")/.."
# Also installs Debian's chromium for the dashboard's end-to-end test (test/integration/dashboard-e2e.test.ts).
VIGIL_SETUP_TESTS=1 VIGIL_SETUP_BROWSER=1 bash scripts/setup.sh
npx eslint . --max-warnings=0
npm run --silent lint:cycles
npx turbo run typecheck --output-logs=errors-only
mkdir -p test/artifacts
status=0
# setup.sh has just built every workspace: the tests' global set-up need not check again.
VIGIL_TESTS_BUILT=1 npx vitest run --reporter=default --reporter=json --outputFile.json=test/artifacts/vitest.json "$@" || status=$?
# One plain closing line, whatever the reporter printed above it.
node -e '
const r = JSON.parse(require("fs").readFileSync("test/artifacts/vitest.json", "utf8"));
const skipped = r.numPendingTests + r.numTodoTests;
console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
' || true
exit $status
