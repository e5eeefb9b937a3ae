#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs Vigil with demo traffic on http://127.0.0.1:8080.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node server/bin/vigil.js up --demo "$@"
