"""Sample-quality scores from features: FID, KID and class coverage (numpy only).

These are the formulas; ``dcgan_keras.evaluate`` supplies the features (an
MNIST classifier's, or InceptionV3's) and the images.

- FID (Heusel et al., 2017): fit a Gaussian to each feature set and take the
  Frechet distance between them. Low is good. It is biased upwards for small
  samples, so only compare FIDs computed with the same number of images.
- KID (Binkowski et al., 2018): the squared MMD with the kernel
  ``k(x, y) = (x.y / d + 1)**3``, estimated without bias and averaged over
  random subsets. Its expectation is 0 when both sets come from one
  distribution, whatever the sample size, so small-sample KIDs are comparable.
- Class coverage: how a classifier spreads the generated images over the
  classes. A collapsed generator draws a few digits; FID sees that only
  indirectly.
- SWD (Karras et al., 2018, appendix D): the sliced Wasserstein distance
  between 7x7 patches of two image sets' Laplacian pyramids, one distance per
  scale. Needs no trained network: it compares the images themselves.
- MS-SSIM between pairs of generated images (Odena et al., 2017): how alike
  two samples are across scales. Lower means more diverse; compare it with
  the training images' own value.
"""

import numpy as np


def feature_statistics(features):
    """Mean and covariance (float64) of an (N, D) feature array."""
    features = _as_features(features)
    if len(features) < 2:
        raise ValueError(f"Need at least 2 feature vectors for a covariance, got {len(features)}.")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def trace_sqrt_product(cov_a, cov_b):
    """``trace(sqrtm(cov_a @ cov_b))`` for symmetric positive semi-definite inputs.

    ``cov_a @ cov_b`` is not symmetric, which is why scipy's ``sqrtm`` can
    return complex values or fail when a covariance is singular (fewer images
    than features, or dead features). But it is similar to the symmetric
    ``S = A^1/2 B A^1/2``, so their eigenvalues agree, and the trace of the
    root is the sum of the square roots of ``S``'s eigenvalues. Tiny negative
    eigenvalues from rounding are clipped to 0.
    """
    root_a = _psd_sqrt(cov_a)
    middle = root_a @ cov_b @ root_a
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
    return float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())


def frechet_distance(mean_a, cov_a, mean_b, cov_b):
    """The Frechet (2-Wasserstein) distance between two Gaussians, squared.

    ``|mu_a - mu_b|^2 + tr(A) + tr(B) - 2 tr((A B)^1/2)``.
    """
    mean_a, mean_b = np.asarray(mean_a, "float64"), np.asarray(mean_b, "float64")
    cov_a, cov_b = np.atleast_2d(cov_a).astype("float64"), np.atleast_2d(cov_b).astype("float64")
    if mean_a.shape != mean_b.shape or cov_a.shape != cov_b.shape:
        raise ValueError(
            f"Both Gaussians need the same dimension: means {mean_a.shape} vs {mean_b.shape}, "
            f"covariances {cov_a.shape} vs {cov_b.shape}."
        )
    distance = np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b)
    distance -= 2 * trace_sqrt_product(cov_a, cov_b)
    # Rounding can leave -1e-12 for identical inputs; a distance is never negative.
    return max(float(distance), 0.0)


def fid(features_a, features_b):
    """The Frechet Inception Distance between two (N, D) feature sets."""
    return frechet_distance(*feature_statistics(features_a), *feature_statistics(features_b))


def polynomial_kernel(x, y):
    """KID's kernel, ``(x.y / d + 1)**3``: it matches means, covariances and skew."""
    k = x @ y.T
    k /= x.shape[1]
    k += 1.0
    return k * k * k  # numpy's ** 3 calls pow() per element: three times slower than the product


def mmd2_unbiased(x, y):
    """The unbiased estimate of the squared MMD between samples x and y.

    The diagonals of k(x, x) and k(y, y) (each point with itself) are left
    out; including them is what biases the plain estimate upwards.
    """
    m, n = len(x), len(y)
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    within_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(within_x + within_y - 2 * k_xy.mean())


