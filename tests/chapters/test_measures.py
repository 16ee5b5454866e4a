"""dcgan_keras.chapters.measures: distances, nearest neighbours, stroke thickness and slant."""

import numpy as np
import pytest

from dcgan_keras.chapters import measures

SIZE = 28


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


# --- distances ----------------------------------------------------------------------

def test_pairwise_distances_match_brute_force():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 4, 4, 1)), rng.normal(size=(3, 4, 4, 1))
    brute = np.array([[np.linalg.norm(x - y) for y in b] for x in a])
    np.testing.assert_allclose(measures.pairwise_distances(a, b), brute, rtol=1e-9)
    assert np.allclose(np.diag(measures.pairwise_distances(a)), 0.0)


def test_nearest_neighbours_matches_brute_force():
    rng = np.random.default_rng(1)
    reference, images = rng.standard_normal((50, 4, 4, 1)), rng.standard_normal((7, 4, 4, 1))
    index, distance = measures.nearest_neighbours(images, reference, chunk=3)
    brute = np.sqrt(((images[:, None] - reference[None]) ** 2).mean(axis=(2, 3, 4)))
    np.testing.assert_array_equal(index, brute.argmin(axis=1))
    np.testing.assert_allclose(distance, brute.min(axis=1), rtol=1e-4)


# --- stroke thickness and slant -----------------------------------------------------


def test_stroke_thickness_is_the_ink_share():
    thin, thick = _line(0.0, width=1), _line(0.0, width=3)
    values = measures.stroke_thickness(np.stack([_canvas(), thin, thick]))
    assert values.dtype == np.float32 and values.shape == (3,)
    np.testing.assert_allclose(values, [0.0, 20 / SIZE**2, 60 / SIZE**2], rtol=1e-6)
    # A trailing channel axis is the same images.
    np.testing.assert_allclose(measures.stroke_thickness(np.stack([thin, thick])[..., None]), values[1:])


def test_slant_sign_and_size():
    images = np.stack([_line(1.0), _line(-1.0), _line(0.0), _line(0.5), _canvas()])
    values = measures.slant(images)
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
    assert measures.slant(image[None])[0] == 0.0
    with pytest.raises(ValueError, match="image\\[None\\]"):
        measures.slant(image)


def test_slant_of_a_drawn_stroke_flips_with_the_mirror_image():
    image = -np.ones((1, 28, 28, 1))
    leaning_right = image.copy()
    for row in range(4, 24):  # a stroke whose top is further right than its bottom
        leaning_right[0, row, 24 - row // 2 - 2 : 24 - row // 2, 0] = 1.0
    leaning_left = leaning_right[:, :, ::-1]
    assert measures.slant(leaning_right)[0] > 0.3
    assert measures.slant(leaning_left)[0] == pytest.approx(-measures.slant(leaning_right)[0])
    assert measures.stroke_thickness(np.ones((1, 4, 4, 1)))[0] == 1.0 and measures.stroke_thickness(image)[0] == 0.0


# --- duplicates and checkerboards ----------------------------------------------------


def test_near_duplicates_are_counted_by_distance_to_the_nearest_other_image():
    rng = np.random.default_rng(0)
    distinct = rng.uniform(-1, 1, (6, 8, 8, 3))
    twins = np.concatenate([distinct[:3], distinct[:3] + 0.01])  # three pairs, 0.01 apart
    np.testing.assert_allclose(measures.nearest_other(twins), 0.01, rtol=1e-6)
    assert measures.near_duplicate_fraction(twins, threshold=0.05) == 1.0
    assert measures.near_duplicate_fraction(distinct, threshold=0.05) == 0.0
    assert measures.near_duplicate_fraction(np.concatenate([distinct[:4], distinct[:1] + 0.01]), 0.05) == 0.4


def test_twin_distances_look_only_inside_each_group():
    images = np.zeros((5, 2, 2, 1))
    images[1] += 0.5  # group 0: images 0 and 1, RMS 0.5 apart
    images[3:] = 3.0  # group 1 is image 2 alone; group 2: images 3, 4 identical
    distances = measures.twin_distances(images, np.array([0, 0, 1, 2, 2]))
    np.testing.assert_allclose(sorted(distances), [0.0, 0.0, 0.5, 0.5])


def test_checkerboard_amplitude_of_a_pure_pattern_and_of_smooth_images():
    rows, columns = np.mgrid[0:8, 0:8]
    pattern = np.where((rows + columns) % 2 == 0, 0.3, -0.3)[None, ..., None]
    assert measures.checkerboard_amplitude(pattern) == pytest.approx(0.3)
    ramp = np.broadcast_to(np.linspace(-1, 1, 8), (1, 8, 8))[..., None]
    assert measures.checkerboard_amplitude(ramp) == pytest.approx(0.0, abs=1e-12)
    assert measures.checkerboard_amplitude(np.ones((2, 8, 8, 3))) == 0.0
    with pytest.raises(ValueError, match="even"):
        measures.checkerboard_amplitude(np.ones((1, 7, 8, 1)))


def test_copy_check_finds_copies_and_passes_new_images():
    rng = np.random.default_rng(0)
    training = rng.uniform(-1, 1, (200, 8, 8, 1))
    copies = measures.copy_check(training[:50] + 1e-4, training)
    assert copies["below"] == 1.0 and copies["sample_median"] < 1e-3
    fresh = measures.copy_check(rng.uniform(-1, 1, (500, 8, 8, 1)), training)
    # New draws of the same distribution sit as far from the training set as its members from each other.
    assert fresh["below"] < 0.1 and fresh["sample_median"] == pytest.approx(fresh["real_median"], rel=0.1)
