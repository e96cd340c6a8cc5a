#!/usr/bin/env bash
# Install what the tests need, lint and type-check, then run every test (the slow end-to-end ones too).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
. .venv/bin/activate
ruff check harness plugins tests bench examples scripts
mypy harness plugins
python -m pytest -q "$@"