def kid(features_a, features_b, num_subsets=100, subset_size=1000, seed=0):
    """Kernel Inception Distance: mean and standard deviation over random subsets.

    Each subset draws ``subset_size`` vectors from each set without
    replacement (all of them when a set is smaller), as in Binkowski et al.
    When both sets hold the same number of vectors, at most ``subset_size``, every subset is the
    same pair of sets, so the estimate is computed once and its spread is 0.
    """
    features_a, features_b = _as_features(features_a), _as_features(features_b)
    if features_a.shape[1] != features_b.shape[1]:
        raise ValueError(f"Feature sizes differ: {features_a.shape[1]} vs {features_b.shape[1]}.")
    size = min(subset_size, len(features_a), len(features_b))
    if size < 2:
        raise ValueError(f"KID needs at least 2 vectors per set, got {len(features_a)} and {len(features_b)}.")
    if size == len(features_a) == len(features_b):  # every "subset" is the whole of both sets: one estimate
        return mmd2_unbiased(features_a, features_b), 0.0
    rng = np.random.default_rng(seed)
    estimates = [
        mmd2_unbiased(
            features_a[rng.choice(len(features_a), size, replace=False)],
            features_b[rng.choice(len(features_b), size, replace=False)],
        )
        for _ in range(num_subsets)
    ]
    return float(np.mean(estimates)), float(np.std(estimates))


def class_coverage(probabilities, reference_shares=None, min_share=0.01):
    """How generated images spread over a classifier's classes.

    Args:
        probabilities: (N, C) softmax outputs for N generated images.
        reference_shares: the data's class distribution (uniform if None).
        min_share: a class "appears" when at least this fraction of the
            images is assigned to it. A classifier puts a few images in every
            class by mistake, so counting classes with one image would always
            say 10.

    Returns a dict: ``shares`` (the predicted-class histogram, normalised),
    ``kl`` (KL(generated || data) in nats: 0 for a perfect spread, log 10 = 2.30
    when every image is one digit), ``classes`` (how many appear) and
    ``confidence`` (the mean top probability: low means ambiguous images).
    """
    probabilities = np.asarray(probabilities, "float64")
    if probabilities.ndim != 2:
        raise ValueError(f"probabilities must be (N, classes), got shape {probabilities.shape}.")
    num_classes = probabilities.shape[1]
    reference = (np.full(num_classes, 1.0 / num_classes) if reference_shares is None
                 else np.asarray(reference_shares, "float64"))
    shares = np.bincount(probabilities.argmax(axis=1), minlength=num_classes) / len(probabilities)
    present = shares > 0
    return {
        "shares": shares,
        "kl": float(np.sum(shares[present] * np.log(shares[present] / reference[present]))),
        "classes": int(np.sum(shares >= min_share)),
        "confidence": float(probabilities.max(axis=1).mean()),
    }


def _as_features(features):
    features = np.asarray(features, "float64")
    if features.ndim != 2:
        raise ValueError(f"Features must be a 2-D (N, D) array, got shape {features.shape}.")
    if not np.all(np.isfinite(features)):
        raise ValueError("Features contain NaN or inf: check the images (a diverged generator?).")
    return features


def _psd_sqrt(matrix):
    """The symmetric square root of a PSD matrix, via its eigendecomposition."""
    eigenvalues, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ vectors.T


def colour_histogram(images, levels=8):
    """The normalised RGB histogram of images in [-1, 1]: ``levels`` equal bins per channel (8 gives 512 colours)."""
    images = np.asarray(images, "float64")
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"Expected RGB images (N, height, width, 3), got shape {images.shape}.")
    bins = np.clip(((images + 1.0) / 2.0 * levels).astype("int64"), 0, levels - 1)
    codes = (bins[..., 0] * levels + bins[..., 1]) * levels + bins[..., 2]
    return np.bincount(codes.ravel(), minlength=levels**3) / codes.size


def colour_histogram_distance(images_a, images_b, levels=8):
    """Total-variation distance between the RGB histograms of two image sets in [-1, 1].

    Half the L1 difference of the two ``colour_histogram``s: 0 when both sets
    use colours in the same proportions, 1 when they share none. It sees the
    palette only, not where a colour is. ``images_b`` may also be a histogram
    already made (a reference that is scored against many times).
    """
    reference = images_b if np.ndim(images_b) == 1 else colour_histogram(images_b, levels)
    return float(0.5 * np.abs(colour_histogram(images_a, levels) - reference).sum())


# --- SWD: sliced Wasserstein distance on Laplacian-pyramid patches ------------------
# Follows metrics/sliced_wasserstein.py of tkarras/progressive_growing_of_gans
# (commit 2504c3f), which MMagic's metrics/swd.py also follows.

