"""sampling.interpolate: straight lines and arcs between latent points (notebook 05, section 4)."""

import numpy as np
import pytest

from dcgan_keras import cli, sampling
from dcgan_keras.errors import UsageError
from dcgan_keras.sampling import interpolate, latent_noise


def test_linear_is_the_straight_line():
    a, b = latent_noise(2, 100, seed=0)
    weights = np.linspace(0.0, 1.0, 9, dtype="float32")[:, None]
    path = interpolate(a, b, 9, method="linear")
    assert path.dtype == np.float32 and path.shape == (9, 100)
    np.testing.assert_array_equal(path, (1.0 - weights) * a[None] + weights * b[None])


def test_the_default_is_spherical_in_the_library_and_the_command_line():
    a, b = latent_noise(2, 100, seed=0)
    np.testing.assert_array_equal(interpolate(a, b, 9), interpolate(a, b, 9, method="spherical"))
    assert not np.allclose(interpolate(a, b, 9), interpolate(a, b, 9, method="linear"))
    args = cli.build_parser().parse_args(["sample", "--generator", "g.keras"])
    assert args.interpolation == sampling.DEFAULT_INTERPOLATION == "spherical"


def _slerp(a, b, t):
    """The closed form, in float64: sin((1-t)w)/sin(w) a + sin(tw)/sin(w) b, w the angle between a and b."""
    a, b = np.asarray(a, "float64"), np.asarray(b, "float64")
    angle = np.arccos(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    return np.array([(np.sin((1 - s) * angle) * a + np.sin(s * angle) * b) / np.sin(angle) for s in t]), angle


def test_spherical_matches_the_closed_form():
    a, b = latent_noise(2, 100, seed=4)
    steps = 8
    path = interpolate(a, b, steps, method="spherical")
    oracle, angle = _slerp(a, b, np.linspace(0.0, 1.0, steps))
    np.testing.assert_allclose(path, oracle, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(path[0], a)
    np.testing.assert_array_equal(path[-1], b)
    assert 0.3 < angle < np.pi - 0.3  # a real arc, not the parallel fallback


def test_spherical_between_equal_norms_keeps_the_norm_in_constant_angle_steps():
    a, b = latent_noise(2, 100, seed=5).astype("float64")
    b *= np.linalg.norm(a) / np.linalg.norm(b)
    steps = 13
    path = interpolate(a, b, steps, method="spherical")
    assert path.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), np.linalg.norm(a), rtol=1e-12)
    # Constant angle steps: neighbours are w / (steps - 1) apart, and point k is k w / (steps - 1) from a.
    _, angle = _slerp(a, b, [])
    unit = path / np.linalg.norm(path, axis=1, keepdims=True)
    between = np.arccos(np.clip(np.sum(unit[1:] * unit[:-1], axis=1), -1, 1))
    np.testing.assert_allclose(between, angle / (steps - 1), rtol=1e-9)
    from_start = np.arccos(np.clip(unit @ unit[0], -1, 1))
    np.testing.assert_allclose(from_start, np.arange(steps) * angle / (steps - 1), atol=1e-7)  # arccos near 1
    # A straight line between them does not: it dips in between.
    assert (np.linalg.norm(interpolate(a, b, 13, method="linear")[1:-1], axis=1) < np.linalg.norm(a) * 0.99).all()


@pytest.mark.parametrize("method", ["linear", "spherical"])
def test_a_batch_gives_one_path_per_row_equal_to_the_single_paths(method):
    z = latent_noise(10, 100, seed=6)
    starts, ends = z[:5].copy(), z[5:].copy()
    ends[3] = -2.0 * starts[3]  # an antiparallel row: the line, within the batch too
    path = interpolate(starts, ends, 7, method=method)
    assert path.shape == (5, 7, 100) and path.dtype == np.float32
    for row in range(5):
        np.testing.assert_array_equal(path[row], interpolate(starts[row], ends[row], 7, method=method))
    np.testing.assert_array_equal(path[:, 0], starts)
    np.testing.assert_array_equal(path[:, -1], ends)
    # The layout for sample() and a grid of `steps` columns: the paths one after another.
    np.testing.assert_array_equal(path.reshape(-1, 100)[7:14], path[1])
    assert interpolate(starts[:0], ends[:0], 7, method=method).shape == (0, 7, 100)


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
    midpoint = interpolate(a, b, steps, method="linear")[steps // 2]
    assert np.linalg.norm(midpoint) == pytest.approx(radius / np.sqrt(2), rel=1e-6)


def test_linear_midpoint_falls_inside_the_gaussian_shell_and_slerp_does_not():
    z = latent_noise(400, 100, seed=2)
    ends, linear, spherical = [], [], []
    for a, b in zip(z[::2], z[1::2]):
        ends.append((np.linalg.norm(a) + np.linalg.norm(b)) / 2)
        linear.append(np.linalg.norm(interpolate(a, b, 5, method="linear"), axis=1)[2])
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
    np.testing.assert_allclose(path, interpolate(a, b, 6, method="linear"), rtol=1e-6)


def _one_line(raised):
    message = str(raised.value)
    assert isinstance(raised.value, UsageError) and isinstance(raised.value, ValueError)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("start, end, steps, expected", [
    ((100,), (100,), 0, "steps must be a whole number"),
    ((100,), (100,), 2.5, "steps must be a whole number"),
    ((100,), (99,), 5, r"got \(100,\) and \(99,\)"),
    ((2, 100), (100,), 5, r"got \(2, 100\) and \(100,\)"),
    ((2, 100), (3, 100), 5, "same shape"),
    ((2, 2, 100), (2, 2, 100), 5, r"\(latent_dim,\) or \(batch, latent_dim\)"),
    ((), (), 5, "same shape"),
])
@pytest.mark.parametrize("method", ["linear", "spherical"])
def test_bad_shapes_raise_a_one_line_usage_error(start, end, steps, expected, method):
    with pytest.raises(UsageError, match=expected) as raised:
        interpolate(np.ones(start, "float32"), np.ones(end, "float32"), steps, method=method)
    _one_line(raised)


def test_a_bad_method_raises_a_one_line_usage_error():
    a, b = latent_noise(2, 100, seed=0)
    with pytest.raises(UsageError, match="'linear' or 'spherical'") as raised:
        interpolate(a, b, 5, method="cubic")
    _one_line(raised)
