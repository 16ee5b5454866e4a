"""dcgan_keras.chapters.discriminator_probes against oracles: linear models, known pre-activations, pure frequencies."""

import keras
import numpy as np
import pytest
from keras import layers

from dcgan_keras import build_discriminator
from dcgan_keras.chapters import discriminator_probes as probes


def _linear_model(shape=(8, 8, 1), seed=0):
    images = keras.Input(shape=shape)
    x = layers.Flatten()(images)
    logit = layers.Dense(1, kernel_initializer=keras.initializers.RandomNormal(seed=seed), name="logit")(x)
    return keras.Model(images, logit)


def test_input_gradient_of_linear_model_is_its_weights():
    model = _linear_model()
    images = np.random.default_rng(0).standard_normal((3, 8, 8, 1)).astype("float32")
    grads = probes.input_gradients(model, images)
    weights = keras.ops.convert_to_numpy(model.get_layer("logit").kernel).reshape(8, 8, 1)
    assert grads.shape == images.shape
    for grad in grads:  # the same for every image: the model is linear
        np.testing.assert_allclose(grad, weights, rtol=1e-6)


def _gated_model(gate, units=64, seed=0):
    x_in = keras.Input(shape=(10,))
    pre = layers.Dense(units, kernel_initializer=keras.initializers.RandomNormal(seed=seed), name="pre")(x_in)
    x = gate(pre)
    logit = layers.Dense(1, kernel_initializer="ones", use_bias=False, name="logit")(x)
    return keras.Model(x_in, logit)


def test_relu_zero_gradient_fraction_is_the_negative_preactivations():
    model = _gated_model(layers.ReLU(name="gate"))
    x = np.random.default_rng(1).standard_normal((50, 10)).astype("float32")
    pre = keras.ops.convert_to_numpy(model.get_layer("pre")(x))
    fractions = probes.zero_gradient_fraction(model, x)
    assert list(fractions) == ["gate", "image"]
    assert 0.3 < np.mean(pre < 0) < 0.7  # the oracle is not trivial
    assert fractions["gate"] == pytest.approx(np.mean(pre < 0))


def test_leaky_relu_never_zeroes_a_gradient():
    model = _gated_model(layers.LeakyReLU(0.2, name="gate"))
    x = np.random.default_rng(1).standard_normal((50, 10)).astype("float32")
    assert probes.zero_gradient_fraction(model, x)["gate"] == 0.0


def test_max_pooling_passes_the_gradient_to_one_unit_in_four():
    images = keras.Input(shape=(8, 8, 3))
    x = layers.MaxPooling2D(2, name="pool")(images)
    logit = layers.Dense(1, kernel_initializer="ones")(layers.Flatten()(x))
    model = keras.Model(images, logit)
    x = np.random.default_rng(2).standard_normal((4, 8, 8, 3)).astype("float32")
    fractions = probes.zero_gradient_fraction(model, x)
    assert fractions["pool"] == pytest.approx(0.75)
    assert fractions["image"] == pytest.approx(0.75)  # the pool reads the image directly


def test_relu_discriminator_has_dead_gradients_and_leaky_has_none():
    images = np.random.default_rng(3).uniform(-1, 1, (4, 28, 28, 1)).astype("float32")
    relu = probes.zero_gradient_fraction(build_discriminator((28, 28, 1), 8, seed=0, activation="relu"), images)
    leaky = probes.zero_gradient_fraction(build_discriminator((28, 28, 1), 8, seed=0), images)
    assert list(relu) == ["down_14x14_relu", "down_7x7_relu", "image"]
    assert all(0.2 < relu[name] < 0.8 for name in relu if name != "image")
    assert all(value == 0.0 for value in leaky.values())


def test_probing_in_training_mode_leaves_batchnorm_untouched():
    model = build_discriminator((28, 28, 1), 4, seed=0)
    before = [v.numpy().copy() for v in model.non_trainable_variables]
    images = np.random.default_rng(4).uniform(-1, 1, (8, 28, 28, 1)).astype("float32")
    probes.input_gradients(model, images, training=True)
    probes.layer_outputs(model, images, ["down_7x7_bn"], training=True)
    probes.logits(model, images, training=True)
    for old, new in zip(before, model.non_trainable_variables):
        np.testing.assert_array_equal(old, new.numpy())


