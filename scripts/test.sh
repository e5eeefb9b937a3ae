#!/usr/bin/env bash
# Sets up (scripts/setup.sh, which builds and so type-checks) and runs every check and test:
# lint, import cycles, the dashboard's types,
# then the whole Vitest suite against real chDB, a real redis-server and Chromium (the
# dashboard end to end; its screenshots go to test/artifacts/screenshots/).
set -euo pipefail
cd "$(dirname "$0")/.."
# Also installs Debian's chromium for the dashboard's end-to-end test (test/integration/dashboard-e2e.test.ts).
VIGIL_SETUP_TESTS=1 VIGIL_SETUP_BROWSER=1 bash scripts/setup.sh
# The checks are independent and each mostly uses one core: run them side by side, print
# each one's output in turn, and stop before the tests if any failed.
# The build (setup.sh) has type-checked every workspace tsc compiles, with the same
# tsconfig their typecheck uses; ui is built by vite, which does not type-check.
checks=$(mktemp -d)
npx eslint . --max-warnings=0 >"$checks/lint" 2>&1 &
lint=$!
npm run --silent lint:cycles >"$checks/cycles" 2>&1 &
cycles=$!
npx turbo run typecheck --filter=@vigil/ui --output-logs=errors-only >"$checks/types" 2>&1 &
types=$!
failed=""
for check in lint:$lint cycles:$cycles types:$types; do
  name=${check%%:*}
  wait "${check##*:}" || failed="$failed $name"
  cat "$checks/$name"
done
rm -rf "$checks"
if [ -n "$failed" ]; then
  echo "npm test: failed:$failed (see above); not running the tests" >&2
  exit 1
fi
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
