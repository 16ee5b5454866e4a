"""Measures of images shared by the chapters: distances, nearest neighbours, duplicates, ink, slant, checkerboards.

Notebooks 01, 04 and 05 all describe samples with these, so each measure has
one definition. Images are numpy arrays (N, H, W, C) or (N, H, W) in [-1, 1].
"""

import numpy as np

from dcgan_keras.chapters.conv_arithmetic import phase_means

# --- distances -------------------------------------------------------------------


def _flat(images):
    # float64: the |a|^2 + |b|^2 - 2ab expansion loses digits in float32.
    return np.asarray(images, dtype="float64").reshape(len(images), -1)


def pairwise_distances(images, others=None):
    """Euclidean distances between every image of ``images`` and of ``others``."""
    a = _flat(images)
    b = a if others is None else _flat(others)
    squared = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.maximum(squared, 0.0))


def mean_pairwise_distance(images):
    """The mean distance over all distinct pairs of ``images``."""
    if len(images) < 2:
        raise ValueError("Need at least 2 images to measure their spread.")
    distances = pairwise_distances(images)
    return float(distances[np.triu_indices(len(images), k=1)].mean())


def nearest_neighbours(images, reference, chunk=1024):
    """Index of and RMS distance to the nearest ``reference`` image, for each image."""
    pixels = int(np.prod(reference.shape[1:]))
    indices, distances = [], []
    for start in range(0, len(images), chunk):  # chunks: a full distance matrix can be GBs
        gaps = pairwise_distances(images[start : start + chunk], reference)
        best = gaps.argmin(axis=1)
        indices.append(best)
        distances.append(gaps[np.arange(len(best)), best] / np.sqrt(pixels))
    return np.concatenate(indices), np.concatenate(distances)


def nearest_labels(images, reference, reference_labels):
    """The label of each image's nearest reference image: a 1-nearest-neighbour classifier.

    No training needed; on MNIST with 1,000 reference digits it is right about
    nine times in ten, enough to see which digits a generator makes.
    """
    return np.asarray(reference_labels)[nearest_neighbours(images, reference)[0]]


def nearest_other(images, limit=1000):
    """RMS distance from each of the first ``limit`` images to the nearest *other* one among them."""
    images = np.asarray(images)[:limit]
    gaps = pairwise_distances(images) / np.sqrt(np.prod(images.shape[1:]))
    np.fill_diagonal(gaps, np.inf)
    return gaps.min(axis=1)


def near_duplicate_fraction(images, threshold, limit=1000):
    """The share of images with another image closer than ``threshold`` (RMS) among the first ``limit``.

    A diversity measure that sees near-duplicates, which FID and class
    coverage can miss: a generator that draws one face in five tones covers
    one design five times. Compare only sets of the same size (``limit``): more
    images means closer neighbours.
    """
    return float(np.mean(nearest_other(images, limit) < threshold))


def copy_check(samples, training, quantile=0.01):
    """Are samples closer to a training image than real images are to one another?

    A copy of a training image sits at RMS distance about 0 from it. The scale
    for "close" is the real data's own: each of the first 1,000 training images'
    distance to its nearest *other* training image. Returns the median
    nearest-training distance of the samples, the same median for the real
    images, the real ``quantile`` of it, and the share of samples below that.
    The samples search all of ``training`` and the real images only 1,000 of
    one another, so the check leans towards finding copies: a conservative "no".
    """
    real = nearest_other(training, limit=1000)
    _, distances = nearest_neighbours(np.asarray(samples), np.asarray(training))
    threshold = float(np.quantile(real, quantile))
    return {"sample_median": float(np.median(distances)), "real_median": float(np.median(real)),
            "threshold": threshold, "below": float(np.mean(distances < threshold))}


