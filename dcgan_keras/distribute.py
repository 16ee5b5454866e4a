"""Data-parallel training on every local accelerator (or on logical CPU devices).

    scope, replicas = dcgan_keras.distribute.data_parallel()
    with scope:
        gan = DCGAN.from_shape(...)
        gan.compile()
    gan.fit(make_dataset(images, batch_size=64 * replicas))   # the GLOBAL batch

- TensorFlow: ``tf.distribute.MirroredStrategy``. Each replica gets
  global_batch / replicas images, computes its losses as means over them, and
  the optimizers SUM the replicas' gradients; ``DCGAN`` therefore divides the
  loss it differentiates by the number of replicas (the logged losses stay
  unscaled). BatchNorm normalises over each replica's share of the batch.
- JAX: ``keras.distribution.DataParallel``. The step is one program over the
  global batch sharded across devices, so the losses, gradients and BatchNorm
  statistics are those of the whole batch: nothing to rescale.

Beyond one machine (tests/test_distribute.py runs both on localhost):

- TensorFlow: set ``TF_CONFIG`` on every worker; ``data_parallel()`` then
  builds one ``tf.distribute.MultiWorkerMirroredStrategy`` for the process.
  Create it first, before other TensorFlow work (``train --distribute`` does).
  Every worker feeds the same global stream; the strategy gives each its share.
- JAX: call ``jax.distributed.initialize(...)`` in every process first;
  ``data_parallel()`` then spans all processes' devices, and each process
  feeds its own slice of every global batch (``process_slice``).
"""

import contextlib
import functools
import json
import os

import keras

from dcgan_keras.errors import UsageError


def workers_in_tf_config(environ=None):
    """How many workers ``TF_CONFIG`` lists (0 when it is not set)."""
    text = (os.environ if environ is None else environ).get("TF_CONFIG", "")
    try:
        config = json.loads(text) if text else {}
        return len(config.get("cluster", {}).get("worker", []))
    except (ValueError, AttributeError, TypeError) as error:
        raise UsageError(f"TF_CONFIG is not the JSON TensorFlow expects ({error}): "
                         f'set it to {{"cluster": {{"worker": ["host:port", ...]}}, '
                         f'"task": {{"type": "worker", "index": i}}}}.')


@functools.cache
def _multi_worker_strategy():
    # One per process: TensorFlow's collectives are set up once and cannot be rebuilt.
    import tensorflow as tf

    return tf.distribute.MultiWorkerMirroredStrategy()


def data_parallel(devices=None):
    """``(scope, replicas)``: build and compile the DCGAN inside ``scope``.

    ``devices`` defaults to every GPU (or every CPU device when there is no
    GPU), on every machine of a multi-worker or multi-process job. Batch your
    data with the global batch size, a multiple of ``replicas``.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        multi_worker = devices is None and workers_in_tf_config() > 1
        strategy = _multi_worker_strategy() if multi_worker else tf.distribute.MirroredStrategy(devices)
        return strategy.scope(), strategy.num_replicas_in_sync
    if backend == "jax":
        import jax

        devices = devices or jax.devices()
        # Several processes: each feeds its own slice (process_slice), so Keras must not shard again.
        distribution = keras.distribution.DataParallel(devices=devices, auto_shard_dataset=jax.process_count() == 1)
        keras.distribution.set_distribution(distribution)
        return contextlib.nullcontext(), len(devices)
    raise UsageError(
        f"data_parallel() supports the tensorflow and jax backends, not {backend!r}. "
        f"With PyTorch, run one process per GPU (torchrun) or use another backend."
    )


def process_slice(batch_size):
    """The rows of each global batch this process feeds: all of them, except in a multi-process JAX job."""
    if keras.backend.backend() != "jax":
        return slice(0, batch_size)
    import jax

    check_global_batch(batch_size, jax.process_count())
    share = batch_size // jax.process_count()
    return slice(jax.process_index() * share, (jax.process_index() + 1) * share)


def check_global_batch(batch_size, replicas):
    if batch_size % replicas:
        raise UsageError(
            f"--batch-size {batch_size} is the global batch and must split evenly over "
            f"{replicas} replicas; use a multiple of {replicas}."
        )
