"""The probes of notebook 01 (dcgan_keras.chapters.generator_anatomy), checked against independent oracles."""

import keras
import numpy as np
import pytest
from keras import layers

from dcgan_keras import build_generator, latent_noise
from dcgan_keras.chapters import generator_anatomy as anatomy
from dcgan_keras.chapters.generator_anatomy import build_one_step_generator
from dcgan_keras.sampling import sample


def test_layer_table_counts_match_keras():
    generator = build_generator((28, 28, 1), 100, width=8, seed=0)
    rows = anatomy.layer_table(generator, notes={"project": "first grid"})
    assert sum(row["params"] for row in rows) == generator.count_params()
    assert rows[0]["numbers"] == 100 and rows[-1]["shape"] == (28, 28, 1)
    assert [row["note"] for row in rows if row["layer"] == "project"] == ["first grid"]
    path = [row["shape"] for row in anatomy.size_path(generator)]
    assert path == [(100,), (784,), (7, 7, 16), (14, 14, 8), (28, 28, 1)]
    text = anatomy.format_table(rows)
    assert "7x7x16" in text and "784" in text


def test_footprints_match_keras_transposed_convolutions():
    # Oracle: push one lit cell of a 4x4 grid through real "same" stride-2 layers.
    stages, grid = 3, np.zeros((1, 4, 4, 1), "float32")
    grid[0, 1, 1, 0] = 1.0
    x, extents = grid, [1]
    for _ in range(stages):
        x = keras.layers.Conv2DTranspose(1, 5, strides=2, padding="same", kernel_initializer="ones", use_bias=False)(x)
        rows = np.nonzero(np.asarray(x)[0, :, :, 0].sum(axis=1))[0]
        extents.append(int(rows.max() - rows.min() + 1))
    assert anatomy.footprints(4, stages) == extents
    assert anatomy.footprints(4, 4) == [1, 5, 13, 29, 61]


def test_max_pool_matches_keras():
    image = np.random.default_rng(0).standard_normal((6, 8)).astype("float32")
    expected = keras.layers.MaxPooling2D(2)(image[None, :, :, None])[0, :, :, 0]
    np.testing.assert_allclose(anatomy.max_pool(image), np.asarray(expected))


def test_pooling_twins_collide_but_strided_conv_separates_them():
    first, second = anatomy.pooling_twins()
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(anatomy.max_pool(first), anatomy.max_pool(second))
    kernel = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert not np.allclose(anatomy.strided_conv(first, kernel), anatomy.strided_conv(second, kernel))
    placements = list(anatomy.all_placements(np.array([[9.0, 7.0], [8.0, 6.0]])))
    assert len(placements) == 256
    assert anatomy.distinct_outputs(placements, anatomy.max_pool) == 1
    assert anatomy.distinct_outputs(placements, lambda im: anatomy.strided_conv(im, kernel)) == 256


def test_shift_change_is_zero_for_a_shift_invariant_operation():
    images = np.random.default_rng(0).random((5, 8, 8))
    assert anatomy.shift_change(images, lambda im: np.array([im.sum()])) == pytest.approx(0.0, abs=1e-12)
    assert anatomy.shift_change(images, lambda im: im) > 0.1


