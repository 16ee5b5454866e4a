#!/usr/bin/env bash
# The GPU measurement behind the README's performance table. Not yet run with torch-all: its
# max-autotune cells compile for minutes each, so split it (--layouts paper, then torchref) if one
# call would pass the 10-minute limit.
#   usage (on the GPU machine, repo root): bash benchmarks/gpu.sh [extra throughput.py args]
set -uo pipefail
source "$(dirname "$0")/gpu_setup.sh"
python3 benchmarks/throughput.py --layouts paper,torchref --batches 128,512 \
  --precisions float32,mixed_bfloat16 --large-batch-precisions mixed_bfloat16 \
  --impls keras,keras-subpixel,keras-fast,keras-auto,torch-all --seconds 2 "$@" 2>&1 | tee "$OUT/gpu_throughput.txt"
# Where the default path's time goes on the paper layout at batch 512 (bf16).
python3 benchmarks/profile_step.py --layout paper --batch 512 --precision mixed_bfloat16 --impl keras-auto \
  --out /tmp/dcgan_profile 2>&1 | tee "$OUT/gpu_profile.txt"
