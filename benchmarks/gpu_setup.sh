# Sourced by the GPU scripts. The GPU machine has JAX and PyTorch but no
# TensorFlow, so the package runs on Keras' JAX backend there; Keras itself
# travels as wheels in .whl/ (see README).
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH="/tmp/site:$PWD" KERAS_BACKEND=jax PYTHONUNBUFFERED=1
# JAX would otherwise reserve 75% of the GPU up front and starve the PyTorch loop.
export XLA_PYTHON_CLIENT_PREALLOCATE=false
OUT="${OUT:-/tmp}"
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu_device.txt"
