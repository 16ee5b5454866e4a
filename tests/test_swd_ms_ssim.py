"""SWD and MS-SSIM: closed forms, and the numbers of the original code (PGGAN's numpy metrics, TensorFlow)."""

import math
import pathlib
import sys

import numpy as np
import pytest

from dcgan_keras import metrics

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "benchmarks"))
from swd_ms_ssim_reference import gray_sets, noise_sets  # noqa: E402  (the inputs the reference numbers came from)

# Produced by benchmarks/swd_ms_ssim_reference.py: PGGAN's metrics/sliced_wasserstein.py and metrics/ms_ssim.py
# (tkarras/progressive_growing_of_gans, commit 2504c3f3cb98ca58751610ad61fa1097313152bd) on numpy 2.4.6 and
# scipy 1.17.1, and tf.image.ssim_multiscale(a, b, max_val=255.0) of TensorFlow 2.21.0. SWD: after
# np.random.seed(seed), per level get_descriptors_for_minibatch(level, 7, 128) of A then of B,
# finalize_descriptors, sliced_wasserstein(A, B, 4, 128) * 1e3; a gray channel repeated to RGB. MS-SSIM:
# msssim(a, b) on the images mapped to 0..255. Printed to 6 decimals.
PGGAN_SWD_NOISE_SEED_0 = (49.620331, 61.810978, 55.715652)  # 32, 16, average
PGGAN_SWD_GRAY_CHANNEL_SEED_3 = (63.749275, 71.429703, 67.589493)
PGGAN_SWD_GRAY_64_SEED_1 = (74.098572, 64.850258, 89.644264, 76.197693)  # 64, 32, 16, average
PGGAN_MS_SSIM_NOISE_PAIRS, PGGAN_MS_SSIM_NOISE_SMOOTHED, PGGAN_MS_SSIM_SCALED = 0.095769, 0.033254, 0.981548
TF_MS_SSIM_192 = (0.828273, 0.824375, 0.828127, 0.825025)
# Ours and PGGAN's run the same float32 steps in another order (separable filters): agreement to 1e-5 relative.
# TensorFlow filters in float32 with its own convolution: within 1e-4.


def swd_values(result):
    return (*result["per_scale"].values(), result["avg"])


def test_swd_matches_pggans_code():
    a, b = noise_sets()
    result = metrics.sliced_wasserstein(a, b, seed=0)
    assert list(result["per_scale"]) == [32, 16]
    assert swd_values(result) == pytest.approx(PGGAN_SWD_NOISE_SEED_0, rel=1e-5)
    gray = metrics.sliced_wasserstein(a[..., :1], b[..., :1], seed=3)
    assert swd_values(gray) == pytest.approx(PGGAN_SWD_GRAY_CHANNEL_SEED_3, rel=1e-5)
    three_levels = metrics.sliced_wasserstein(*gray_sets(), seed=1)
    assert list(three_levels["per_scale"]) == [64, 32, 16]
    assert swd_values(three_levels) == pytest.approx(PGGAN_SWD_GRAY_64_SEED_1, rel=1e-5)


def test_swd_of_a_set_with_itself_is_only_the_noise_of_its_random_patches():
    # The patches are drawn at random positions for each set (as in PGGAN), so a set against itself scores
    # the sampling noise, which shrinks with more images. The same patches in any order score 0, to float32
    # rounding (BLAS may sum a row in another order).
    rng = np.random.default_rng(5)
    few, many = rng.uniform(-1, 1, (8, 32, 32, 3)), rng.uniform(-1, 1, (64, 32, 32, 3))
    floor_few, floor_many = (metrics.sliced_wasserstein(images, images)["avg"] for images in (few, many))
    assert 0 < floor_many < 0.5 * floor_few  # about 55 and 20
    patches = rng.standard_normal((1000, 147))
    assert metrics.sliced_wasserstein_points(patches, rng.permutation(patches)) == pytest.approx(0.0, abs=1e-6)


def test_swd_ignores_the_pixel_range():
    # Normalised patches: 0..255 (PGGAN's input) and [-1, 1] (MMagic's) give one SWD for one seed.
    a, b = noise_sets()
    assert swd_values(metrics.sliced_wasserstein((a + 1) * 127.5, b)) == pytest.approx(
        swd_values(metrics.sliced_wasserstein(a, b)), rel=1e-4)


