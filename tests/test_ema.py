"""The averaged generator (``DCGAN(..., ema=DECAY)``) against a numpy replay of its update rule.

Backend-portable: tests/test_backends.py reruns this file on JAX and PyTorch, where the average is
updated inside each backend's own step.
"""

import keras
import numpy as np
import pytest

import dcgan_keras
from dcgan_keras.chapters.training_diagnostics import state_difference
from dcgan_keras.errors import UsageError
from dcgan_keras.resume import restore_state, save_state


def _gan(ema, seed=0):
    gan = dcgan_keras.DCGAN.from_shape((28, 28, 1), latent_dim=16, width=8, seed=seed, ema=ema)
    gan.compile()
    return gan


def _one_step_at_a_time(gan, images, steps):
    """G's weights after each step (fit() syncs every backend's state when it returns)."""
    after = []
    for step in range(steps):
        gan.fit(images[16 * step: 16 * (step + 1)], batch_size=16, epochs=1, shuffle=False, verbose=0)
        after.append([np.asarray(w) for w in gan.generator.get_weights()])
    return after


def test_the_average_follows_the_update_rule_with_its_warm_up(mnist_images):
    decay, steps = 0.2, 4  # the warm-up's (1 + n) / (10 + n) passes 0.2 at the third update: both branches
    gan = _gan(decay)
    start = [np.asarray(w) for w in gan.generator.get_weights()]
    np.testing.assert_array_equal(gan.averaged_generator.get_weights()[0], start[0])  # the average starts at G
    after = _one_step_at_a_time(gan, mnist_images, steps)

    expected = start
    trainable = [w.trainable for w in gan.generator.weights]
    for n, weights in enumerate(after):
        d = min(decay, (1 + n) / (10 + n))  # tf.train.ExponentialMovingAverage's num_updates warm-up
        expected = [d * a + (1 - d) * w if moves else w for a, w, moves in zip(expected, weights, trainable)]
    averaged = gan.averaged_generator.get_weights()
    assert float(keras.ops.convert_to_numpy(gan.ema_updates)) == steps
    for got, want, moves in zip(averaged, expected, trainable):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # BatchNorm's statistics are G's own (copied), and the kernels really differ from G's.
    assert not all(moves for moves in trainable)
    assert any(np.abs(a - w).max() > 2e-5 for a, w, moves in zip(averaged, after[-1], trainable) if moves)


def test_sampling_uses_the_average_and_training_is_unchanged(mnist_images):
    plain, averaged = _gan(None), _gan(0.9)
    for gan in (plain, averaged):
        gan.fit(mnist_images[:64], batch_size=16, epochs=1, shuffle=False, verbose=0)
    # The average rides along: G, D and both optimizers trained exactly as without it.
    for a, b in zip(plain.generator.get_weights() + plain.discriminator.get_weights(),
                    averaged.generator.get_weights() + averaged.discriminator.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert averaged.inference_generator is averaged.averaged_generator
    assert plain.inference_generator is plain.generator
    # Two sets of G's weights, each variable under its own path (Keras' state tree and PyTorch key by path).
    assert len({v.path for v in averaged.variables}) == len(averaged.variables)
    assert averaged.get_state_tree() is not None
    # Saved on its own, the average is a generator like any other: trainable, and the DCGAN's copy stays frozen.
    shipped = averaged.shippable_generator()
    assert len(shipped.trainable_weights) == len(averaged.generator.trainable_weights) > 0
    assert averaged.averaged_generator.trainable_weights == []
    for a, b in zip(shipped.get_weights(), averaged.averaged_generator.get_weights()):
        np.testing.assert_array_equal(a, b)
    z = np.random.default_rng(0).standard_normal((4, 16)).astype("float32")
    np.testing.assert_allclose(averaged.generate(z=z), averaged.averaged_generator.predict(z, verbose=0), atol=1e-6)
    assert np.abs(averaged.generate(z=z) - plain.generate(z=z)).max() > 1e-5  # outputs are ~1e-3 this early


def test_the_average_is_saved_and_resumed_bit_for_bit(tmp_path, mnist_images):
    straight = _gan(0.9)
    straight.fit(mnist_images[:64], batch_size=16, epochs=2, shuffle=False, verbose=0)

    first = _gan(0.9)
    first.fit(mnist_images[:64], batch_size=16, epochs=1, shuffle=False, verbose=0)
    save_state(first, tmp_path, global_step=4, steps_per_epoch=4)
    resumed = _gan(0.9, seed=1)  # other initial weights: the snapshot must win
    restore_state(resumed, tmp_path)
    resumed.fit(mnist_images[:64], batch_size=16, epochs=1, shuffle=False, verbose=0)
    assert state_difference(straight, resumed)["model"] == 0.0  # the model's variables hold the average
    for a, b in zip(straight.averaged_generator.get_weights(), resumed.averaged_generator.get_weights()):
        np.testing.assert_array_equal(a, b)

    straight.save(tmp_path / "gan.keras")
    loaded = keras.models.load_model(tmp_path / "gan.keras")
    assert loaded.ema == 0.9
    for a, b in zip(straight.averaged_generator.get_weights(), loaded.averaged_generator.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("ema", [1.0, -0.1, "0.9", True])
def test_a_bad_decay_is_one_line(ema):
    with pytest.raises(UsageError, match=r"ema is the averaged generator's decay, a number in \[0, 1\)"):
        _gan(ema)


def test_a_generator_clone_model_cannot_copy_is_refused():
    class Scale(keras.layers.Layer):  # its argument is no config value, so Keras cannot rebuild it
        def __init__(self, factor):
            super().__init__()
            self.factor = factor

        def call(self, x):
            return x * self.factor

    built = dcgan_keras.build_generator(image_shape=(28, 28, 1), latent_dim=16, width=8)
    generator = keras.Model(built.inputs, Scale(np.float32(1.0))(built.outputs[0]))
    discriminator = dcgan_keras.build_discriminator(image_shape=(28, 28, 1), width=8)
    with pytest.raises(UsageError, match="clone_model"):
        dcgan_keras.DCGAN(generator, discriminator, ema=0.99)
