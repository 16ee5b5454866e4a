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

Beyond one machine: with TensorFlow, ``tf.distribute.MultiWorkerMirroredStrategy``
and a ``TF_CONFIG`` on every worker (README, "More than one machine"); with
JAX, ``jax.distributed.initialize()`` on every process before
``data_parallel()``, which then spans all processes' devices.
"""

import contextlib

import keras

from dcgan_keras.errors import UsageError


def data_parallel(devices=None):
    """``(scope, replicas)``: build and compile the DCGAN inside ``scope``.

    ``devices`` defaults to every GPU (or every CPU device when there is no
    GPU). Batch your data with the global batch size, a multiple of ``replicas``.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy(devices)
        return strategy.scope(), strategy.num_replicas_in_sync
    if backend == "jax":
        import jax

        devices = devices or jax.devices()
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        return contextlib.nullcontext(), len(devices)
    raise UsageError(
        f"data_parallel() supports the tensorflow and jax backends, not {backend!r}. "
        f"With PyTorch, run one process per GPU (torchrun) or use another backend."
    )


def check_global_batch(batch_size, replicas):
    if batch_size % replicas:
        raise UsageError(
            f"--batch-size {batch_size} is the global batch and must split evenly over "
            f"{replicas} replicas; use a multiple of {replicas}."
        )