def test_sliced_wasserstein_of_shifted_points_is_the_mean_projected_shift():
    rng = np.random.default_rng(0)
    points = rng.standard_normal((500, 1))
    # In one dimension every direction is +-1: the distance is the shift itself, in any order.
    assert metrics.sliced_wasserstein_points(points, rng.permutation(points + 3.0)) == pytest.approx(3.0, rel=1e-6)
    # In D dimensions a shift v moves every projection on u by u.v, so the distance is the mean |u.v| over
    # the directions; for uniform u its expectation is |v| Gamma(D/2) / (sqrt(pi) Gamma((D+1)/2)).
    dim, shift = 16, np.full(16, 0.5)
    points = rng.standard_normal((300, dim))
    expected = np.linalg.norm(shift) * math.gamma(dim / 2) / (math.sqrt(math.pi) * math.gamma((dim + 1) / 2))
    # 8 x 128 directions: the mean of 1,024 |u.v| is within a few percent of its expectation.
    distance = metrics.sliced_wasserstein_points(points, points + shift, repeats=8, seed=1)
    assert distance == pytest.approx(expected, rel=0.05)


def test_swd_rejects_what_it_cannot_compare():
    a, _ = noise_sets()
    with pytest.raises(ValueError, match="equally many"):
        metrics.sliced_wasserstein(a, a[:8])
    with pytest.raises(ValueError, match="smaller"):
        metrics.sliced_wasserstein(a[:, :8, :8], a[:, :8, :8])
    with pytest.raises(ValueError, match="divide by 2"):
        metrics.sliced_wasserstein(np.zeros((2, 35, 35, 3)), np.zeros((2, 35, 35, 3)))
    assert list(metrics.sliced_wasserstein(a[:, :28, :28], a[:, :28, :28])["per_scale"]) == [28]  # MNIST: one level


def test_ms_ssim_matches_pggans_code_and_tensorflow():
    a, b = noise_sets()
    assert metrics.pairwise_ms_ssim(a) == pytest.approx(PGGAN_MS_SSIM_NOISE_PAIRS, rel=1e-5, abs=1e-6)
    assert metrics.ms_ssim(a, b).mean() == pytest.approx(PGGAN_MS_SSIM_NOISE_SMOOTHED, rel=1e-5, abs=1e-6)
    assert metrics.ms_ssim(a, a * 0.8).mean() == pytest.approx(PGGAN_MS_SSIM_SCALED, rel=1e-5)
    rng = np.random.default_rng(7)
    big = rng.uniform(-1, 1, (4, 192, 192, 3)).astype("float32")
    alike = np.clip(0.6 * big + 0.4 * rng.uniform(-1, 1, big.shape), -1, 1).astype("float32")
    assert metrics.ms_ssim(big, alike) == pytest.approx(TF_MS_SSIM_192, abs=1e-4)


def test_ms_ssim_of_an_image_with_itself_is_one():
    a, _ = noise_sets()
    assert metrics.ms_ssim(a, a) == pytest.approx(np.ones(len(a)), abs=1e-12)
    # A collapsed generator: every pair the same image.
    assert metrics.pairwise_ms_ssim(np.repeat(a[:1], 6, axis=0)) == pytest.approx(1.0, abs=1e-12)
    # Gray and its RGB copy score alike; 28x28 (odd at 7x7) works, losing a row and column per odd halving.
    digits = a[:4, :28, :28, :1]
    assert metrics.ms_ssim(digits[:2], digits[2:]) == pytest.approx(
        metrics.ms_ssim(np.repeat(digits[:2], 3, -1), np.repeat(digits[2:], 3, -1)), rel=1e-12)


def test_pairwise_ms_ssim_pairs_neighbours_in_chunks(monkeypatch):
    a, _ = noise_sets()
    expected = metrics.ms_ssim(a[0:14:2], a[1:14:2]).mean()  # 15 images: 7 pairs, the last image left out
    monkeypatch.setattr(metrics, "_PAIR_CHUNK", 3)
    assert metrics.pairwise_ms_ssim(a[:15]) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="at least 2"):
        metrics.pairwise_ms_ssim(a[:1])
    with pytest.raises(ValueError, match="at least 16"):
        metrics.ms_ssim(a[:, :8, :8], a[:, :8, :8])
