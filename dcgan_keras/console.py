"""Keep TensorFlow's C++ start-up chatter out of the user's console.

On import, TensorFlow prints lines from C++ that a user can do nothing about:
oneDNN notices, CPU-feature hints, and, for the CUDA build on a machine with no
GPU, a failed ``cuInit``. They go straight to file descriptor 2, before and
regardless of ``TF_CPP_MIN_LOG_LEVEL``, so Python's warning filters cannot
catch them. We import TensorFlow once with descriptor 2 captured, then replay
every captured line that is not known noise.
"""

import contextlib
import json
import os
import sys
import tempfile

NOISE = (
    "All log messages before absl::InitializeLog()",
    "oneDNN custom operations are on",
    "cpu_feature_guard",
    "To enable the following instructions",
    "failed call to cuInit",
    "Unable to register cu",
    "computation placer already registered",
    "could not open file to read NUMA node",
    "TF-TRT Warning",
)


def _configured_backend():
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    keras_home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    try:
        with open(os.path.join(keras_home, "keras.json")) as handle:
            return json.load(handle).get("backend", "tensorflow")
    except (OSError, ValueError):
        return "tensorflow"


@contextlib.contextmanager
def filtered_stderr(noise=NOISE):
    """Capture file descriptor 2 and replay what it got, minus ``noise`` lines."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode(errors="replace")
            kept = [line for line in text.splitlines() if not any(n in line for n in noise)]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")


def import_tensorflow_quietly():
    """Import TensorFlow (when it is Keras' backend) without its start-up noise."""
    if _configured_backend() != "tensorflow" or "tensorflow" in sys.modules:
        return
    with filtered_stderr():
        try:
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")  # where cuInit runs, and fails without a GPU
        except ImportError:
            pass  # Keras will raise its own, clearer error
