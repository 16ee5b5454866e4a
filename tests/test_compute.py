"""Backend-neutral helpers: gradients against closed forms, predictions that change nothing.

Backend-portable: tests/test_backends.py reruns this file on JAX and PyTorch.
"""

import keras
import numpy as np
import pytest
from keras import layers, ops

from dcgan_keras import build_discriminator, build_generator
from dcgan_keras.compute import gradients, predict, stateless_outputs, weight_gradients


def _state(model):
    return [ops.convert_to_numpy(variable) for variable in model.non_trainable_variables]


def test_gradients_match_closed_forms_and_keep_the_structure():
    x = np.linspace(-1, 1, 6).reshape(2, 3).astype("float32")
    np.testing.assert_allclose(gradients(lambda t: ops.sum(t**2), x), 2 * x, rtol=1e-6)
    a, b = np.float32(3.0), [np.ones(2, "float32"), np.full(2, 2.0, "float32")]
    grad_a, (grad_b0, grad_b1) = gradients(lambda s, pair: s * ops.sum(pair[0] * pair[1]), a, b)
    assert float(grad_a) == pytest.approx(4.0)
    np.testing.assert_allclose(grad_b0, [6.0, 6.0])
    np.testing.assert_allclose(grad_b1, [3.0, 3.0])
    unused, used = gradients(lambda u, v: ops.sum(v), np.ones(3, "float32"), np.ones(2, "float32"))
    np.testing.assert_array_equal(unused, np.zeros(3))  # an argument the function ignores: zeros, not None
    np.testing.assert_array_equal(used, np.ones(2))


def test_input_gradients_of_a_linear_model_are_its_weights():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, layers.Dense(1, use_bias=False)(inputs))
    kernel = ops.convert_to_numpy(model.layers[-1].kernel)[:, 0]
    x = np.random.default_rng(0).standard_normal((5, 4)).astype("float32")
    np.testing.assert_allclose(gradients(lambda t: ops.sum(model(t)), x), np.tile(kernel, (5, 1)), rtol=1e-6)


def test_weight_gradients_match_finite_differences():
    generator = build_generator(4, (8, 8, 1), width=2, seed=0)
    z = np.random.default_rng(1).standard_normal((6, 4)).astype("float32")
    direction = np.random.default_rng(2).standard_normal((1, 8, 8, 1)).astype("float32")

    def loss(images):
        return ops.mean(ops.sum(ops.multiply(images, direction), axis=(1, 2, 3)))

    grads = weight_gradients(generator, loss, z, training=True)
    kernel = generator.get_layer("to_image").kernel
    assert set(grads) == {variable.path for variable in generator.trainable_variables}
    values = [ops.convert_to_numpy(variable) for variable in generator.trainable_variables]
    position = [variable.path for variable in generator.trainable_variables].index(kernel.path)
    flat_index, eps = 7, 1e-2

    def loss_at(step):
        shifted = [value.copy() for value in values]
        shifted[position].reshape(-1)[flat_index] += step
        outputs, _ = generator.stateless_call(shifted, [v.value for v in generator.non_trainable_variables], z,
                                              training=True)  # fmt: skip
        return float(ops.convert_to_numpy(loss(outputs)))

    numeric = (loss_at(eps) - loss_at(-eps)) / (2 * eps)
    assert grads[kernel.path].reshape(-1)[flat_index] == pytest.approx(numeric, rel=2e-2, abs=1e-5)


def test_nothing_changes_batch_norm_statistics():
    discriminator = build_discriminator((16, 16, 1), width=2, seed=0)
    images = np.random.default_rng(3).uniform(-1, 1, (6, 16, 16, 1)).astype("float32")
    before = _state(discriminator)
    predict(discriminator, images, training=True)
    stateless_outputs(discriminator, images, training=True)
    gradients(lambda x: ops.sum(discriminator(x, training=True)), images)
    weight_gradients(discriminator, ops.sum, images, training=True)
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
