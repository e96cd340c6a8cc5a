#!/usr/bin/env bash
# Install what the tests need, lint and type-check, then run every test (the slow end-to-end ones too).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
. .venv/bin/activate
ruff check harness plugins tests bench examples scripts
mypy harness plugins
# Two workers (one per core on the reference 2-core machine), each torch on one thread: OpenMP barriers
# between two multi-threaded torch processes cost ~10x, one thread each does not. conftest.py pins the threads.
# --durations=15: the slowest tests close the log, so a CI run shows where the suite's minutes go.
python -m pytest -q -n "${HARNESS_TEST_WORKERS:-2}" --dist worksteal --durations=15 "$@"