SWD_SCALE = 1e3  # PGGAN and MMagic publish SWD x 10^3
# PGGAN's 5x5 pyramid filter ([1 4 6 4 1] outer [1 4 6 4 1] / 256, the one cv2.pyrDown uses) is separable.
_BINOMIAL = np.array([1, 4, 6, 4, 1], "float32") / 16


def sliced_wasserstein(images_a, images_b, seed=0, min_size=16, patch_size=7, patches_per_image=128,
                       repeats=4, directions=128):
    """SWD x 10^3 between two equally large image sets, per pyramid scale and averaged (PGGAN's definition).

    Each set's Laplacian pyramid goes from the full size down to the last
    size >= ``min_size`` (64x64: 64, 32 and 16), the coarsest level being the
    blurred image itself. From every level of every image ``patches_per_image``
    random ``patch_size`` x ``patch_size`` patches are cut; each set's patches
    are normalised per channel (mean 0, standard deviation 1 over that set),
    and the two sets of patches are compared with the sliced Wasserstein
    distance over ``repeats`` x ``directions`` random directions.

    Images are NHWC with 1 or 3 channels, normally in [-1, 1]. Any affine
    map of the pixel values (0..255 as PGGAN feeds them, or [-1, 1] as MMagic
    does) gives the same SWD, because the patches are normalised. A gray
    channel is repeated three times, as MMagic does for MNIST, so gray and
    colour numbers are on the same footing. Sides that are halved must be even.

    A seed draws exactly the patches and directions the PGGAN functions draw
    after ``np.random.seed(seed)`` (the tests check it against that code).
    Returns ``{"per_scale": {size: swd, ...}, "avg": mean}``, finest first.
    """
    images_a, images_b = _as_rgb_images(images_a, "images_a"), _as_rgb_images(images_b, "images_b")
    if images_a.shape != images_b.shape:
        raise ValueError(f"SWD compares equally many images of one shape: {images_a.shape} vs {images_b.shape}.")
    sizes = pyramid_sizes(images_a.shape[1], min_size)
    if images_a.shape[1] % 2 ** (len(sizes) - 1) or images_a.shape[2] % 2 ** (len(sizes) - 1):
        raise ValueError(f"SWD halves {images_a.shape[1]}x{images_a.shape[2]} images {len(sizes) - 1} times, so "
                         f"both sides must divide by {2 ** (len(sizes) - 1)}; resize them first.")
    # RandomState, not default_rng: the same stream as the reference's np.random calls, in the same order.
    rng = np.random.RandomState(seed)
    distances = []
    for level_a, level_b in zip(laplacian_pyramid(images_a, len(sizes)), laplacian_pyramid(images_b, len(sizes))):
        patches_a = _normalised(_patches(level_a, patch_size, patches_per_image, rng))
        patches_b = _normalised(_patches(level_b, patch_size, patches_per_image, rng))
        distances.append(SWD_SCALE * sliced_wasserstein_points(patches_a, patches_b, repeats, directions, rng))
    return {"per_scale": dict(zip(sizes, distances)), "avg": float(np.mean(distances))}


def sliced_wasserstein_points(points_a, points_b, repeats=4, directions=128, seed=0):
    """The sliced Wasserstein-1 distance between two equally large (N, D) point sets.

    Both sets are projected on ``directions`` random unit vectors, ``repeats``
    times; along one direction the 1-D distance is the mean gap between the
    sorted projections. Returns the mean over all directions. ``seed`` may be
    a ``np.random.RandomState`` to continue its stream.
    """
    points_a, points_b = np.asarray(points_a, "float32"), np.asarray(points_b, "float32")
    if points_a.ndim != 2 or points_a.shape != points_b.shape:
        raise ValueError(f"Need two (N, D) point sets of one shape, got {points_a.shape} and {points_b.shape}.")
    rng = seed if isinstance(seed, np.random.RandomState) else np.random.RandomState(seed)
    results = []
    for _ in range(repeats):
        unit = rng.randn(points_a.shape[1], directions)
        unit = (unit / np.sqrt(np.sum(np.square(unit), axis=0, keepdims=True))).astype("float32")
        gaps = np.abs(np.sort(points_a @ unit, axis=0) - np.sort(points_b @ unit, axis=0))
        results.append(np.mean(gaps))
    return float(np.mean(results))


