"""dcgan_keras.chapters.discriminator_features: discriminator features, balanced subsets, the ridge probe."""

import math

import keras
import numpy as np
import pytest

from dcgan_keras import build_discriminator
from dcgan_keras.chapters import discriminator_features as ft
from dcgan_keras.data import load_embedded_mnist, to_unit_range

SHAPE = (28, 28, 1)


def _max_pool_oracle(x, grid):
    """Adaptive max pooling in numpy: cell i covers floor(i*H/grid) .. ceil((i+1)*H/grid)."""
    n, height, width, channels = x.shape
    out = np.empty((n, grid, grid, channels), x.dtype)
    for i in range(grid):
        rows = slice(i * height // grid, math.ceil((i + 1) * height / grid))
        for j in range(grid):
            cols = slice(j * width // grid, math.ceil((j + 1) * width / grid))
            out[:, i, j] = x[:, rows, cols].max(axis=(1, 2))
    return out


@pytest.fixture(scope="module")
def mnist():
    images, labels = load_embedded_mnist(with_labels=True)
    return to_unit_range(images), labels.astype("int64")


# --- features ---------------------------------------------------------------------------


def test_feature_shape_for_a_small_discriminator(mnist):
    discriminator = build_discriminator(SHAPE, width=8, seed=0)
    assert ft.activation_layers(discriminator) == ["down_14x14_lrelu", "down_7x7_lrelu"]
    features = ft.discriminator_features(discriminator, mnist[0][:10], batch_size=4)
    assert features.shape == (10, 8 * 16 + 16 * 16) and features.dtype == np.float32


def test_features_are_the_pooled_activations_in_order(mnist):
    discriminator = build_discriminator(SHAPE, width=8, seed=1)
    images = mnist[0][:6]
    names = ft.activation_layers(discriminator)
    stages = keras.Model(discriminator.input, [discriminator.get_layer(n).output for n in names])
    expected = np.concatenate(
        [_max_pool_oracle(np.asarray(x), 4).reshape(len(images), -1) for x in stages(images, training=False)],
        axis=1,
    )
    np.testing.assert_allclose(ft.discriminator_features(discriminator, images), expected, rtol=1e-6)
    # A 7x7 map to 2x2 and to 3x3 needs ragged, overlapping windows too.
    for grid in (2, 3):
        pooled = ft.discriminator_features(discriminator, images, grid=grid)
        assert pooled.shape == (6, (8 + 16) * grid * grid)


def test_features_do_not_depend_on_the_batch(mnist):
    # Inference mode: BatchNorm uses moving statistics, not the batch's.
    discriminator = build_discriminator(SHAPE, width=8, seed=2)
    images = mnist[0][:12]
    alone = ft.discriminator_features(discriminator, images[:3], batch_size=3)
    together = ft.discriminator_features(discriminator, images, batch_size=12)
    np.testing.assert_allclose(alone, together[:3], rtol=1e-5, atol=1e-6)
    # (N, 28, 28) without the channel axis is accepted for a 1-channel model.
    np.testing.assert_allclose(ft.discriminator_features(discriminator, images[:3, ..., 0]), alone, rtol=1e-6)


def test_features_need_stage_activations_and_the_right_shape(mnist):
    no_stages = keras.Sequential([keras.Input(SHAPE), keras.layers.Flatten(), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="_lrelu"):
        ft.discriminator_features(no_stages, mnist[0][:2])
    with pytest.raises(ValueError, match="takes images of shape"):
        ft.discriminator_features(build_discriminator(SHAPE, width=8, seed=0), np.zeros((2, 32, 32, 1)))


def test_raw_pixel_features_are_flat_pixels(mnist):
    images = mnist[0][:5]
    flat = ft.raw_pixel_features(images)
    assert flat.shape == (5, 784) and flat.dtype == np.float32
    np.testing.assert_array_equal(flat[3].reshape(28, 28, 1), images[3])


# --- balanced subsets ------------------------------------------------------------------------


def test_balanced_subset_counts_and_reproducibility(mnist):
    labels = mnist[1]
    subset = ft.balanced_subset(labels, 10, seed=0)
    assert len(subset) == 100 and len(np.unique(subset)) == 100
    np.testing.assert_array_equal(np.bincount(labels[subset], minlength=10), np.full(10, 10))
    np.testing.assert_array_equal(subset, ft.balanced_subset(labels, 10, seed=0))
    assert not np.array_equal(subset, ft.balanced_subset(labels, 10, seed=1))
    assert np.bincount(labels[ft.balanced_subset(labels, 100, seed=0)]).tolist() == [100] * 10
    with pytest.raises(ValueError, match="Class 1 has 2 examples"):
        ft.balanced_subset(np.array([0, 0, 0, 1, 1]), 3)


# --- the ridge classifier ----------------------------------------------------------------------


def _blobs(per_class, dim=20, spread=0.5, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(10, dim)) * 3.0
    labels = np.repeat(np.arange(10), per_class)
    return centres[labels] + spread * rng.normal(size=(len(labels), dim)), labels


@pytest.mark.parametrize("dim", [20, 300])  # primal (N >= F) and dual (N < F) forms
def test_ridge_separates_gaussian_blobs(dim):
    train_x, train_y = _blobs(20, dim, seed=0)
    rng = np.random.default_rng(1)
    centres = np.random.default_rng(0).normal(size=(10, dim)) * 3.0
    test_y = rng.integers(0, 10, 500)
    test_x = centres[test_y] + 0.5 * rng.normal(size=(500, dim))
    predicted, penalty = ft.ridge_classifier(train_x, train_y, test_x)
    assert (predicted == test_y).mean() > 0.99
    assert penalty in ft.DEFAULT_PENALTIES


@pytest.mark.parametrize("examples", [29, 40])  # 29 < 30 features: dual form; 40: primal
def test_ridge_fits_match_the_direct_closed_form(examples):
    rng = np.random.default_rng(examples)
    x, y = rng.normal(2.0, 3.0, size=(examples, 30)), np.eye(10)[rng.integers(0, 10, examples)]
    ((weights, intercept),) = ft._ridge_fits(x, y, [0.5])
    # (Z^T Z + lam I)^-1 Z^T (Y - mean Y) on the standardised Z, mapped back to raw x.
    mean, std = x.mean(0), x.std(0)
    z = (x - mean) / std
    direct = np.linalg.solve(z.T @ z + 0.5 * np.eye(30), z.T @ (y - y.mean(0)))
    np.testing.assert_allclose(weights, direct / std[:, None], atol=1e-9)
    np.testing.assert_allclose(x @ weights + intercept, z @ direct + y.mean(0), atol=1e-9)


def test_ridge_on_random_labels_is_at_chance():
    rng = np.random.default_rng(0)
    train_x, train_y = rng.normal(size=(300, 50)), np.repeat(np.arange(10), 30)
    test_x, test_y = rng.normal(size=(3000, 50)), rng.integers(0, 10, 3000)
    predicted, _ = ft.ridge_classifier(train_x, train_y, test_x)
    assert (predicted == test_y).mean() == pytest.approx(0.1, abs=0.03)


def test_cross_validation_never_sees_the_test_set():
    train_x, train_y = _blobs(10, dim=10, spread=2.0, seed=2)  # overlapping: the penalty matters
    test_x = np.random.default_rng(3).normal(size=(200, 10)) * 3.0
    predicted, penalty = ft.ridge_classifier(train_x, train_y, test_x)
    assert penalty not in (min(ft.DEFAULT_PENALTIES), max(ft.DEFAULT_PENALTIES))  # a real choice
    order = np.random.default_rng(4).permutation(200)
    shuffled, shuffled_penalty = ft.ridge_classifier(train_x, train_y, test_x[order])
    np.testing.assert_array_equal(shuffled, predicted[order])
    assert shuffled_penalty == penalty
    # Even a wildly different test set cannot move the chosen penalty.
    _, other_penalty = ft.ridge_classifier(train_x, train_y, 1e3 * test_x[:7] + 5.0)
    assert other_penalty == penalty


def test_ridge_rejects_bad_input():
    x, y = _blobs(5, dim=4)
    with pytest.raises(ValueError, match="same F"):
        ft.ridge_classifier(x, y, x[:, :3])
    with pytest.raises(ValueError, match="integer class labels"):
        ft.ridge_classifier(x, y.astype(float), x)
    with pytest.raises(ValueError, match="at least folds=5"):
        ft.ridge_classifier(x[::2], y[::2], x)


# --- the probe on MNIST ----------------------------------------------------------------------------


def test_raw_pixels_with_1000_labels_beat_75_percent(mnist):
    images, labels = mnist[0][:3000], mnist[1][:3000]
    result = ft.linear_probe(ft.raw_pixel_features(images), labels, 1000, draws=1)
    assert result["num_labels"] == 1000 and result["dim"] == 784 and len(result["accuracies"]) == 1
    assert result["mean"] > 0.75


def test_linear_probe_draws_and_penalties(mnist):
    features, labels = ft.raw_pixel_features(mnist[0][:400]), mnist[1][:400]
    result = ft.linear_probe(features, labels, 100, draws=3, seed=7, penalties=(5.0,))
    assert result["penalties"] == [5.0, 5.0, 5.0] and len(set(result["accuracies"])) > 1
    assert result["mean"] == pytest.approx(np.mean(result["accuracies"]))
    assert result["std"] == pytest.approx(np.std(result["accuracies"]))
    with pytest.raises(ValueError, match="multiple of 10"):
        ft.linear_probe(features, labels, 55)
    with pytest.raises(ValueError, match="positive numbers"):
        ft.linear_probe(features, labels, 100, penalties=())
