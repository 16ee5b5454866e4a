"""Data-parallel training on 2 logical CPU devices matches one device.

Each run is a subprocess: the device count is fixed when the backend starts.
SGD (not Adam) makes a wrong gradient scale visible: Adam would hide a factor
of 2 by normalising the step. No BatchNorm, and identical noise rows, so that
splitting the batch over replicas changes nothing but the arithmetic's order.
"""

import importlib.util
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # subprocesses with several logical devices

SCRIPT = r"""
import json, os, sys
replicas, mode = int(sys.argv[1]), sys.argv[2]  # mode: "devices" (one process) or "workers" (one per replica)
backend = os.environ["KERAS_BACKEND"]
if backend == "jax" and mode == "workers":
    import jax
    jax.distributed.initialize(os.environ["JAX_COORDINATOR"], replicas, int(os.environ["JAX_PROCESS"]))
if backend == "tensorflow" and replicas > 1 and mode == "devices":
    import tensorflow as tf
    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * replicas)
import numpy as np
import dcgan_keras, keras
from keras import ops
from dcgan_keras.data import load_images
from dcgan_keras.distribute import data_parallel, process_slice

z_row = np.random.default_rng(0).standard_normal((1, 8)).astype("float32")

class SameNoise(dcgan_keras.DCGAN):
    def sample_latent(self, batch_size):
        return ops.tile(ops.convert_to_tensor(z_row), (batch_size, 1))

scope, found = data_parallel() if replicas > 1 else (__import__("contextlib").nullcontext(), 1)
assert found == replicas, found
with scope:
    generator = dcgan_keras.build_generator((28, 28, 1), 8, width=4, seed=0, batch_norm=False)
    discriminator = dcgan_keras.build_discriminator((28, 28, 1), width=4, seed=1, batch_norm=False)
    gan = SameNoise(generator, discriminator, seed=0)
    gan.compile(d_optimizer=keras.optimizers.SGD(0.1), g_optimizer=keras.optimizers.SGD(0.1))
# Each process feeds its own rows of every global batch of 32 (all of them when it is the only one).
rows = process_slice(32)
images = load_images()[:96].reshape(3, 32, 28, 28, 1)[:, rows].reshape(-1, 28, 28, 1)
history = gan.fit(images, batch_size=rows.stop - rows.start, epochs=1, shuffle=False, verbose=0).history
weights = [np.asarray(w).ravel() for w in gan.generator.get_weights() + gan.discriminator.get_weights()]
print(json.dumps({"history": {k: v[-1] for k, v in history.items()}, "weights": np.concatenate(weights).tolist()}))
"""


def _environment(backend):
    """A subprocess's environment: this backend, CPUs only."""
    return {**os.environ, "KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": ""}


def _train(backend, replicas):
    env = _environment(backend)
    if backend == "jax":
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={replicas}"
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(replicas), "devices"], capture_output=True, text=True,
                            env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("localhost", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def _worker_environments(backend, workers):
    """One environment per process: TF_CONFIG for TensorFlow, a coordinator address for JAX."""
    base = _environment(backend)
    ports = _free_ports(workers)
    cluster = {"worker": [f"localhost:{port}" for port in ports]}
    if backend == "tensorflow":
        return [{**base, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})}
                for i in range(workers)]
    return [{**base, "JAX_COORDINATOR": f"localhost:{ports[0]}", "JAX_PROCESS": str(i)} for i in range(workers)]


def _run_together(commands, environments, folder, timeout=300):
    """Start the processes at once and wait for all; output goes to files (pipes could fill and block)."""
    processes, logs = [], []
    for index, (command, env) in enumerate(zip(commands, environments)):
        log = open(folder / f"worker{index}.log", "w+")
        logs.append(log)
        processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True, env=env))
    try:
        codes = [process.wait(timeout=timeout) for process in processes]
    finally:
        for process in processes:
            process.kill()
    outputs = []
    for log in logs:
        log.seek(0)
        outputs.append(log.read())
        log.close()
    for code, output in zip(codes, outputs):
        assert code == 0, output[-3000:]
    return outputs


@pytest.mark.long  # two processes per backend: with the longer suites
@pytest.mark.parametrize("backend", [b for b in ("tensorflow", "jax") if importlib.util.find_spec(b)])
def test_two_worker_processes_match_one_process(backend, tmp_path):
    """TF_CONFIG + MultiWorkerMirroredStrategy, or jax.distributed: two processes on localhost."""
    single = _train(backend, 1)
    environments = _worker_environments(backend, 2)
    outputs = _run_together([[sys.executable, "-c", SCRIPT, "2", "workers"]] * 2, environments, tmp_path)
    for output in outputs:
        worker = json.loads(output.strip().splitlines()[-1])
        for key, value in single["history"].items():
            assert worker["history"][key] == pytest.approx(value, rel=1e-4, abs=1e-5), key
        np.testing.assert_allclose(worker["weights"], single["weights"], atol=1e-5)


@pytest.mark.long
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


@pytest.mark.long
def test_cli_distribute_on_two_logical_devices(tmp_path):
    args = ["train", "--distribute", "--epochs", "1", "--width", "4", "--latent-dim", "8",
            "--batch-size", "500", "--verbose", "0", "--output", str(tmp_path)]
    env = _environment("tensorflow")
    result = subprocess.run([sys.executable, "-c", CLI_SCRIPT, *args], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 replicas: 250 images each" in result.stdout
    assert (tmp_path / "generator.keras").is_file()


@pytest.mark.long
def test_cli_trains_on_two_tensorflow_workers(tmp_path):
    """The README's commands: one `train --distribute` per worker, each with its TF_CONFIG and --output."""
    environments = _worker_environments("tensorflow", 2)
    commands = [[sys.executable, "-m", "dcgan_keras", "train", "--distribute", "--epochs", "1", "--width", "4",
                 "--latent-dim", "8", "--batch-size", "500", "--verbose", "0", "--eval-every", "0",
                 "--output", str(tmp_path / f"worker{index}")] for index in range(2)]
    outputs = _run_together(commands, environments, tmp_path)
    assert all("2 replicas: 250 images each" in output for output in outputs)
    import keras

    first, second = (keras.models.load_model(tmp_path / f"worker{i}" / "generator.keras") for i in range(2))
    for ours, theirs in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(ours, theirs)  # one model, trained together, saved by both


def test_tf_config_is_read_or_rejected_in_one_line():
    from dcgan_keras.distribute import workers_in_tf_config
    from dcgan_keras.errors import UsageError

    config = {"cluster": {"worker": ["a:1", "b:2", "c:3"]}, "task": {"type": "worker", "index": 0}}
    assert workers_in_tf_config({"TF_CONFIG": json.dumps(config)}) == 3
    assert workers_in_tf_config({}) == 0
    with pytest.raises(UsageError, match="TF_CONFIG is not the JSON"):
        workers_in_tf_config({"TF_CONFIG": "{cluster: a:1}"})
