"""What the current Keras backend computes on, in words a reader or a table can use.

``device_kind`` drives choices (``formulation.resolve``, ``precision.default_precision``);
``describe`` is the line every notebook prints first, and ``device_name`` fills the
benchmarks' device column, so a committed output says which machine and backend made it.
TensorFlow, JAX and PyTorch are each imported only when they are the backend.
"""

import os

import keras


def device_kind():
    """"gpu", "tpu" or "cpu": where the current Keras backend runs its computations."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.devices()[0].platform
    if backend == "tensorflow":
        import tensorflow as tf

        # Physical, not logical, devices: listing those would start TensorFlow's runtime, after
        # which a MultiWorkerMirroredStrategy can no longer be created.
        return "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    if backend == "torch":
        import torch

        return "gpu" if torch.cuda.is_available() else "cpu"
    return "cpu"


def cpuinfo_field(name, cpuinfo="/proc/cpuinfo"):
    """The first ``name : value`` of /proc/cpuinfo, as a string; None where it cannot tell (not Linux)."""
    try:
        with open(cpuinfo) as file:
            return next((line.split(":", 1)[1].strip() for line in file if line.startswith(name)), None)
    except OSError:
        return None


def cpu_model(cpuinfo="/proc/cpuinfo"):
    """The CPU's model name (Linux), or "CPU" where it cannot tell."""
    return cpuinfo_field("model name", cpuinfo) or "CPU"


def device_name():
    """The accelerator's name (e.g. "NVIDIA H200"), or the CPU's model on a CPU."""
    if device_kind() == "cpu":
        return cpu_model()
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return str(jax.devices()[0].device_kind)
    if backend == "torch":
        import torch

        return torch.cuda.get_device_name()
    import tensorflow as tf

    details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
    return details.get("device_name", "GPU")


def describe():
    """One line: Keras version, backend and device, e.g. for the first cell of a notebook."""
    kind = device_kind()
    where = f"{device_name()} ({os.cpu_count()} cores)" if kind == "cpu" else f"{kind.upper()}: {device_name()}"
    return f"Keras {keras.__version__}, {keras.backend.backend()} backend, on {where}"