def test_layer_outputs_and_shift_sensitivity():
    images = keras.Input(shape=(8, 8, 1))
    pooled = layers.GlobalAveragePooling2D(name="mean")(images)  # blind to position
    model = keras.Model(images, layers.Dense(1, name="logit")(pooled))
    x = np.zeros((2, 8, 8, 1), "float32")
    x[:, 3:5, 2:4] = 1.0
    outputs = probes.layer_outputs(model, x, ["mean"])
    np.testing.assert_allclose(outputs["mean"], np.full((2, 1), 4 / 64), rtol=1e-6)
    assert probes.shift_sensitivity(model, x, ["mean"]) == {"mean": 0.0, "logit": 0.0}
    # With no layers named, "logit" is still every image's logit, not the first image's.
    assert probes.layer_outputs(model, x, [])["logit"].shape == (len(x), 1)
    assert probes.shift_sensitivity(model, x, []) == {"logit": 0.0}
    assert probes.relative_change(np.ones(4), np.ones(4) * 1.5) == pytest.approx(0.5)


def test_gaussian_blur_keeps_constants_and_mass():
    constant = np.full((1, 9, 9, 1), -1.0, "float32")
    np.testing.assert_allclose(probes.gaussian_blur(constant, 1.0), constant, atol=1e-6)
    delta = np.zeros((1, 15, 15, 1), "float32")
    delta[0, 7, 7] = 1.0
    blurred = probes.gaussian_blur(delta, 1.0)
    assert blurred.sum() == pytest.approx(1.0, abs=1e-5)
    assert blurred[0, 7, 7, 0] == blurred.max() < 0.2  # spread out, peak in place
    np.testing.assert_allclose(blurred[0, :, :, 0], blurred[0, :, :, 0].T, atol=1e-7)


def test_high_frequency_fraction_of_pure_patterns():
    rows, cols = np.mgrid[0:16, 0:16]
    checkerboard = ((rows + cols) % 2 * 2.0 - 1)[None, ..., None]  # 0.5 cycles/pixel
    slow = np.cos(2 * np.pi * rows / 16)[None, ..., None]  # 1/16 cycles/pixel
    assert probes.high_frequency_fraction(checkerboard) == pytest.approx(1.0)
    assert probes.high_frequency_fraction(slow) == pytest.approx(0.0, abs=1e-12)
    centres, share = probes.mean_spectrum(checkerboard, bins=5)
    assert share.sum() == pytest.approx(1.0) and share[-1] == pytest.approx(1.0)


def test_logit_weight_map_and_dense_head():
    discriminator = build_discriminator((28, 28, 1), 4, seed=0)  # flatten: 7x7x8
    kernel = discriminator.get_layer("logit").kernel.numpy().reshape(7, 7, 8)
    weight_map = probes.logit_weight_map(discriminator)
    assert weight_map.shape == (7, 7)
    assert weight_map[2, 5] == pytest.approx(np.linalg.norm(kernel[2, 5]))
    dense = probes.with_dense_head(discriminator, units=10)
    added = (392 * 10 + 10) + (10 + 1) - (392 + 1)  # hidden + new logit - old logit
    assert dense.count_params() == discriminator.count_params() + added


def test_training_separates_an_easy_pair():
    rng = np.random.default_rng(5)
    real = rng.uniform(0.2, 1.0, (64, 28, 28, 1)).astype("float32")
    fake = rng.uniform(-1.0, -0.2, (64, 28, 28, 1)).astype("float32")
    model = build_discriminator((28, 28, 1), 4, seed=0)
    losses = probes.train_real_vs_fake(model, real, fake, steps=30, batch_size=16)
    assert len(losses) == 30 and losses[-1] < losses[0]
    assert probes.real_fake_accuracy(model, real, fake, training=True) == 1.0
    assert probes.sigmoid(0.0) == 0.5


