"""DCGAN's override points: a changed loss, and the conditional DCGAN of docs/examples, on every backend
(rerun on JAX and PyTorch through tests/test_backends.py, PORTABLE_SUITES)."""

import importlib.util
import pathlib

import numpy as np
import pytest
from keras import ops

from dcgan_keras import DCGAN, build_discriminator, build_generator
from dcgan_keras.data import load_embedded_mnist, to_unit_range

SHAPE = (28, 28, 1)
EXAMPLE = pathlib.Path(__file__).parents[1] / "docs" / "examples" / "conditional_mnist.py"


class HingeDCGAN(DCGAN):
    """The hinge game (Lim & Ye, 2017; SAGAN), with G's noise fixed so that a test can replay the step."""

    fixed_z = None

    def discriminator_loss(self, real_logits, fake_logits):
        return ops.mean(ops.relu(1.0 - real_logits)) + ops.mean(ops.relu(1.0 + fake_logits))

    def generator_loss(self, fake_logits):
        return -ops.mean(fake_logits)

    def sample_latent(self, batch_size):
        return ops.convert_to_tensor(self.fixed_z[:batch_size])


def _logits(network, x):
    return ops.convert_to_numpy(network(x, training=True)).astype("float64")


def test_a_subclass_with_the_hinge_loss_trains_with_it(mnist_images):
    generator, discriminator = build_generator(SHAPE, 16, width=4, seed=0), build_discriminator(SHAPE, width=4, seed=1)
    gan = HingeDCGAN(generator, discriminator, seed=0)
    gan.fixed_z = np.random.default_rng(0).standard_normal((16, 16)).astype("float32")
    gan.compile()
    real = mnist_images[:16]
    # The replayed first step, before any update: D on the real batch and on G(z), both in training mode.
    real_logits = _logits(discriminator, real)
    fake_logits = _logits(discriminator, generator(gan.fixed_z, training=True))
    hinge = np.mean(np.maximum(0, 1 - real_logits)) + np.mean(np.maximum(0, 1 + fake_logits))
    paper = np.mean(np.logaddexp(0, -real_logits)) + np.mean(np.logaddexp(0, fake_logits))
    before = [w.copy() for w in generator.get_weights()]
    history = gan.fit(real, batch_size=16, epochs=1, verbose=0).history
    assert history["d_loss"][0] == pytest.approx(hinge, rel=1e-4, abs=1e-5)
    assert abs(hinge - paper) > 0.1  # the two games differ here, so the test can tell which one ran
    assert any(not np.allclose(a, b) for a, b in zip(before, generator.get_weights()))
    history = gan.fit(real, batch_size=16, epochs=3, verbose=0).history
    assert np.isfinite(history["d_loss"]).all() and np.isfinite(history["g_loss"]).all()


def _example():
    spec = importlib.util.spec_from_file_location("conditional_mnist", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_conditional_example_is_short_and_trains():
    code = [line for line in EXAMPLE.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(code) < 46
    example = _example()
    gan = example.build(width=4)
    images, labels = load_embedded_mnist(with_labels=True)
    assert gan.discriminator.input_shape[-1] == 11 and gan.generator.input_shape[-1] == 110
    history = gan.fit(to_unit_range(images[:64]), labels[:64], batch_size=16, epochs=1, verbose=0).history
    assert np.isfinite(history["d_loss"]).all()
    drawn = gan.draw(np.arange(10))
    assert drawn.shape == (10, *SHAPE) and np.abs(drawn).max() <= 1.0
    # The label reaches G: the same z with two labels gives two images.
    z = np.repeat(np.random.default_rng(3).standard_normal((1, 100)).astype("float32"), 2, axis=0)
    two = gan.generator(np.concatenate([z, np.eye(10, dtype="float32")[[0, 7]]], axis=1), training=False)
    assert not np.allclose(ops.convert_to_numpy(two)[0], ops.convert_to_numpy(two)[1])

