"""gan.interpolate: straight lines and arcs between latent points (notebook 05, section 4)."""

import numpy as np
import pytest

from dcgan_keras.sampling import interpolate, latent_noise


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
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), radius, rtol=1e-6)
    # The straight line dips to radius / sqrt(2) halfway.
    assert np.linalg.norm(interpolate(a, b, steps), axis=1)[steps // 2] == pytest.approx(radius / np.sqrt(2), rel=1e-6)


def test_linear_midpoint_falls_inside_the_gaussian_shell_and_slerp_does_not():
    z = latent_noise(400, 100, seed=2)
    ends, linear, spherical = [], [], []
    for a, b in zip(z[::2], z[1::2]):
        ends.append((np.linalg.norm(a) + np.linalg.norm(b)) / 2)
        linear.append(np.linalg.norm(interpolate(a, b, 5), axis=1)[2])
        spherical.append(np.linalg.norm(interpolate(a, b, 5, method="spherical"), axis=1)[2])
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
