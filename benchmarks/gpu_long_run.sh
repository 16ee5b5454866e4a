#!/usr/bin/env bash
# Does sample quality keep improving with training? The default MNIST run
# (`python -m dcgan_keras train`) for EPOCHS epochs on the GPU, scored every
# EVERY epochs; quality.json and history.csv hold the curve (README, notebook 05).
#   usage (on the GPU machine, repo root): bash benchmarks/gpu_long_run.sh [EPOCHS] [EVERY]
set -uo pipefail
source "$(dirname "$0")/gpu_setup.sh"
python3 -m dcgan_keras train --epochs "${1:-100}" --eval-every "${2:-5}" --verbose 2 \
  --output "$OUT/long_run" 2>&1 | tail -n 60 | tee "$OUT/long_run.txt"
# The GIF keeps the frames; the full DCGAN (with both optimizers) is not needed here.
rm -rf "$OUT/long_run/samples" "$OUT/long_run/dcgan.keras" "$OUT/long_run/backup"
