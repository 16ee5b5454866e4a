"""dcgan_keras.chapters.latent_space: norms along a path, exemplars and latent arithmetic."""

import numpy as np
import pytest

from dcgan_keras.chapters import latent_space as lt
from dcgan_keras.sampling import latent_noise


def test_norm_profile_matches_numpy_and_checks_shape():
    path = latent_noise(4, 10, seed=0)
    np.testing.assert_allclose(lt.norm_profile(path), [np.sqrt((p.astype("float64") ** 2).sum()) for p in path])
    with pytest.raises(ValueError, match="steps, dim"):
        lt.norm_profile(path[0])


# --- exemplars and arithmetic ---------------------------------------------------------------


def test_pick_exemplars_respects_order_mask_and_size():
    scores = np.array([5.0, 1.0, 9.0, 3.0, 7.0, 2.0])
    np.testing.assert_array_equal(lt.pick_exemplars(scores), [2, 4, 0])
    np.testing.assert_array_equal(lt.pick_exemplars(scores, k=2, largest=False), [1, 5])
    mask = np.array([True, True, False, True, False, True])
    np.testing.assert_array_equal(lt.pick_exemplars(scores, k=2, mask=mask), [0, 3])
    np.testing.assert_array_equal(lt.pick_exemplars(scores, k=2, largest=False, mask=mask), [1, 5])
    with pytest.raises(ValueError, match="Only 2 candidates"):
        lt.pick_exemplars(scores, k=3, mask=[True, False, False, True, False, False])
    with pytest.raises(ValueError, match="shape of scores"):
        lt.pick_exemplars(scores, mask=[True, False])


def test_concept_average_and_latent_arithmetic_match_the_closed_form():
    z = np.arange(24, dtype="float32").reshape(6, 4)
    np.testing.assert_array_equal(lt.concept_average(z, [0, 2, 4]), [8, 9, 10, 11])
    a, b, c = z[:3], z[3:] * 2, -z[1:4]
    expected = a.mean(0) - b.mean(0) + c.mean(0)  # [4..7] - [32..38 step 2] - [8..11]
    result = lt.latent_arithmetic(a, b, c)
    assert result.dtype == np.float32 and result.shape == (4,)
    np.testing.assert_allclose(result, expected)
    np.testing.assert_allclose(result, [4 - 32 - 8, 5 - 34 - 9, 6 - 36 - 10, 7 - 38 - 11])
    with pytest.raises(ValueError, match="same latent size"):
        lt.latent_arithmetic(a, b, c[:, :3])
    with pytest.raises(ValueError, match="empty"):
        lt.concept_average(z, [])


def test_with_jitter_is_bounded_exact_first_and_reproducible():
    z = latent_noise(1, 100, seed=0)[0]
    points = lt.with_jitter(z, 9, scale=0.25, seed=5)
    assert points.shape == (9, 100) and points.dtype == np.float32
    np.testing.assert_array_equal(points[0], z)
    offsets = points[1:] - z
    assert np.abs(offsets).max() <= 0.25 + 1e-6
    assert np.abs(offsets).max() > 0.2  # the noise fills the box, it is not ~0
    np.testing.assert_array_equal(points, lt.with_jitter(z, 9, scale=0.25, seed=5))
    assert not np.array_equal(points, lt.with_jitter(z, 9, scale=0.25, seed=6))
    with pytest.raises(ValueError, match="num"):
        lt.with_jitter(z, 0)


def test_pixel_arithmetic_is_the_clipped_mean_sum():
    rng = np.random.default_rng(0)
    a, b, c = (rng.uniform(-1, 1, (3, 8, 8, 1)).astype("float32") for _ in range(3))
    expected = np.clip(a.mean(0) - b.mean(0) + c.mean(0), -1, 1)
    result = lt.pixel_arithmetic(a, b, c)
    assert result.shape == (8, 8, 1) and result.dtype == np.float32
    np.testing.assert_allclose(result, expected, atol=1e-6)
    ones = np.ones((2, 8, 8, 1), "float32")
    np.testing.assert_array_equal(lt.pixel_arithmetic(ones, -ones, ones), ones[0])  # 3 clipped to 1
    with pytest.raises(ValueError, match="same-sized"):
        lt.pixel_arithmetic(a, b[:, :4], c)


def test_random_directions_have_the_length_asked_for_and_no_preferred_axis():
    directions = lt.random_directions(2000, 8.0, dim=100, seed=0)
    assert np.allclose(np.linalg.norm(directions, axis=1), 8.0, rtol=1e-5)
    assert np.abs(directions.mean(0)).max() < 0.1  # mean 0 up to noise (sd per coordinate 0.8 / sqrt(2000))


def test_direction_effects_measure_the_change_and_the_kept_class():
    import keras

    z = np.random.default_rng(0).normal(size=(16, 100)).astype("float32")
    generator = keras.Sequential([keras.Input((100,)), keras.layers.Dense(4, use_bias=False),
                                  keras.layers.Reshape((2, 2, 1))])
    generator.layers[0].kernel.assign(np.eye(100, 4, dtype="float32"))  # the image is z[:4]
    def mean_pixel(images):
        return images.reshape(len(images), -1).mean(1)

    def sign(images):
        return (images.reshape(len(images), -1)[:, 0] > 0).astype(int)

    shift = np.zeros(100, "float32")
    shift[1] = 0.4  # moves pixel 1 only: the mean rises by 0.1, and the "class" (sign of pixel 0) stays
    flip = np.zeros(100, "float32")
    flip[0] = -10.0  # pixel 0 goes negative for every z: the "class" is kept only where it already was
    (change, kept), (_, flipped_kept) = lt.direction_effects(generator, sign, mean_pixel, z, np.stack([shift, flip]))
    assert change == pytest.approx(0.1, abs=1e-5) and kept == 1.0
    assert flipped_kept == pytest.approx(np.mean(z[:, 0] <= 0))
