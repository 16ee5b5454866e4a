#!/usr/bin/env bash
# The GPU measurement behind the README's performance table.
#   usage (on the GPU machine, repo root): bash benchmarks/gpu.sh [extra throughput.py args]
set -uo pipefail
source "$(dirname "$0")/gpu_setup.sh"
python3 benchmarks/throughput.py --layouts paper,torchref --batches 128,512 \
  --precisions float32,mixed_bfloat16 --large-batch-precisions mixed_bfloat16 \
  --impls keras,keras-subpixel,torch --seconds 2 "$@" 2>&1 | tee "$OUT/gpu_throughput.txt"
