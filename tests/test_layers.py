"""SubPixelConv2DTranspose computes exactly what Conv2DTranspose computes."""

import keras
import numpy as np
import pytest
from keras import ops

from dcgan_keras.layers import SubPixelConv2DTranspose, phase_tap_index


def _outputs_with_shared_weights(reference, rewritten, images, rng):
    """Give both layers the same random weights; return both outputs on ``images``."""
    reference.build(images.shape)
    rewritten.build(images.shape)
    weights = [rng.normal(size=w.shape).astype("float32") for w in reference.get_weights()]
    reference.set_weights(weights)
    rewritten.set_weights(weights)
    return ops.convert_to_numpy(reference(images)), ops.convert_to_numpy(rewritten(images))


@pytest.mark.parametrize("kernel_size", [2, 3, 4, 5, 6])
@pytest.mark.parametrize("use_bias", [False, True])
def test_matches_conv2d_transpose(kernel_size, use_bias):
    rng = np.random.default_rng(kernel_size)
    images = rng.normal(size=(2, 5, 6, 3)).astype("float32")
    reference = keras.layers.Conv2DTranspose(4, kernel_size, strides=2, padding="same", use_bias=use_bias)
    subpixel = SubPixelConv2DTranspose(4, kernel_size, strides=2, padding="same", use_bias=use_bias)
    expected, ours = _outputs_with_shared_weights(reference, subpixel, images, rng)
    assert expected.shape == (2, 10, 12, 4)
    np.testing.assert_allclose(ours, expected, atol=1e-4)


def test_every_tap_used_exactly_once():
    for kernel_size in (3, 4, 5):
        index = phase_tap_index(kernel_size)
        used = sorted(int(tap) for tap in index.ravel() if tap > 0)
        assert used == list(range(1, kernel_size * kernel_size + 1))


def test_rejects_what_it_cannot_compute():
    with pytest.raises(ValueError, match="strides=2"):
        SubPixelConv2DTranspose(4, 5, strides=1, padding="same")
    with pytest.raises(ValueError, match="strides=2"):
        SubPixelConv2DTranspose(4, 5, strides=2, padding="valid")


def test_serializes_and_builds_into_the_generator(tmp_path):
    from dcgan_keras import build_generator

    transposed = build_generator((28, 28, 1), 16, width=8, seed=0)
    subpixel = build_generator((28, 28, 1), 16, width=8, seed=0, upsampling="subpixel")
    assert isinstance(subpixel.get_layer("up_14x14"), SubPixelConv2DTranspose)
    subpixel.set_weights(transposed.get_weights())  # same weights, interchangeable
    z = np.random.default_rng(0).standard_normal((3, 16)).astype("float32")
    np.testing.assert_allclose(ops.convert_to_numpy(subpixel(z)), ops.convert_to_numpy(transposed(z)), atol=1e-5)
    subpixel.save(tmp_path / "g.keras")
    restored = keras.models.load_model(tmp_path / "g.keras")
    np.testing.assert_allclose(ops.convert_to_numpy(restored(z)), ops.convert_to_numpy(subpixel(z)), atol=1e-6)


