"""The reference numbers in tests/test_swd_ms_ssim.py, from the original code, outside the package.

PGGAN's numpy metrics (tkarras/progressive_growing_of_gans, commit 2504c3f3cb98ca58751610ad61fa1097313152bd,
metrics/sliced_wasserstein.py and metrics/ms_ssim.py) and TensorFlow's tf.image.ssim_multiscale. Copy the two
PGGAN files next to this script (they are CC BY-NC, so not shipped here) and run

    python benchmarks/swd_ms_ssim_reference.py

with numpy, scipy and tensorflow installed (measured: numpy 2.4.6, scipy 1.17.1, tensorflow 2.21.0).
"""

import os
import sys

import numpy as np


def _pggan():
    """PGGAN's metrics/ms_ssim.py and metrics/sliced_wasserstein.py, copied beside this script (not shipped):
    imported only when the reference numbers are made, so the tests can share the input sets below."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import ms_ssim
    import sliced_wasserstein

    return ms_ssim, sliced_wasserstein


def noise_sets():
    """16 RGB 32x32 images of noise, and 16 of smoothed noise (tests/test_swd_ms_ssim.py uses them too)."""
    rng = np.random.default_rng(29)
    a = rng.uniform(-1, 1, (16, 32, 32, 3)).astype("float32")
    b = rng.uniform(-1, 1, (16, 32, 32, 3)).astype("float32")
    return a, (b + np.roll(b, 1, axis=1) + np.roll(b, 1, axis=2)) / 3


def gray_sets():
    """8 gray 64x64 images of smoothed noise, and 8 of plain noise."""
    rng = np.random.default_rng(64)
    c = rng.uniform(-1, 1, (8, 64, 64, 1)).astype("float32")
    c = (c + np.roll(c, 1, axis=1) + np.roll(c, 2, axis=2)) / 3
    return c, rng.uniform(-1, 1, (8, 64, 64, 1)).astype("float32")


def reference_swd(a, b, seed, num_levels):
    """PGGAN's functions after np.random.seed(seed): per level A's patches, B's patches, then 4 x 128 directions.

    NHWC in [-1, 1] -> NCHW, as PGGAN's feed() gets them; copies, because generate_laplacian_pyramid
    subtracts in place from a float32 input.
    """
    np.random.seed(seed)
    _, swd = _pggan()
    pyramid_a = swd.generate_laplacian_pyramid(a.transpose(0, 3, 1, 2).copy(), num_levels)
    pyramid_b = swd.generate_laplacian_pyramid(b.transpose(0, 3, 1, 2).copy(), num_levels)
    distances = []
    for level_a, level_b in zip(pyramid_a, pyramid_b):
        patches_a = swd.finalize_descriptors(swd.get_descriptors_for_minibatch(level_a, 7, 128))
        patches_b = swd.finalize_descriptors(swd.get_descriptors_for_minibatch(level_b, 7, 128))
        distances.append(swd.sliced_wasserstein(patches_a, patches_b, 4, 128) * 1e3)
    return distances + [np.mean(distances)]


def to255(images):
    return (images.astype("float64") + 1) * 127.5  # [-1, 1] -> 0..255, the range MMagic's evaluator scores


def main():
    a, b = noise_sets()
    gray, noise = gray_sets()
    print("SWD noise vs smoothed, seed 0:", [f"{v:.6f}" for v in reference_swd(a, b, 0, 2)])
    print("SWD gray channel repeated to RGB, seed 3:",
          [f"{v:.6f}" for v in reference_swd(np.repeat(a[..., :1], 3, -1), np.repeat(b[..., :1], 3, -1), 3, 2)])
    print("SWD 64x64 gray repeated to RGB, seed 1:",
          [f"{v:.6f}" for v in reference_swd(np.repeat(gray, 3, -1), np.repeat(noise, 3, -1), 1, 3)])
    ms_ssim, _ = _pggan()
    print("MS-SSIM noise pairs (0::2 vs 1::2):", f"{ms_ssim.msssim(to255(a[0::2]), to255(a[1::2])):.6f}")
    print("MS-SSIM noise vs smoothed:", f"{ms_ssim.msssim(to255(a), to255(b)):.6f}")
    print("MS-SSIM noise vs 0.8 x noise:", f"{ms_ssim.msssim(to255(a), to255(a * 0.8)):.6f}")

    import tensorflow as tf

    rng = np.random.default_rng(7)
    big = rng.uniform(-1, 1, (4, 192, 192, 3)).astype("float32")
    alike = np.clip(0.6 * big + 0.4 * rng.uniform(-1, 1, big.shape), -1, 1).astype("float32")
    scores = tf.image.ssim_multiscale(tf.constant(to255(big)), tf.constant(to255(alike)), max_val=255.0).numpy()
    print(f"tf {tf.__version__} ssim_multiscale, 4 pairs of 192x192x3:", [f"{s:.6f}" for s in scores])


if __name__ == "__main__":
    main()