def twin_distances(images, groups):
    """For every image whose group has others: the RMS distance to the nearest image of its group.

    For the emoji, a group is a design and its members are skin-tone twins,
    near-duplicates by construction; these distances calibrate what "near" means.
    """
    images, groups = np.asarray(images), np.asarray(groups)
    distances = []
    for group in np.flatnonzero(np.bincount(groups) > 1):
        members = images[groups == group]
        distances.extend(nearest_other(members, limit=len(members)))
    return np.asarray(distances)


# --- what a digit looks like ------------------------------------------------------


def _ink(images):
    """Ink in [0, 1] per pixel, (N, H, W) float64: white (+1) is ink, black (-1) is none."""
    images = np.asarray(images, dtype="float64")
    if images.ndim == 4:
        images = images.mean(-1)  # RGB or one channel: ink is the brightness
    if images.ndim != 3:
        raise ValueError(
            f"images must be (N, H, W) or (N, H, W, C) in [-1, 1], got shape {images.shape}; "
            f"for a single image pass image[None]."
        )
    # Clipped so that a value just outside [-1, 1] cannot act as negative ink.
    return np.clip((images + 1.0) / 2.0, 0.0, 1.0)


def stroke_thickness(images):
    """Mean ink per image: ``mean((image + 1) / 2)``, float32 of shape (N,).

    A proxy for stroke thickness: the same digit drawn with a thicker pen
    covers more pixels. It also grows with the size of the digit, which on
    MNIST (digits normalised to a 20x20 box) varies much less than the pen.
    Grey pixels count in proportion, so a small change of the pen moves it
    smoothly (a count of pixels above a threshold would move in jumps).
    """
    return _ink(images).mean(axis=(1, 2)).astype("float32")


def slant(images):
    """How much each digit leans: ``cov(x, y) / var(y)`` of its ink, float32 (N,).

    With ink weights at pixel (x, y), x to the right and y *up*, this is the
    shear that best maps a vertical stroke onto the ink (the least-squares
    slope dx/dy): positive leans right like "/", negative leans left like
    "\\", 0 is upright. A blank image or one flat horizontal stroke has no
    vertical extent (var(y) = 0) and gets 0.
    """
    ink = _ink(images)
    height, width = ink.shape[1:]
    y, x = np.mgrid[0:height, 0:width].astype("float64")
    y = (height - 1) - y  # rows count downwards, y counts upwards
    total = ink.sum(axis=(1, 2))
    weights = ink / np.where(total > 0, total, 1.0)[:, None, None]
    mean_x = (weights * x).sum(axis=(1, 2))
    mean_y = (weights * y).sum(axis=(1, 2))
    dx = x[None] - mean_x[:, None, None]
    dy = y[None] - mean_y[:, None, None]
    covariance = (weights * dx * dy).sum(axis=(1, 2))
    variance = (weights * dy**2).sum(axis=(1, 2))
    flat = variance < 1e-12
    return np.where(flat, 0.0, covariance / np.where(flat, 1.0, variance)).astype("float32")


# --- checkerboards ------------------------------------------------------------------


def checkerboard_amplitude(images):
    """The mean strength of a period-2 checkerboard, per image and channel, in pixel units of [-1, 1].

    With ``P[dy, dx]`` the mean of the pixels at row parity dy and column
    parity dx (the 2x2 sub-pixel phases), a checkerboard shows up as
    ``|P00 - P01 - P10 + P11| / 4``: 0 for any image without a pattern locked
    to the pixel grid, which is what uneven overlap in a stride-2 transposed
    convolution leaves (notebook 02).
    """
    images = np.asarray(images, "float64")
    if images.ndim != 4 or images.shape[1] % 2 or images.shape[2] % 2:
        raise ValueError(f"Expected (N, H, W, C) images with even H and W, got shape {images.shape}.")
    phases = phase_means(images.transpose(0, 3, 1, 2), 2)  # (N, C, 2, 2)
    pattern = phases[..., 0, 0] - phases[..., 0, 1] - phases[..., 1, 0] + phases[..., 1, 1]
    return float(np.abs(pattern).mean() / 4)
