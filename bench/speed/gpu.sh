#!/usr/bin/env bash
# Issue 5's GPU comparison in one go, on a machine with a GPU: resnet50 at 224 px, bf16,
# channels_last, batch 32, against the bare loop and timm's train.py, with and without the
# decoded-image cache, the before/after of the GPU loading defaults, and the loader alone.
#   bash bench/speed/gpu.sh DATA TIMM_TRAIN_PY [WORKERS] [ROUNDS] [REPEAT]
# DATA is hymenoptera (train/ and val/); REPEAT > 1 also measures it linked REPEAT times over
# (bench/tools/repeat_data.py), where epochs last long enough to show steady throughput.
set -euo pipefail
py=${PYTHON:-python3} data=$1 timm=$2 workers=${3:-8} rounds=${4:-3} repeat=${5:-8}
cd "$(dirname "$0")/../.."  # the repository root: bench/speed/ is two folders down
model=(--model resnet50 --precision bf16 --batch 32 --workers "$workers" --timm-train "$timm")
before="gpu_defaults_off=data.pin_memory=false;train.cudnn_benchmark=false;data.normalize_on_device=false"
"$py" bench/speed/throughput.py --data "$data" "${model[@]}" --epochs 8 --rounds "$rounds" --variant "$before"
if [ "$repeat" -gt 1 ]; then
    big=$(mktemp -d)/data
    "$py" bench/tools/repeat_data.py "$data" "$big" "$repeat"
    "$py" bench/speed/throughput.py --data "$big" "${model[@]}" --epochs 4 --rounds "$rounds" --variant "$before"
    "$py" bench/speed/input_pipeline.py --data "$big/train" --workers "$workers" --rounds "$rounds"
fi
