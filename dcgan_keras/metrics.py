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