@pytest.mark.parametrize("kernel_size", [2, 3, 4, 5, 6])
@pytest.mark.parametrize("size", [4, 8])
def test_space_to_depth_matches_strided_conv2d(kernel_size, size):
    from dcgan_keras.layers import SpaceToDepthConv2D

    rng = np.random.default_rng(kernel_size + size)
    images = rng.normal(size=(2, size, size, 3)).astype("float32")
    reference = keras.layers.Conv2D(4, kernel_size, strides=2, padding="same")
    folded = SpaceToDepthConv2D(4, kernel_size, strides=2, padding="same")
    expected, ours = _outputs_with_shared_weights(reference, folded, images, rng)
    assert expected.shape == (2, size // 2, size // 2, 4)
    np.testing.assert_allclose(ours, expected, atol=1e-4)


def test_space_to_depth_discriminator_is_the_same_function():
    from dcgan_keras import build_discriminator

    strided = build_discriminator((28, 28, 1), width=8, seed=0)
    folded = build_discriminator((28, 28, 1), width=8, seed=0, downsampling="space_to_depth")
    folded.set_weights(strided.get_weights())
    images = np.random.default_rng(1).uniform(-1, 1, (3, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(ops.convert_to_numpy(folded(images)), ops.convert_to_numpy(strided(images)), atol=1e-5)


# The formulations (dcgan_keras/formulation.py): one model, computed three ways.
@pytest.mark.parametrize("name", ["subpixel", "fast"])
def test_formulations_are_the_same_dcgan_to_the_gradient(name):
    from dcgan_keras import DCGAN, discriminator_loss, generator_loss
    from dcgan_keras.chapters.gradients import weight_gradients

    paper = DCGAN.from_shape((28, 28, 1), latent_dim=8, width=4, seed=0, formulation="paper")
    other = DCGAN.from_shape((28, 28, 1), latent_dim=8, width=4, seed=0, formulation=name)
    for ours, theirs in zip(other.get_weights(), paper.get_weights()):
        np.testing.assert_array_equal(ours, theirs)  # the same seed draws the same initial model
    rng = np.random.default_rng(0)
    z = rng.standard_normal((4, 8)).astype("float32")
    real = rng.uniform(-1, 1, (4, 28, 28, 1)).astype("float32")

    def d_loss(logits):
        return discriminator_loss(logits[:4], logits[4:])

    results = {}
    for key, gan in (("paper", paper), (name, other)):
        fake = ops.convert_to_numpy(gan.generator(z, training=True))
        results[key] = {
            "fake": fake,
            "g": weight_gradients(gan.generator, lambda images, d=gan.discriminator: generator_loss(d(images)), z),
            "d": weight_gradients(gan.discriminator, d_loss, np.concatenate([real, fake])),
        }
    np.testing.assert_allclose(results[name]["fake"], results["paper"]["fake"], atol=1e-5)
    for part in ("g", "d"):
        assert list(results[name][part]) == list(results["paper"][part])
        for path, grad in results["paper"][part].items():
            expected = ops.convert_to_numpy(grad)
            scale = np.abs(expected).max() + 1e-12  # relative to the largest gradient of the weight
            np.testing.assert_allclose(ops.convert_to_numpy(results[name][part][path]) / scale, expected / scale,
                                       atol=1e-4, err_msg=f"{name} {part} {path}")


def test_saved_generators_hold_the_papers_plain_layers(tmp_path):
    from dcgan_keras import build_discriminator, build_generator
    from dcgan_keras.formulation import as_paper_layers

    fast = build_generator((28, 28, 1), 16, width=8, seed=0, upsampling="subpixel")
    plain = as_paper_layers(fast)
    kinds = {type(layer) for layer in plain.layers}
    assert keras.layers.Conv2DTranspose in kinds and SubPixelConv2DTranspose not in kinds
    z = np.random.default_rng(0).standard_normal((3, 16)).astype("float32")
    np.testing.assert_allclose(ops.convert_to_numpy(plain(z)), ops.convert_to_numpy(fast(z)), atol=1e-5)
    folded = build_discriminator((28, 28, 1), width=8, seed=0, downsampling="space_to_depth")
    assert keras.layers.Conv2D in {type(layer) for layer in as_paper_layers(folded).layers}
    paper = build_generator((28, 28, 1), 16, width=8, seed=0)
    assert as_paper_layers(paper) is paper  # nothing to replace


def test_auto_follows_the_measured_table(monkeypatch):
    from dcgan_keras import formulation
    from dcgan_keras.errors import UsageError

    backend = keras.backend.backend()
    for device in ("cpu", "gpu"):
        monkeypatch.setattr(formulation, "device_kind", lambda device=device: device)
        for kernel in (4, 5):
            assert formulation.resolve("auto", kernel) == formulation.MEASURED.get((backend, device, kernel), "paper")
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    monkeypatch.setattr(formulation, "device_kind", lambda: "gpu")
    assert formulation.resolve("auto", 5) == "fast"  # the H200 measurement: 2.3x the literal layers
    assert formulation.FORMULATIONS[formulation.resolve("paper", 5)] == ("transposed", "strided")
    with pytest.raises(UsageError, match="formulation must be one of auto, paper"):
        formulation.resolve("fastest")