def test_border_shares_and_masking():
    maps = np.zeros((3, 28, 28, 1))
    maps[:, -2:, :] = 1.0  # all energy in the bottom two rows
    shares = probes.border_shares(maps)
    assert shares["bottom"] == pytest.approx(1.0) and shares["top"] == 0.0 and shares["frame"] == pytest.approx(1.0)
    assert shares["left"] == pytest.approx(4 / 28)  # the bottom rows' share that falls in the left strip
    even = probes.border_shares(np.ones((2, 28, 28, 1)))
    assert even["top"] == pytest.approx(4 / 28) and even["frame"] == pytest.approx(1 - 20 * 20 / 784)
    images = np.zeros((2, 28, 28, 1), "float32")
    masked = probes.mask_border(images)
    assert masked[:, :4].min() == -1.0 and masked[:, :, -4:].max() == -1.0 and masked[:, 4:-4, 4:-4].max() == 0.0
    assert images.max() == 0.0  # the input is left alone
    deviation = probes.border_deviation(masked)
    assert deviation == pytest.approx({"top": 0.0, "bottom": 0.0, "left": 0.0, "right": 0.0})
    assert probes.border_deviation(images)["top"] == pytest.approx(1.0)


def test_class_gradients_point_towards_the_label():
    # A two-class "classifier" on the mean pixel: brighter means class 1.
    inputs = keras.Input((4, 4, 1))
    mean = keras.layers.GlobalAveragePooling2D()(inputs)
    logits = keras.layers.Dense(2, kernel_initializer=keras.initializers.Constant([[-1.0, 1.0]]), use_bias=False)(mean)
    classifier = keras.Model(inputs, keras.layers.Softmax()(logits))
    images = np.zeros((2, 4, 4, 1), "float32")
    grads = probes.class_gradients(classifier, images, [1, 0])
    assert np.all(grads[0] > 0) and np.all(grads[1] < 0)  # brighten for class 1, darken for class 0


def _pixel_reader(row, column, size=28):
    """A D whose logit is one pixel, x[row, column]: its answers are known in closed form."""
    kernel = np.zeros((size * size, 1), "float32")
    kernel[row * size + column] = 1.0
    inputs = keras.Input((size, size, 1))
    logit = layers.Dense(1, kernel_initializer=keras.initializers.Constant(kernel), use_bias=False)(
        layers.Flatten()(inputs))
    return keras.Model(inputs, logit)


def test_logit_shift_is_the_mean_change_against_the_spread():
    images = np.random.default_rng(0).standard_normal((50, 28, 28, 1)).astype("float32")
    change, spread = probes.logit_shift(_pixel_reader(10, 12), images)
    # Shifted right by one pixel, the reader sees what was at column 11.
    assert change == pytest.approx(np.abs(images[:, 10, 11, 0] - images[:, 10, 12, 0]).mean(), rel=1e-5)
    assert spread == pytest.approx(images[:, 10, 12, 0].std(), rel=1e-5)
    flat = np.broadcast_to(images[:, :1, :1], images.shape)  # constant images do not change when shifted
    assert probes.logit_shift(_pixel_reader(10, 12), flat)[0] == 0.0


def test_called_real_is_the_share_of_positive_logits_after_each_edit_and_mask():
    images = np.full((4, 28, 28, 1), 0.2, "float32")
    images[2:] = -0.2
    model = _pixel_reader(1, 14)  # a pixel inside the 4-pixel frame
    edits = {"original": lambda x: x, "negated": lambda x: -x}
    assert probes.called_real(model, images, edits) == {"original": 0.5, "negated": 0.5}
    assert probes.called_real(model, images[:2], edits) == {"original": 1.0, "negated": 0.0}
    # Masked, the frame is black (-1) whatever the edit did, so nothing there reads as real.
    assert probes.called_real(model, images, edits, masked=True) == {"original": 0.0, "negated": 0.0}
    centre = _pixel_reader(14, 14)
    assert probes.called_real(centre, images[:2], edits, masked=True) == {"original": 1.0, "negated": 0.0}
