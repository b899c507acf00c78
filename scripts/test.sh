#!/usr/bin/env bash
# The whole suite, as CI runs it: lint, types, tests.
#   scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-venv.sh test
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff"
ruff check .
echo "== mypy (strict on intake/ and admin/)"
mypy
echo "== pytest"
pytest "$@"
