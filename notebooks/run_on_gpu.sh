#!/usr/bin/env bash
# Execute chapter notebooks on the GPU machine (JAX backend, full mode) and bring them back cleaned.
#
# The GPU machine has JAX and PyTorch but no TensorFlow, Keras or Jupyter, and no internet. So:
#   1. here, once:            bash notebooks/run_on_gpu.sh fetch
#      downloads Keras and a notebook runner (nbclient, ipykernel and their dependencies) as
#      wheels into .whl/ (git-ignored; name it in the device tool's carry);
#   2. on the GPU machine:    bash notebooks/run_on_gpu.sh [--fast] NOTEBOOK...
#      installs them into /tmp/site and runs each notebook in a fresh kernel, in full mode
#      (--fast: DCGAN_FAST=1, for a test on a CPU), writing $OUT/notebooks/NAME.ipynb, executed
#      and cleaned, and its time to $OUT/notebooks/times.txt. Copy them over notebooks/ to commit.
# A call may run 10 minutes: split the notebooks across calls. Trained runs go to
# $DCGAN_KERAS_CACHE (default /tmp/dcgan_cache), so a later call in the same session reuses them.
#   PY=3.11 bash notebooks/run_on_gpu.sh fetch   # wheels for another Python (a CPU test)
set -uo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == fetch ]]; then
  PY="${PY:-3.12}"
  platforms=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64
             --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
  keras=$(sed -n 's/^keras==//p' requirements.txt)
  grep -qx '/.whl/' .git/info/exclude 2>/dev/null || grep -qx '/.whl/' .gitignore || echo /.whl/ >> .git/info/exclude
  # Keras as benchmarks/gpu_setup.sh installs it (no dependencies: the GPU machine has numpy, h5py...).
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$PY" --implementation cp \
    "${platforms[@]}" -d .whl "keras==$keras" namex optree || exit 1
  # The notebook runner with everything it needs.
  python3 -m pip download -q --only-binary=:all: --python-version "$PY" --implementation cp \
    "${platforms[@]}" -d .whl/notebooks nbclient ipykernel || exit 1
  du -sh .whl
  exit 0
fi

fast=(--full)
if [[ "${1:-}" == --fast ]]; then fast=(); shift; fi
(( $# )) || { echo "usage: bash notebooks/run_on_gpu.sh [--fast] NOTEBOOK... (or: fetch)" >&2; exit 2; }
ls .whl/*.whl .whl/notebooks/*.whl > /dev/null 2>&1 || { echo "no wheels in .whl/: run 'bash notebooks/run_on_gpu.sh fetch' first, and carry .whl" >&2; exit 2; }
source benchmarks/gpu_setup.sh
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/notebooks/*.whl || exit 1
export DCGAN_KERAS_CACHE="${DCGAN_KERAS_CACHE:-/tmp/dcgan_cache}" MPLBACKEND=agg
mkdir -p "$OUT/notebooks"
python3 -m dcgan_keras.chapters.notebook execute --backend jax "${fast[@]}" --out "$OUT/notebooks" "$@" \
  2>&1 | tee -a "$OUT/notebooks/times.txt"