def pyramid_sizes(size, min_size=16):
    """The sides of SWD's pyramid levels: ``size`` halved while it stays >= ``min_size`` (64 -> 64, 32, 16)."""
    if size < min_size:
        raise ValueError(f"SWD's pyramid stops at {min_size}x{min_size}; images of side {size} are smaller.")
    sizes = []
    while size >= min_size:
        sizes.append(size)
        size //= 2
    return sizes


def laplacian_pyramid(images, num_levels):
    """``num_levels`` NHWC float32 levels: band-pass differences, finest first, then the blurred remainder."""
    levels = [np.asarray(images, "float32")]
    for _ in range(1, num_levels):
        levels.append(_pyramid_down(levels[-1]))
        levels[-2] = levels[-2] - _pyramid_up(levels[-1])
    return levels


def _blur(images, taps):
    """A separable 5-tap filter over height and width, mirrored at the edges (scipy's 'mirror', numpy's 'reflect')."""
    height, width = images.shape[1:3]
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="reflect")
    rows = sum(tap * padded[:, k:k + height] for k, tap in enumerate(taps))
    return sum(tap * rows[:, :, k:k + width] for k, tap in enumerate(taps))


def _pyramid_down(images):  # cv2.pyrDown, as PGGAN's pyr_down
    return _blur(images, _BINOMIAL)[:, ::2, ::2]


def _pyramid_up(images):  # cv2.pyrUp, as PGGAN's pyr_up: zeros between the pixels, then 4x the filter
    count, height, width, channels = images.shape
    spread = np.zeros((count, 2 * height, 2 * width, channels), images.dtype)
    spread[:, ::2, ::2] = images
    return _blur(spread, 2 * _BINOMIAL)


def _patches(level, patch_size, per_image, rng):
    """``per_image`` random patches of each image, (count, channels, patch, patch) as PGGAN lays them out.

    PGGAN draws the column centres first, then the rows, and its patch axes
    are (channel, column, row); kept so that one seed gives the same numbers.
    """
    count, height, width, channels = level.shape
    half = patch_size // 2
    columns = rng.randint(half, width - half, size=count * per_image)[:, None, None, None]
    rows = rng.randint(half, height - half, size=count * per_image)[:, None, None, None]
    offsets = np.arange(-half, half + 1)
    image = np.repeat(np.arange(count), per_image)[:, None, None, None]
    channel = np.arange(channels)[None, :, None, None]
    return level[image, rows + offsets[None, None, None, :], columns + offsets[None, None, :, None], channel]


def _normalised(patches):
    """Patches flattened to vectors after each channel is given mean 0 and standard deviation 1 over the set."""
    patches = patches - patches.mean(axis=(0, 2, 3), keepdims=True)
    patches /= patches.std(axis=(0, 2, 3), keepdims=True)
    return patches.reshape(len(patches), -1)


def _as_rgb_images(images, name):
    images = np.asarray(images, "float32")
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"{name} must be images of shape (N, height, width, 1 or 3), got {images.shape}.")
    if not np.all(np.isfinite(images)):
        raise ValueError(f"{name} contain NaN or inf: check the images (a diverged generator?).")
    return np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images


# --- MS-SSIM between pairs of images ----------------------------------------------------
# Follows metrics/ms_ssim.py of tkarras/progressive_growing_of_gans (from TensorFlow's
# models repository), which MMagic's metrics/ms_ssim.py copies: pixel values 0..255,
# an 11x11 Gaussian window with sigma 1.5 (shrunk for small images), 5 scales.

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # Wang et al., 2003; they sum to 1.0001
_PAIR_CHUNK = 256  # pairs at a time: float64 copies of 5,000 64x64x3 pairs would take gigabytes


