"""Statistics for verdicts over a few seeds: standard errors and corrected intervals.

The recipe (``shared`` experiments guide, Lucic et al. 2018): report mean ±
standard error over seeds; compare each variant with the reference by a 95%
interval of the difference, paired where the seeds are shared; widen every
interval for the number of comparisons (Bonferroni); then

- "supported": the interval excludes 0 in the chapter's direction;
- "contradicted": it excludes 0 in the other direction;
- "not visible at this scale": it includes 0.

numpy only: Student's t quantile is computed here rather than taken from scipy.
"""

import math

import numpy as np


def mean_and_se(values):
    """Mean and standard error (sample SD / sqrt(n)) of a 1-D sequence."""
    values = np.asarray(values, "float64")
    if len(values) < 2:
        raise ValueError(f"A standard error needs at least 2 values, got {len(values)}.")
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(len(values)))


def t_cdf(t, dof):
    """P(T <= t) for Student's t with ``dof`` degrees of freedom (numerical integration)."""
    if dof <= 0:
        raise ValueError(f"Degrees of freedom must be positive, got {dof}.")
    # The substitution t = tan(theta) turns the heavy tail into a finite interval.
    theta = np.linspace(0.0, math.atan(abs(t)), 20001)
    x = np.tan(theta)
    log_norm = math.lgamma((dof + 1) / 2) - math.lgamma(dof / 2) - 0.5 * math.log(dof * math.pi)
    density = np.exp(log_norm - (dof + 1) / 2 * np.log1p(x**2 / dof)) / np.cos(theta) ** 2
    half = float(np.sum((density[1:] + density[:-1]) / 2 * np.diff(theta)))
    return 0.5 + math.copysign(half, t)


def t_quantile(probability, dof):
    """The t with ``t_cdf(t, dof) == probability``, by bisection (to 1e-6)."""
    if not 0.5 <= probability < 1.0:
        raise ValueError(f"probability must be in [0.5, 1), got {probability}.")
    low, high = 0.0, 1.0
    while t_cdf(high, dof) < probability:
        high *= 2
    while high - low > 1e-6:
        middle = (low + high) / 2
        low, high = (middle, high) if t_cdf(middle, dof) < probability else (low, middle)
    return (low + high) / 2


def paired_interval(variant, reference, comparisons=1, confidence=0.95):
    """Mean difference ``variant - reference`` over shared seeds, and its corrected interval.

    Returns ``(difference, low, high)``: a ``confidence`` interval for one
    comparison widened by Bonferroni to ``comparisons`` of them.
    """
    differences = np.asarray(variant, "float64") - np.asarray(reference, "float64")
    mean, error = mean_and_se(differences)
    alpha = (1.0 - confidence) / comparisons
    half_width = t_quantile(1.0 - alpha / 2, len(differences) - 1) * error
    return mean, mean - half_width, mean + half_width


def verdict(low, high, predicted_sign):
    """The verdict word for an interval of ``variant - reference``.

    ``predicted_sign`` is +1 when the claim says the variant is larger (a
    worse FID), -1 when it says smaller.
    """
    if low > 0 or high < 0:
        return "supported" if (low > 0) == (predicted_sign > 0) else "contradicted"
    return "not visible at this scale"
