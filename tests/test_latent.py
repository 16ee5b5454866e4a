"""dcgan_keras.latent and gan.interpolate: slerp, digit concepts, latent arithmetic."""

import numpy as np
import pytest

from dcgan_keras.gan import interpolate, latent_noise
from dcgan_keras import latent as lt

SIZE = 28


# --- interpolation ---------------------------------------------------------------------


def test_linear_default_is_unchanged():
    a, b = latent_noise(2, 100, seed=0)
    weights = np.linspace(0.0, 1.0, 9, dtype="float32")[:, None]
    path = interpolate(a, b, 9)
    assert path.dtype == np.float32 and path.shape == (9, 100)
    np.testing.assert_array_equal(path, (1.0 - weights) * a[None] + weights * b[None])
    np.testing.assert_array_equal(interpolate(a, b, 9, method="linear"), path)


@pytest.mark.parametrize("method", ["linear", "spherical"])
def test_endpoints_are_exact(method):
    a, b = latent_noise(2, 100, seed=1)
    path = interpolate(a, b, 7, method=method)
    assert path.dtype == np.float32 and path.shape == (7, 100)
    np.testing.assert_array_equal(path[0], a)
    np.testing.assert_array_equal(path[-1], b)


def test_slerp_of_orthogonal_vectors_follows_the_circle():
    radius, steps = 10.0, 11
    a = np.zeros(100, "float32")
    b = np.zeros(100, "float32")
    a[3], b[40] = radius, radius
    path = interpolate(a, b, steps, method="spherical")
    angle = np.linspace(0.0, 1.0, steps) * np.pi / 2  # w = 90 degrees
    np.testing.assert_allclose(path[:, 3], radius * np.cos(angle), atol=1e-5)
    np.testing.assert_allclose(path[:, 40], radius * np.sin(angle), atol=1e-5)
    np.testing.assert_allclose(lt.norm_profile(path), radius, rtol=1e-6)
    # The straight line dips to radius / sqrt(2) halfway.
    assert lt.norm_profile(interpolate(a, b, steps))[steps // 2] == pytest.approx(radius / np.sqrt(2), rel=1e-6)


def test_linear_midpoint_falls_inside_the_gaussian_shell_and_slerp_does_not():
    z = latent_noise(400, 100, seed=2)
    ends, linear, spherical = [], [], []
    for a, b in zip(z[::2], z[1::2]):
        ends.append((np.linalg.norm(a) + np.linalg.norm(b)) / 2)
        linear.append(lt.norm_profile(interpolate(a, b, 5))[2])
        spherical.append(lt.norm_profile(interpolate(a, b, 5, method="spherical"))[2])
    linear_ratio, spherical_ratio = np.mean(linear) / np.mean(ends), np.mean(spherical) / np.mean(ends)
    assert linear_ratio == pytest.approx(1 / np.sqrt(2), abs=0.03)
    assert spherical_ratio == pytest.approx(1.0, abs=0.03)  # far outside the linear band


@pytest.mark.parametrize("factor", [2.0, -3.0, 0.0])
def test_parallel_vectors_fall_back_to_the_line(factor):
    a = latent_noise(1, 100, seed=3)[0]
    b = (factor * a).astype("float32")
    path = interpolate(a, b, 6, method="spherical")
    assert np.isfinite(path).all()
    np.testing.assert_allclose(path, interpolate(a, b, 6), rtol=1e-6)


def test_bad_method_and_shapes_raise():
    a, b = latent_noise(2, 100, seed=0)
    with pytest.raises(ValueError, match="'linear' or 'spherical'"):
        interpolate(a, b, 5, method="cubic")
    with pytest.raises(ValueError, match="1-D vectors"):
        interpolate(a[None], b[None], 5, method="spherical")


def test_norm_profile_matches_numpy_and_checks_shape():
    path = latent_noise(4, 10, seed=0)
    np.testing.assert_allclose(lt.norm_profile(path), [np.sqrt((p.astype("float64") ** 2).sum()) for p in path])
    with pytest.raises(ValueError, match="steps, dim"):
        lt.norm_profile(path[0])


# --- concepts of a digit ------------------------------------------------------------------


def _canvas():
    return -np.ones((SIZE, SIZE), "float32")


def _line(shear, width=1, rows=range(4, 24)):
    """A stroke x = 14 + shear * (y - y0), drawn row by row; y counts up."""
    image = _canvas()
    for row in rows:
        up = (SIZE - 1 - row) - 14
        column = int(round(14 + shear * up))
        image[row, column : column + width] = 1.0
    return image


def test_stroke_thickness_is_the_ink_share():
    thin, thick = _line(0.0, width=1), _line(0.0, width=3)
    values = lt.stroke_thickness(np.stack([_canvas(), thin, thick]))
    assert values.dtype == np.float32 and values.shape == (3,)
    np.testing.assert_allclose(values, [0.0, 20 / SIZE**2, 60 / SIZE**2], rtol=1e-6)
    # A trailing channel axis is the same images.
    np.testing.assert_allclose(lt.stroke_thickness(np.stack([thin, thick])[..., None]), values[1:])


def test_slant_sign_and_size():
    images = np.stack([_line(1.0), _line(-1.0), _line(0.0), _line(0.5), _canvas()])
    values = lt.slant(images)
    assert values.dtype == np.float32 and values.shape == (5,)
    right, left, upright, half, blank = values
    assert right == pytest.approx(1.0, abs=1e-6)  # "/" at 45 degrees: dx/dy = 1
    assert left == pytest.approx(-1.0, abs=1e-6)  # "\"
    assert upright == pytest.approx(0.0, abs=1e-6)  # "|"
    assert half == pytest.approx(0.5, abs=0.02)  # rounded to whole pixels
    assert blank == 0.0


def test_slant_of_a_flat_stroke_is_zero_not_nan():
    image = _canvas()
    image[14, 4:24] = 1.0
    assert lt.slant(image[None])[0] == 0.0
    with pytest.raises(ValueError, match="image\\[None\\]"):
        lt.slant(image)


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
