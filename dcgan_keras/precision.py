"""The training precision ``train`` uses unless told: bf16 where it was measured to pay.

On a CPU with native bf16 arithmetic (AVX512_BF16 or AMX), TensorFlow's oneDNN
kernels train the MNIST layout 1.2x to 1.7x faster under ``mixed_bfloat16``
than in float32 (the 2-core machine varies from run to run), and the default
run's FID at equal epochs did not get worse over 3 seeds (README, "Measured";
benchmarks/default_run.py). The emoji run's quality in bf16 is not measured
yet. Everywhere else (other CPUs, other backends, GPUs, whose sample
quality under bf16 this project has not measured) the default stays float32.
``train --precision`` forces either.
"""

import keras

from dcgan_keras.devices import cpuinfo_field, device_kind

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
CHOICES = ("auto", *PRECISIONS)
# /proc/cpuinfo flags of CPUs that multiply bf16 in hardware.
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def native_bf16(cpuinfo="/proc/cpuinfo"):
    """Whether this CPU computes bf16 natively (Linux; False where it cannot tell)."""
    flags = (cpuinfo_field("flags", cpuinfo) or "").split()
    return any(flag in flags for flag in NATIVE_BF16_FLAGS)


def default_precision():
    """"mixed_bfloat16" for TensorFlow on a CPU with native bf16, else "float32"."""
    if keras.backend.backend() == "tensorflow" and device_kind() == "cpu" and native_bf16():
        return "mixed_bfloat16"
    return "float32"


def resolve(name="auto"):
    return default_precision() if name == "auto" else name
