#!/usr/bin/env bash
# The main job on the embedded default competition: install, write the digits competition,
# train 5 folds and write the submission under runs/digits*/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
. .venv/bin/activate
[ -f data/digits/train.csv ] || harness data digits data/digits
harness run recipes/digits.toml "$@"