def test_vary_coordinate_changes_one_coordinate_only():
    z = latent_noise(1, 10, seed=0)[0]
    batch = anatomy.vary_coordinate(z, 3, [-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(batch[:, 3], [-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(np.delete(batch, 3, axis=1), np.repeat(np.delete(z, 3)[None], 3, axis=0))
    assert anatomy.coordinate_sweeps(z, [0, 5], [0.0, 1.0]).shape == (4, 10)


def test_sweep_effects_finds_the_only_coordinate_that_matters():
    def generate(z):  # brightness of the whole image follows coordinate 2 only
        return np.tanh(np.repeat(z[:, 2, None, None, None], 16, axis=1).repeat(16, axis=2) / 2.0)

    def classify(images):  # "class" 1 for a bright image, 0 for a dark one
        return (images.mean(axis=(1, 2, 3)) > 0).astype(int)

    effects = anatomy.sweep_effects(generate, classify, latent_noise(4, 5, seed=0))
    assert effects["rms"][2] > 0.1 and np.all(np.delete(effects["rms"], 2) == 0.0)
    # Mean ink moves from (1 - tanh 1) / 2 to (1 + tanh 1) / 2.
    assert effects["label_flip"][2] == 1.0 and effects["ink"][2] == pytest.approx(np.tanh(1.0), rel=1e-5)
    # A diagonal direction sees the coordinate through its component: 1/sqrt(2) of the swing.
    diagonal = np.zeros((1, 5), "float32")
    diagonal[0, [1, 2]] = 1 / np.sqrt(2)
    z = latent_noise(4, 5, seed=0)
    along = anatomy.direction_sweeps(generate, classify, z, diagonal)
    rest = (z[:, 2] - z[:, 1]) / 2  # coordinate 2 once the component along the diagonal is removed
    expected = (np.tanh((rest + np.sqrt(2)) / 2) - np.tanh((rest - np.sqrt(2)) / 2)) / 2
    assert along["ink"][0] == pytest.approx(expected.mean(), rel=1e-5)


def _hand_written_generator(width, momentum=0.9):
    """The 28x28 generator typed out as a reader would, as in notebook 01's first section."""
    init = keras.initializers.RandomNormal(0.0, 0.02)
    gamma = keras.initializers.RandomNormal(1.0, 0.02)
    return keras.Sequential([
        keras.Input((100,)),
        layers.Dense(7 * 7 * 2 * width, use_bias=False, kernel_initializer=init),
        layers.Reshape((7, 7, 2 * width)),
        layers.BatchNormalization(momentum=momentum, epsilon=1e-5, gamma_initializer=gamma), layers.ReLU(),
        layers.Conv2DTranspose(width, 5, strides=2, padding="same", use_bias=False, kernel_initializer=init),
        layers.BatchNormalization(momentum=momentum, epsilon=1e-5, gamma_initializer=gamma), layers.ReLU(),
        layers.Conv2DTranspose(1, 5, strides=2, padding="same", kernel_initializer=init),
        layers.Activation("tanh"),
    ])


def test_compare_layers_accepts_the_hand_written_generator_and_names_each_difference():
    reference = build_generator(image_shape=(28, 28, 1), width=8, seed=0)
    rows, same = anatomy.compare_layers(_hand_written_generator(8), reference)
    assert same and len(rows) == len(reference.layers) - 1  # the Sequential model lists no input layer
    assert rows[0]["layer"] == "layers.Dense(784, use_bias=False)" and rows[0]["params"] == 100 * 784
    assert rows[-1]["layer"] == 'layers.Activation("tanh")' and rows[-1]["shape"] == (28, 28, 1)
    # Keras' default BatchNorm momentum (0.99) is a different layer: only the two BN rows differ.
    rows, same = anatomy.compare_layers(_hand_written_generator(8, momentum=0.99), reference)
    assert not same and [row["same"] for row in rows].count("NO") == 2
    # A wider model differs in every layer that holds weights, and a layer short is not the same.
    assert not anatomy.compare_layers(_hand_written_generator(16), reference)[1]
    shorter = keras.Sequential([keras.Input((100,))] + _hand_written_generator(8).layers[:-1])
    assert not anatomy.compare_layers(shorter, reference)[1]


def test_compare_layers_sees_a_different_initializer():
    reference = build_generator(image_shape=(28, 28, 1), width=8, seed=0)
    model = _hand_written_generator(8)
    glorot = keras.Sequential([keras.Input((100,)), layers.Dense(784, use_bias=False)] + model.layers[1:])
    rows, same = anatomy.compare_layers(glorot, reference)
    assert not same and rows[0]["same"] == "NO" and all(row["same"] == "yes" for row in rows[1:])


@pytest.mark.long  # fits codes for many steps: run by pytest -m long
def test_fit_codes_reconstructs_what_the_generator_can_draw():
    images = np.random.default_rng(0).choice([-1.0, 1.0], size=(8, 28, 28, 1)).astype("float32")
    generator = build_one_step_generator((28, 28, 1), 100, seed=0)
    reconstructions, mse, codes = anatomy.fit_codes(generator, images, epochs=150, batch_size=8, learning_rate=3e-2)
    # Eight binary images with 100 code dimensions each: one linear layer can fit them almost exactly.
    assert reconstructions.shape == images.shape and mse < 0.05
    assert np.mean(np.sign(reconstructions) == images) > 0.99
    # The codes returned are the ones that draw the reconstructions.
    assert codes.shape == (8, 100)
    np.testing.assert_allclose(generator.predict(codes, verbose=0), reconstructions, atol=1e-5)


def test_sample_fitted_codes_draws_from_the_codes_gaussian():
    # Through an identity "generator", the drawn codes must have the fitted codes' mean and covariance.
    mean, covariance = np.array([1.0, -2.0]), np.array([[2.0, 0.8], [0.8, 0.5]])
    codes = np.random.default_rng(1).multivariate_normal(mean, covariance, 4000)
    identity = keras.Sequential([keras.Input((2,)), layers.Identity()])
    drawn = anatomy.sample_fitted_codes(identity, codes, 20000, seed=0)
    assert drawn.shape == (20000, 2)
    np.testing.assert_allclose(drawn.mean(0), codes.mean(0), atol=0.05)
    np.testing.assert_allclose(np.cov(drawn, rowvar=False), np.cov(codes, rowvar=False), atol=0.06)
    # A different seed draws different codes; the same seed the same ones.
    assert not np.allclose(anatomy.sample_fitted_codes(identity, codes, 10, seed=1), drawn[:10])
    np.testing.assert_array_equal(anatomy.sample_fitted_codes(identity, codes, 10, seed=0), drawn[:10])


def test_activation_derivatives_match_finite_differences():
    x, eps = np.linspace(-4, 4, 81) + 0.05, 1e-6
    for name, (value, derivative) in anatomy.activation_derivatives(x).items():
        numeric = (anatomy.activation_derivatives(x + eps)[name][0] - value) / eps
        np.testing.assert_allclose(derivative, numeric, atol=1e-4)
    grid = np.linspace(-5, 5, 10001)
    assert anatomy.activation_derivatives(grid)["tanh"][1].max() == pytest.approx(1.0)
    assert anatomy.activation_derivatives(grid)["sigmoid"][1].max() == pytest.approx(0.25)


def test_swapped_activation_and_gradients():
    generator = build_generator((28, 28, 1), 100, width=8, seed=0)
    z = latent_noise(8, 100, seed=0)
    as_relu = anatomy.swap_hidden_activation(generator, "relu")
    assert not any(isinstance(layer, keras.layers.ReLU) for layer in as_relu.layers)
    np.testing.assert_allclose(sample(as_relu, z=z), sample(generator, z=z), atol=1e-6)
    norms = {act: anatomy.gradient_norms(anatomy.swap_hidden_activation(generator, act), z)["project"]
             for act in ("relu", "sigmoid")}
    assert all(np.isfinite(list(norms.values()))) and norms["sigmoid"] < norms["relu"]
    scaled = anatomy.with_scaled_gamma(generator, 3.0)
    np.testing.assert_allclose(scaled.get_layer("project_bn").gamma.numpy(),
                               3.0 * generator.get_layer("project_bn").gamma.numpy(), rtol=1e-6)
    np.testing.assert_array_equal(scaled.get_layer("up_14x14_bn").gamma.numpy(),
                                  generator.get_layer("up_14x14_bn").gamma.numpy())


def test_relu_gradient_is_scale_invariant_but_tanh_saturates():
    # Oracle: ReLU is positively homogeneous and the next BatchNorm divides the
    # scale out again, so scaling project_bn's gamma cannot change the gradient.
    generator = build_generator((28, 28, 1), 100, width=8, seed=0)
    z = latent_noise(16, 100, seed=0)
    relu = [anatomy.gradient_norms(anatomy.with_scaled_gamma(generator, f), z)["project"] for f in (1, 4)]
    assert relu[1] == pytest.approx(relu[0], rel=1e-3)
    # tanh: the slope of a unit at pre-activation 4u is >= 0.1 only for |u| < 0.45
    assert anatomy.passing_fraction("tanh", 4.0) == pytest.approx(0.35, abs=0.01)
    assert anatomy.passing_fraction("relu", 4.0) == pytest.approx(0.5, abs=0.01)
    assert anatomy.passing_fraction("sigmoid", 1.0) > anatomy.passing_fraction("sigmoid", 8.0)


def test_dense_projection_equals_transposed_conv_projection():
    dense = build_generator((28, 28, 1), 100, width=8, seed=0, projection=True)
    conv = build_generator((28, 28, 1), 100, width=8, seed=5, projection=False)
    assert dense.get_layer("project").count_params() == conv.get_layer("project").count_params()
    for layer in conv.layers:
        if layer.weights and layer.name != "project":
            layer.set_weights(dense.get_layer(layer.name).get_weights())
    anatomy.copy_projection(dense, conv)
    z = latent_noise(4, 100, seed=1)
    np.testing.assert_allclose(sample(conv, z=z), sample(dense, z=z), atol=1e-5)


def test_one_step_generator_is_a_single_layer():
    generator = build_one_step_generator((28, 28, 1), 16)
    assert [type(layer).__name__ for layer in generator.layers[1:]] == ["Reshape", "Conv2DTranspose", "Activation"]
    assert tuple(generator.output_shape[1:]) == (28, 28, 1)
