"""SubPixelConv2DTranspose computes exactly what Conv2DTranspose computes."""

import keras
import numpy as np
import pytest
from keras import ops

from dcgan_keras.layers import SubPixelConv2DTranspose, phase_tap_index, space_to_depth_tap_index

# Every kernel the builders accept that the tests try (3 to 7), plus 2 and 8 for the layers alone.
KERNELS = [2, 3, 4, 5, 6, 7, 8]


def _outputs_with_shared_weights(reference, rewritten, images, rng):
    """Give both layers the same random weights; return both outputs on ``images``."""
    reference.build(images.shape)
    rewritten.build(images.shape)
    weights = [rng.normal(size=w.shape).astype("float32") for w in reference.get_weights()]
    reference.set_weights(weights)
    rewritten.set_weights(weights)
    return ops.convert_to_numpy(reference(images)), ops.convert_to_numpy(rewritten(images))


@pytest.mark.parametrize("kernel_size", KERNELS)
@pytest.mark.parametrize("use_bias", [False, True])
def test_matches_conv2d_transpose(kernel_size, use_bias):
    rng = np.random.default_rng(kernel_size)
    images = rng.normal(size=(2, 5, 6, 3)).astype("float32")
    reference = keras.layers.Conv2DTranspose(4, kernel_size, strides=2, padding="same", use_bias=use_bias)
    subpixel = SubPixelConv2DTranspose(4, kernel_size, strides=2, padding="same", use_bias=use_bias)
    expected, ours = _outputs_with_shared_weights(reference, subpixel, images, rng)
    assert expected.shape == (2, 10, 12, 4)
    np.testing.assert_allclose(ours, expected, atol=1e-4)


@pytest.mark.parametrize("tap_index", [phase_tap_index, space_to_depth_tap_index])
def test_every_tap_used_exactly_once(tap_index):
    for kernel_size in KERNELS:
        index = tap_index(kernel_size)
        used = sorted(int(tap) for tap in index.ravel() if tap > 0)
        assert used == list(range(1, kernel_size * kernel_size + 1))
        # Kernels up to 6 fit a 3x3 window of input pixels (or 2x2 blocks); 7 and 8 need 5x5.
        window = 3 if kernel_size <= 6 else 5
        assert index.shape == (window, window, 4), kernel_size


def _transposed_oracle(images, kernel, bias):
    """numpy Conv2DTranspose(strides=2, padding="same"): each input pixel stamps the kernel (notebook 02)."""
    from dcgan_keras.chapters.conv_arithmetic import scatter_conv2d

    return np.stack([scatter_conv2d(image, kernel, 2, "same") for image in images]) + bias


def _strided_oracle(images, kernel, bias):
    """numpy Conv2D(strides=2, padding="same") on an even input: pad (k - 2) // 2 before, the rest after."""
    from dcgan_keras.chapters.conv_arithmetic import conv2d

    before = (kernel.shape[0] - 2) // 2
    after = kernel.shape[0] - 2 - before
    padded = np.pad(images, ((0, 0), (before, after), (before, after), (0, 0)))
    return np.stack([conv2d(image, kernel, stride=2) for image in padded]) + bias


@pytest.mark.parametrize("kernel_size", [3, 4, 5, 6, 7])
def test_every_formulation_matches_the_numpy_oracle(kernel_size):
    from dcgan_keras.layers import SpaceToDepthConv2D

    rng = np.random.default_rng(10 + kernel_size)
    small = rng.normal(size=(2, 4, 4, 3)).astype("float32")
    large = rng.normal(size=(2, 8, 8, 3)).astype("float32")
    cases = [(up, small, _transposed_oracle, (2, 8, 8, 2)) for up in (keras.layers.Conv2DTranspose,
                                                                       SubPixelConv2DTranspose)]
    cases += [(down, large, _strided_oracle, (2, 4, 4, 2)) for down in (keras.layers.Conv2D, SpaceToDepthConv2D)]
    for kind, images, oracle, shape in cases:
        layer = kind(2, kernel_size, strides=2, padding="same")
        layer.build(images.shape)
        kernel, bias = (rng.normal(size=w.shape).astype("float32") for w in layer.get_weights())
        layer.set_weights([kernel, bias])
        expected = oracle(images.astype("float64"), kernel.astype("float64"), bias)
        assert expected.shape == shape
        np.testing.assert_allclose(ops.convert_to_numpy(layer(images)), expected, atol=1e-4, err_msg=kind.__name__)


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


