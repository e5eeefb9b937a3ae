#!/usr/bin/env bash
# Sets up a fresh Debian machine (Node 20.19+) to run Vigil: system packages, npm packages,
# build. Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_node="20.19.0"
have_node="$(node -p 'process.versions.node' 2>/dev/null || echo 0)"
if [ "$(printf '%s\n%s\n' "$need_node" "$have_node" | sort -V | head -n1)" != "$need_node" ]; then
  echo "vigil: Node.js >= $need_node is required (found $have_node)" >&2
  exit 1
fi

apt_updated=0
apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing Debian packages: $*"
  # One index update per run, even when a second install follows.
  if [ "$apt_updated" = 0 ]; then $sudo apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# The test suite renders every report PDF to PNG with poppler's pdftoppm to prove it opens.
if [ "${VIGIL_SETUP_TESTS:-0}" = "1" ]; then
  command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)
fi
if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
# The dashboard's end-to-end test drives Debian's chromium (or the one VIGIL_CHROMIUM names);
# npm test asks for it (VIGIL_SETUP_BROWSER=1), npm run demo does not. Installed on its own,
# so a machine without a chromium package still sets up everything else; that test then
# fails saying what is missing.
# It installs in the background while the npm packages install and the build runs.
browser_pid=""
if [ "${VIGIL_SETUP_BROWSER:-0}" = "1" ] && [ -z "${VIGIL_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  (apt_install chromium || echo "setup: could not install chromium; the dashboard end-to-end test needs it (or VIGIL_CHROMIUM naming a Chromium binary)" >&2) &
  browser_pid=$!
fi

# npm packages: once per clone (chdb alone is ~550 MB), again only when the lock changes.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi

echo "setup: building"
npx turbo run build --output-logs=errors-only
if [ -n "$browser_pid" ]; then wait "$browser_pid" || true; fi
