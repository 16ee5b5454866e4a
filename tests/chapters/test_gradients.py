"""Gradients on any backend (the notebooks' probes): closed forms, finite differences, no side effects.

Backend-portable: tests/test_backends.py reruns this file on JAX and PyTorch.
"""

import keras
import numpy as np
import pytest
from keras import layers, ops

from dcgan_keras.chapters.gradients import gradients, weight_gradients
from dcgan_keras.models import build_discriminator, build_generator


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
    generator = build_generator((8, 8, 1), 4, width=2, seed=0)
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
                                              training=True)
        return float(ops.convert_to_numpy(loss(outputs)))

    numeric = (loss_at(eps) - loss_at(-eps)) / (2 * eps)
    assert grads[kernel.path].reshape(-1)[flat_index] == pytest.approx(numeric, rel=2e-2, abs=1e-5)


def test_gradients_change_no_batch_norm_statistics():
    discriminator = build_discriminator((16, 16, 1), width=2, seed=0)
    images = np.random.default_rng(3).uniform(-1, 1, (6, 16, 16, 1)).astype("float32")
    before = [ops.convert_to_numpy(variable) for variable in discriminator.non_trainable_variables]
    gradients(lambda x: ops.sum(discriminator(x, training=True)), images)
    weight_gradients(discriminator, ops.sum, images, training=True)
    for ours, theirs in zip([ops.convert_to_numpy(v) for v in discriminator.non_trainable_variables], before):
        np.testing.assert_array_equal(ours, theirs)
