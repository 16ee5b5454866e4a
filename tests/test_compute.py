"""Backend-neutral prediction: outputs that change nothing, in chunks or as one batch.

Backend-portable: tests/test_backends.py reruns this file on JAX and PyTorch.
"""

import keras
import numpy as np
from keras import layers, ops

from dcgan_keras import build_discriminator
from dcgan_keras.compute import predict, stateless_outputs


def _state(model):
    return [ops.convert_to_numpy(variable) for variable in model.non_trainable_variables]


def test_nothing_changes_batch_norm_statistics():
    discriminator = build_discriminator((16, 16, 1), width=2, seed=0)
    images = np.random.default_rng(3).uniform(-1, 1, (6, 16, 16, 1)).astype("float32")
    before = _state(discriminator)
    predict(discriminator, images, training=True)
    stateless_outputs(discriminator, images, training=True)
    for ours, theirs in zip(_state(discriminator), before):
        np.testing.assert_array_equal(ours, theirs)


def test_predict_in_chunks_equals_one_call_and_training_mode_uses_the_whole_batch():
    discriminator = build_discriminator((16, 16, 1), width=2, seed=0)  # its second stage has BatchNorm
    images = np.random.default_rng(4).uniform(-1, 1, (7, 16, 16, 1)).astype("float32")
    whole = ops.convert_to_numpy(discriminator(images, training=False))
    np.testing.assert_allclose(predict(discriminator, images, batch_size=3), whole, rtol=1e-5, atol=1e-6)
    trained_mode = ops.convert_to_numpy(stateless_outputs(discriminator, images, training=True))
    np.testing.assert_allclose(predict(discriminator, images, batch_size=3, training=True), trained_mode, rtol=1e-5)
    halves = predict(discriminator, images[:4], training=True)
    assert not np.allclose(halves, trained_mode[:4])  # BatchNorm saw another batch
    assert predict(discriminator, images, transform=lambda chunk: -chunk).shape == (7, 1)


def test_predict_returns_one_array_per_output():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, [layers.Dense(2)(inputs), layers.Dense(1)(inputs)])
    first, second = predict(model, np.ones((5, 3), "float32"), batch_size=2)
    assert first.shape == (5, 2) and second.shape == (5, 1) and first.dtype == np.float32
