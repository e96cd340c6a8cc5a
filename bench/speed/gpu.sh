#!/usr/bin/env bash
# The GPU benchmarks, each in one go, on a machine with a GPU.
#
#   bash bench/speed/gpu.sh resnet50 DATA TIMM_TRAIN_PY [WORKERS] [ROUNDS] [REPEAT]
# Issue 5's comparison: resnet50 at 224 px, bf16, channels_last, batch 32, against the bare loop
# and timm's train.py, with and without the decoded-image cache, the before/after of the GPU
# loading defaults, and the loader alone. DATA is hymenoptera (train/ and val/); REPEAT > 1 also
# measures it linked REPEAT times over (bench/tools/repeat_data.py), where epochs last long enough
# to show steady throughput.
#
#   bash bench/speed/gpu.sh cifar10 PHOTOS AIRBENCH94_PY [EPOCHS] [SEEDS]
# Issue 24's comparison: `harness run recipes/cifar10.toml` against airbench94 on the same GPU and
# photos (bench/accuracy/airbench.py --device cuda: airbench as published, fp16, two runs a
# process, the first a warm-up), EPOCHS (default 10) each, the arms alternating over SEEDS
# (default "0 1 2"); then the GPU's FLOP/s limit and both sides' fraction of it
# (bench/speed/flops.py --device cuda); then the array kept on the GPU against batches copied from
# the memory map (`data.array_on_device`): the reader alone (bench/speed/page_cache.py --device
# cuda) and whole runs of the recipe, alternating (bench/speed/variants.py, the shipped recipe on
# fold 0 of 50, EPOCHS each). PHOTOS is ../shared/data/cifar10 (train/, test/);
# AIRBENCH94_PY is legacy/airbench94.py of KellerJordan/cifar10-airbench at f1c599c (a GPU machine
# has no git snapshot: copy the file there). SCRATCH names the scratch folder (default: a new one).
set -euo pipefail
py=${PYTHON:-python3} mode=${1:?"resnet50 or cifar10 (see the header)"}
shift
cd "$(dirname "$0")/../.."  # the repository root: bench/speed/ is two folders down
case "$mode" in
resnet50)
    data=$1 timm=$2 workers=${3:-8} rounds=${4:-3} repeat=${5:-8}
    model=(--model resnet50 --precision bf16 --batch 32 --workers "$workers" --timm-train "$timm")
    before="gpu_defaults_off=data.pin_memory=false;train.cudnn_benchmark=false;data.normalize_on_device=false"
    "$py" bench/speed/throughput.py --data "$data" "${model[@]}" --epochs 8 --rounds "$rounds" --variant "$before"
    if [ "$repeat" -gt 1 ]; then
        big=$(mktemp -d)/data
        "$py" bench/tools/repeat_data.py "$data" "$big" "$repeat"
        "$py" bench/speed/throughput.py --data "$big" "${model[@]}" --epochs 4 --rounds "$rounds" --variant "$before"
        "$py" bench/speed/input_pipeline.py --data "$big/train" --workers "$workers" --rounds "$rounds"
    fi
    ;;
cifar10)
    photos=$1 airbench=$2 epochs=${3:-10} seeds=${4:-"0 1 2"}
    scratch=${SCRATCH:-$(mktemp -d)}
    # shellcheck disable=SC2086  # the seeds are words
    "$py" bench/accuracy/airbench.py --device cuda --photos "$photos" --airbench-file "$airbench" \
        --airbench-commit f1c599c4af24aca803e3e65a6a7e52a502e09d0e --epochs "$epochs" --seeds $seeds --scratch "$scratch"
    rate=$("$py" -c 'import json, sys; print(json.loads(open(sys.argv[1]).readlines()[-1])["means"]["airbench"]["img_per_s"])' \
        bench/results/airbench.jsonl)
    "$py" bench/speed/flops.py --device cuda --run "$scratch/harness_${seeds%% *}" --rate "airbench94=$rate"
    "$py" bench/speed/page_cache.py --device cuda --sizes 32 --rounds 5
    "$py" bench/speed/variants.py --recipe recipes/cifar10.toml --fraction 1.0 --epochs "$epochs" --rounds 2 \
        --variant map="data.array_on_device='no'" --variant on_device="data.array_on_device='auto'" \
        --common "data.root='$photos'" --work "$scratch/variants"
    ;;
*)
    echo "gpu.sh: unknown benchmark '$mode' (resnet50 or cifar10)" >&2
    exit 2
    ;;
esac
