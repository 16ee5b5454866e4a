#!/usr/bin/env bash
# The CPU measurement behind the README's CPU tables and formulation.py's CPU rows: the MNIST
# layout at the default run's batch, every formulation, on each Keras backend in turn, with the
# PyTorch variants and fit() once (under TensorFlow, the default backend).
#   usage (repo root, virtual environment active, nothing else running): bash benchmarks/cpu.sh
set -euo pipefail
common=(--layouts mnist --batches 64 --precisions float32,mixed_bfloat16 --seconds 4)
KERAS_BACKEND=tensorflow python benchmarks/throughput.py "${common[@]}" \
  --impls keras,keras-subpixel,keras-fast,torch-all,fit 2>&1 | grep -v "^[IW]0000" | tee benchmarks/results_cpu_tensorflow.txt
for backend in jax torch; do
  KERAS_BACKEND=$backend python benchmarks/throughput.py "${common[@]}" \
    --impls keras,keras-subpixel,keras-fast 2>&1 | grep -v "^[IW]0000" | tee "benchmarks/results_cpu_$backend.txt"
done
