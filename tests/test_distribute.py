"""Data-parallel training on 2 logical CPU devices matches one device.

Each run is a subprocess: the device count is fixed when the backend starts.
SGD (not Adam) makes a wrong gradient scale visible: Adam would hide a factor
of 2 by normalising the step. No BatchNorm, and identical noise rows, so that
splitting the batch over replicas changes nothing but the arithmetic's order.
"""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # subprocesses with several logical devices

SCRIPT = r"""
import json, os, sys
replicas = int(sys.argv[1])
backend = os.environ["KERAS_BACKEND"]
if backend == "tensorflow" and replicas > 1:
    import tensorflow as tf
    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * replicas)
import numpy as np
import dcgan_keras, keras
from keras import ops
from dcgan_keras.data import load_images
from dcgan_keras.distribute import data_parallel

z_row = np.random.default_rng(0).standard_normal((1, 8)).astype("float32")

class SameNoise(dcgan_keras.DCGAN):
    def sample_latent(self, batch_size):
        return ops.tile(ops.convert_to_tensor(z_row), (batch_size, 1))

scope, found = data_parallel() if replicas > 1 else (__import__("contextlib").nullcontext(), 1)
assert found == replicas, found
with scope:
    generator = dcgan_keras.build_generator(8, (28, 28, 1), width=4, seed=0, batch_norm=False)
    discriminator = dcgan_keras.build_discriminator((28, 28, 1), width=4, seed=1, batch_norm=False)
    gan = SameNoise(generator, discriminator, seed=0)
    gan.compile(d_optimizer=keras.optimizers.SGD(0.1), g_optimizer=keras.optimizers.SGD(0.1))
history = gan.fit(load_images()[:96], batch_size=32, epochs=1, shuffle=False, verbose=0).history
weights = [np.asarray(w).ravel() for w in gan.generator.get_weights() + gan.discriminator.get_weights()]
print(json.dumps({"history": {k: v[-1] for k, v in history.items()}, "weights": np.concatenate(weights).tolist()}))
"""


def _train(backend, replicas):
    env = {**os.environ, "KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": ""}
    if backend == "jax":
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={replicas}"
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(replicas)], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("backend", [b for b in ("tensorflow", "jax") if importlib.util.find_spec(b)])
def test_two_replicas_match_one_device(backend):
    single, double = _train(backend, 1), _train(backend, 2)
    for key, value in single["history"].items():
        assert double["history"][key] == pytest.approx(value, rel=1e-4, abs=1e-5), key
    np.testing.assert_allclose(double["weights"], single["weights"], atol=1e-5)


def test_global_batch_must_split_evenly():
    from dcgan_keras.distribute import check_global_batch

    check_global_batch(64, 2)
    with pytest.raises(ValueError, match="multiple of 3"):
        check_global_batch(64, 3)


CLI_SCRIPT = r"""
import sys
import tensorflow as tf
cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)
from dcgan_keras.cli import main
main(sys.argv[1:])
"""


def test_cli_distribute_on_two_logical_devices(tmp_path):
    args = ["train", "--distribute", "--epochs", "1", "--width", "4", "--latent-dim", "8",
            "--batch-size", "500", "--verbose", "0", "--output", str(tmp_path)]  # fmt: skip
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run([sys.executable, "-c", CLI_SCRIPT, *args], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 replicas: 250 images each" in result.stdout
    assert (tmp_path / "generator.keras").is_file()
