"""Walking and doing arithmetic in the latent space (the paper's sections 6.1 and 6.3).

Notebook 05 (experiments), sections 4 and 5, uses these pieces:

- ``norm_profile``: the norm of each point of an interpolation path, to show
  that a straight line dips inside the shell where z ~ N(0, I) lives and a
  spherical one (``dcgan_keras.sampling.interpolate``'s default,
  ``method="spherical"``) does not;
- ``measures.stroke_thickness`` and ``measures.slant`` (in the sibling module):
  two measurable "concepts" of a digit, so that exemplars can be picked by a
  number instead of by eye;
- ``pick_exemplars``, ``concept_average``, ``latent_arithmetic`` and
  ``with_jitter``: the paper's vector arithmetic on the mean z of three
  exemplars per concept, shown with jittered neighbours of the result;
- ``pixel_arithmetic``: the same sum on the images themselves, the baseline
  that gives a ghostly overlay rather than a digit;
- ``direction_effects`` and ``random_directions``: what adding a direction to
  many z does to a measure and to the digit, against the null distribution of
  many random directions of the same length.

Image functions take numpy arrays (N, H, W) or (N, H, W, C) in [-1, 1];
latent functions take numpy arrays (k, dim).
"""

import numpy as np

from dcgan_keras.sampling import sample

# --- interpolation ----------------------------------------------------------------


def norm_profile(path):
    """The L2 norm of each point of a latent ``path`` (steps, dim), as float64."""
    path = np.asarray(path, dtype="float64")
    if path.ndim != 2:
        raise ValueError(f"path must be (steps, dim), got shape {path.shape}.")
    return np.linalg.norm(path, axis=1)


# --- vector arithmetic on averaged exemplars --------------------------------------------


def pick_exemplars(scores, k=3, largest=True, mask=None):
    """Indices of the ``k`` largest (or smallest) ``scores`` among entries where ``mask`` is True.

    The most extreme comes first. ``mask`` restricts the candidates, e.g. to
    the samples a classifier calls a 7.
    """
    scores = np.asarray(scores)
    if scores.ndim != 1:
        raise ValueError(f"scores must be 1-D, one per sample, got shape {scores.shape}.")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}.")
    mask = np.ones(len(scores), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if mask.shape != scores.shape:
        raise ValueError(f"mask must have the shape of scores, {scores.shape}, got {mask.shape}.")
    candidates = np.flatnonzero(mask)
    if len(candidates) < k:
        raise ValueError(
            f"Only {len(candidates)} candidates where mask is True, fewer than k={k}; "
            f"loosen the mask, generate more samples or ask for fewer exemplars."
        )
    # A stable sort: ties keep the samples' order, so the choice is reproducible.
    order = np.argsort(-scores[candidates] if largest else scores[candidates], kind="stable")
    return candidates[order[:k]]


def concept_average(z, indices):
    """The mean latent vector of the exemplars ``z[indices]``, float32 (dim,)."""
    z, indices = np.asarray(z), np.asarray(indices)
    if z.ndim != 2:
        raise ValueError(f"z must be (N, dim), got shape {z.shape}.")
    if indices.size == 0:
        raise ValueError("indices is empty: pick at least one exemplar (see pick_exemplars).")
    return z[indices].mean(axis=0, dtype="float64").astype("float32")


def _exemplars(z, name):
    z = np.asarray(z, dtype="float64")
    z = z[None] if z.ndim == 1 else z  # one vector is one exemplar
    if z.ndim != 2 or len(z) == 0:
        raise ValueError(f"{name} must be exemplars (k, dim) with k >= 1, got shape {z.shape}.")
    return z


def latent_arithmetic(z_a, z_b, z_c):
    """``mean(z_a) - mean(z_b) + mean(z_c)`` for exemplar arrays (k, dim), float32 (dim,).

    The paper's "smiling woman - neutral woman + neutral man": averaging three
    exemplars per concept first makes the result stable, where single samples
    often were not (section 6.3).
    """
    a, b, c = (_exemplars(z, name) for z, name in ((z_a, "z_a"), (z_b, "z_b"), (z_c, "z_c")))
    if not a.shape[1] == b.shape[1] == c.shape[1]:
        raise ValueError(
            f"z_a, z_b and z_c must have the same latent size, got {a.shape[1]}, "
            f"{b.shape[1]} and {c.shape[1]}."
        )
    return (a.mean(0) - b.mean(0) + c.mean(0)).astype("float32")


def with_jitter(z, num, scale=0.25, seed=None):
    """``num`` latent points around ``z``: z itself, then z + uniform noise in [-scale, scale].

    The paper shows each arithmetic result with 8 such neighbours (scale 0.25)
    to show that a whole region of z gives the concept, not one lucky point.
    Returns float32 (num, dim).
    """
    z = np.asarray(z, dtype="float32")
    if z.ndim != 1:
        raise ValueError(f"z must be one latent vector (dim,), got shape {z.shape}.")
    if num < 1:
        raise ValueError(f"num must be at least 1, got {num}.")
    if scale < 0:
        raise ValueError(f"scale must be >= 0, got {scale}.")
    noise = np.random.default_rng(seed).uniform(-scale, scale, (num - 1, len(z)))
    return np.concatenate([z[None], z[None] + noise.astype("float32")])


def pixel_arithmetic(images_a, images_b, images_c):
    """``mean(a) - mean(b) + mean(c)`` on the images themselves, clipped to [-1, 1].

    The baseline the paper compares against: pixels add up to a ghostly
    overlay of the exemplars, not to a new digit. Returns one float32 image.
    """
    a, b, c = (np.asarray(images, dtype="float64") for images in (images_a, images_b, images_c))
    if not a.shape[1:] == b.shape[1:] == c.shape[1:] or min(len(a), len(b), len(c)) == 0:
        raise ValueError(
            f"images_a, images_b and images_c must be non-empty stacks of same-sized images, "
            f"got shapes {a.shape}, {b.shape} and {c.shape}."
        )
    return np.clip(a.mean(0) - b.mean(0) + c.mean(0), -1.0, 1.0).astype("float32")


# --- directions and their null -------------------------------------------------------


def direction_effects(generator, classify, measure, z, directions):
    """Add each of ``directions`` (k, dim) to every z: a (k, 2) array of
    (mean change of ``measure``, share of samples whose class is kept).

    ``classify`` maps images to class indices (for example the evaluator's
    classifier); ``measure`` maps images to one number each. The images of
    ``z`` itself are generated once, for all the directions.
    """
    before = sample(generator, z=z)
    base, classes = measure(before).mean(), classify(before)
    effects = []
    for direction in np.atleast_2d(directions):
        after = sample(generator, z=z + direction)
        effects.append((float(measure(after).mean() - base), float(np.mean(classify(after) == classes))))
    return np.array(effects)


def random_directions(count, length, dim=100, seed=0):
    """``count`` directions drawn uniformly on the sphere of radius ``length``: the null for a concept vector."""
    directions = np.random.default_rng(seed).standard_normal((count, dim))
    return (directions * (length / np.linalg.norm(directions, axis=1, keepdims=True))).astype("float32")