@pytest.mark.parametrize("kernel_size", KERNELS)
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


@pytest.mark.slow
@pytest.mark.parametrize("kernel_size", [3, 4, 5, 6, 7])
@pytest.mark.parametrize("shape", [(28, 28, 1), (64, 64, 3)])
def test_the_builders_formulations_are_one_function_for_every_kernel(kernel_size, shape):
    from dcgan_keras import build_discriminator, build_generator

    rng = np.random.default_rng(kernel_size)
    z = rng.standard_normal((2, 8)).astype("float32")
    stages = 5 if shape[0] == 64 else None  # 64x64 from 2x2 and down to 2x2: every grid size the layers meet
    generators = [build_generator(shape, 8, width=2, kernel_size=kernel_size, seed=0, upsampling=upsampling,
                                  stages=stages) for upsampling in ("transposed", "subpixel")]
    discriminators = [build_discriminator(shape, width=2, kernel_size=kernel_size, seed=0, downsampling=downsampling,
                                          stages=stages) for downsampling in ("strided", "space_to_depth")]
    for models in (generators, discriminators):
        # New kernels, larger than the initial N(0, 0.02); BatchNorm's vectors (moving variance too) stay.
        weights = [w if w.ndim == 1 else rng.normal(scale=0.2, size=w.shape).astype("float32")
                   for w in models[0].get_weights()]
        for model in models:
            model.set_weights(weights)  # same weights, by position

    def assert_same(outputs):
        scale = np.abs(outputs[0]).max()  # compared relative to the largest output
        assert np.isfinite(outputs[0]).all() and scale > 1e-4
        np.testing.assert_allclose(outputs[1] / scale, outputs[0] / scale, atol=1e-4)

    images = [ops.convert_to_numpy(generator(z)) for generator in generators]
    assert images[0].shape == (2, *shape)
    assert_same(images)
    scaled = images[0] / np.abs(images[0]).max()  # the generator's output, stretched to [-1, 1]
    logits = [ops.convert_to_numpy(discriminator(scaled)) for discriminator in discriminators]
    assert logits[0].shape == (2, 1)
    assert_same(logits)


# The formulations (dcgan_keras/formulation.py): one model, computed three ways.
@pytest.mark.parametrize("name", ["subpixel", "fast"])
@pytest.mark.parametrize("kernel_size", [5, *(pytest.param(k, marks=pytest.mark.slow) for k in (3, 7))])
def test_formulations_are_the_same_dcgan_to_the_gradient(name, kernel_size):
    from dcgan_keras import DCGAN, discriminator_loss, generator_loss
    from dcgan_keras.chapters.gradients import weight_gradients

    paper = DCGAN.from_shape((28, 28, 1), latent_dim=8, width=4, kernel_size=kernel_size, seed=0, formulation="paper")
    other = DCGAN.from_shape((28, 28, 1), latent_dim=8, width=4, kernel_size=kernel_size, seed=0, formulation=name)
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
        for kernel in (3, 4, 5, 6, 7):
            assert formulation.resolve("auto", kernel) == formulation.MEASURED.get((backend, device, kernel), "paper")
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    monkeypatch.setattr(formulation, "device_kind", lambda: "gpu")
    assert formulation.resolve("auto", 5) == "fast"  # the H200 measurement: 2.3x the literal layers
    for kernel in (3, 6, 7):  # not measured: the literal layers, though the rewrites compute these kernels too
        assert formulation.resolve("auto", kernel) == "paper"
    assert formulation.FORMULATIONS[formulation.resolve("paper", 5)] == ("transposed", "strided")
    with pytest.raises(UsageError, match="formulation must be one of auto, paper"):
        formulation.resolve("fastest")