def ms_ssim(images_a, images_b, weights=MS_SSIM_WEIGHTS):
    """MS-SSIM of each pair ``(images_a[i], images_b[i])``: 1 for identical images, near 0 for unrelated ones.

    Images are NHWC in [-1, 1], mapped to 0..255 (the range the reference
    scores, with its constants for 255) without rounding. Channels are scored
    alike and averaged, so a gray image and its RGB copy score the same. Each
    scale halves the images by 2x2 averages; an odd side first loses its last
    row or column (the reference stops there), so 28x28 goes 28, 14, 7, 3, 1.
    """
    images_a, images_b = np.asarray(images_a, "float64"), np.asarray(images_b, "float64")
    if images_a.ndim != 4 or images_a.shape != images_b.shape:
        raise ValueError(f"MS-SSIM compares pairs of NHWC images of one shape, got {images_a.shape} and "
                         f"{images_b.shape}.")
    smallest = 2 ** (len(weights) - 1)
    if min(images_a.shape[1:3]) < smallest:
        raise ValueError(f"MS-SSIM halves images {len(weights) - 1} times: they need sides of at least "
                         f"{smallest} pixels, got {images_a.shape[1]}x{images_a.shape[2]}.")
    images_a, images_b = (images_a + 1.0) * 127.5, (images_b + 1.0) * 127.5
    similarities, contrasts = [], []
    for scale in range(len(weights)):
        if scale:
            images_a, images_b = _halve(images_a), _halve(images_b)
        similarity, contrast = _ssim_and_contrast(images_a, images_b)
        similarities.append(similarity)
        contrasts.append(contrast)
    # Clipped at 0, as in the reference: a negative value to a fractional power is NaN.
    similarities, contrasts = np.clip(similarities, 0.0, None), np.clip(contrasts, 0.0, None)
    weights = np.asarray(weights, "float64")
    return np.prod(contrasts[:-1] ** weights[:-1, None], axis=0) * similarities[-1] ** weights[-1]


def pairwise_ms_ssim(images):
    """The mean MS-SSIM of the pairs (0, 1), (2, 3), ... of a set of independent samples.

    Odena et al. (2017) and PGGAN's and MMagic's ``MS-SSIM`` score: lower
    means more diverse samples; a collapsed generator scores near 1. Compare
    it with the same score of the training images. An odd last image is left out.
    """
    images = np.asarray(images)
    if len(images) < 2:
        raise ValueError(f"MS-SSIM of pairs needs at least 2 images, got {len(images)}.")
    pairs = len(images) // 2
    scores = [ms_ssim(images[2 * start:2 * (start + _PAIR_CHUNK):2][:pairs - start],
                      images[2 * start + 1:2 * (start + _PAIR_CHUNK):2][:pairs - start])
              for start in range(0, pairs, _PAIR_CHUNK)]
    return float(np.mean(np.concatenate(scores)))


def _ssim_and_contrast(images_a, images_b, max_value=255.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03):
    """Per image: mean SSIM and mean contrast-structure term over the valid (unpadded) windows."""
    size = min(filter_size, *images_a.shape[1:3])
    taps = _gaussian_taps(size, size * filter_sigma / filter_size)  # the reference shrinks sigma with the window
    mean_a, mean_b = _filter_valid(images_a, taps), _filter_valid(images_b, taps)
    var_a = _filter_valid(images_a * images_a, taps) - mean_a * mean_a
    var_b = _filter_valid(images_b * images_b, taps) - mean_b * mean_b
    covariance = _filter_valid(images_a * images_b, taps) - mean_a * mean_b
    c1, c2 = (k1 * max_value) ** 2, (k2 * max_value) ** 2
    v1, v2 = 2.0 * covariance + c2, var_a + var_b + c2
    ssim = (2.0 * mean_a * mean_b + c1) * v1 / ((mean_a * mean_a + mean_b * mean_b + c1) * v2)
    return ssim.mean(axis=(1, 2, 3)), (v1 / v2).mean(axis=(1, 2, 3))


def _gaussian_taps(size, sigma):
    """One axis of the reference's normalised 2-D Gaussian window (which is the outer product of two)."""
    offsets = np.arange(size) - (size - 1) / 2  # centred: half-integers for an even size, as the reference
    taps = np.exp(-offsets**2 / (2.0 * sigma**2))
    return taps / taps.sum()


def _filter_valid(images, taps):
    """Correlation with ``outer(taps, taps)`` over height and width, 'valid' windows only (symmetric taps)."""
    size = len(taps)
    height, width = images.shape[1] - size + 1, images.shape[2] - size + 1
    rows = sum(tap * images[:, k:k + height] for k, tap in enumerate(taps))
    return sum(tap * rows[:, :, k:k + width] for k, tap in enumerate(taps))


def _halve(images):
    """2x2 averages; an odd height or width loses its last row or column first."""
    images = images[:, :images.shape[1] // 2 * 2, :images.shape[2] // 2 * 2]
    return (images[:, 0::2, 0::2] + images[:, 1::2, 0::2] + images[:, 0::2, 1::2] + images[:, 1::2, 1::2]) * 0.25
