"""Statistics for verdicts over a few seeds: standard errors, Welch intervals, Holm's correction.

The recipe (Lucic et al. 2018; the project's experiments guide): report mean
± standard error over seeds; compare each variant with the reference by
Welch's t (an interval of the difference, and a p-value); correct the
p-values of the whole family of comparisons by Holm's step-down method, and
print each interval at the level its Holm step used (``holm_levels``), so an
interval excludes 0 exactly when its verdict is not "not visible"; then

- "supported": the corrected p is below 0.05 and the difference has the sign the claim predicts;
- "contradicted": it is below 0.05 with the other sign;
- "not visible at this scale": it is not below 0.05.

Welch rather than a paired test: variant and reference share seeds, but a
seed means different initial weights in a different architecture, so pairing
buys little and halves the degrees of freedom. numpy only: Student's t is
computed here rather than taken from scipy.
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


def welch(variant, reference, confidence=0.95):
    """Welch's t comparison of ``variant - reference``: (difference, low, high, two-sided p).

    The interval is for one comparison at ``confidence``; the p-value is
    what ``holm`` corrects for the family.
    """
    a, b = np.asarray(variant, "float64"), np.asarray(reference, "float64")
    (mean_a, se_a), (mean_b, se_b) = mean_and_se(a), mean_and_se(b)
    difference, error = mean_a - mean_b, math.hypot(se_a, se_b)
    if error == 0.0:  # identical seeds in both arms: no noise to compare against
        return difference, difference, difference, 1.0 if difference == 0.0 else 0.0
    # Welch-Satterthwaite degrees of freedom.
    dof = error**4 / (se_a**4 / (len(a) - 1) + se_b**4 / (len(b) - 1))
    half_width = t_quantile(0.5 + confidence / 2, dof) * error
    p = 2.0 * (1.0 - t_cdf(abs(difference) / error, dof))
    return difference, difference - half_width, difference + half_width, min(1.0, max(0.0, p))


def spread_welch(variant, reference, confidence=0.95):
    """Is ``variant`` more spread across seeds than ``reference``? (difference, low, high, p), as ``welch``.

    The Brown-Forsythe idea: each seed's absolute deviation from its own
    arm's median, compared between arms by Welch's t. The difference is in
    the measure's units (mean absolute deviation); robust to one wild seed
    in a way an F test of variances is not.
    """
    a, b = np.asarray(variant, "float64"), np.asarray(reference, "float64")
    return welch(np.abs(a - np.median(a)), np.abs(b - np.median(b)), confidence)


def holm(p_values):
    """Holm's step-down adjusted p-values, in the order given (family-wise error control)."""
    p_values = np.asarray(p_values, "float64")
    order = np.argsort(p_values)
    m = len(p_values)
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, (m - rank) * p_values[index])  # never below a smaller p's adjustment
        adjusted[index] = min(1.0, running)
    return adjusted


def holm_levels(p_values, alpha=0.05):
    """The confidence level of each comparison's interval under Holm's procedure, in the order given.

    Holm tests the j-th smallest p (1-based) at ``alpha / (m - j + 1)`` and
    stops at the first p above its threshold; every later comparison is
    retained. A rejected comparison gets ``1 - alpha / (m - j + 1)``, and every
    retained one the level of the step where the procedure stopped. Then a
    Welch interval at that level excludes 0 exactly when Holm rejects.
    """
    p_values = np.asarray(p_values, "float64")
    m = len(p_values)
    levels = np.empty(m)
    stopped = None
    for rank, index in enumerate(np.argsort(p_values, kind="stable")):
        threshold = alpha / (m - rank)
        if stopped is None and p_values[index] > threshold:
            stopped = threshold
        levels[index] = 1.0 - (threshold if stopped is None else stopped)
    return levels


def holm_welch(pairs, pending=0, alpha=0.05):
    """Welch's test of each (variant, reference) pair, corrected together by Holm, each interval at its Holm level.

    ``pending`` more comparisons of the family, not yet measured, count at
    p = 1. Returns one dict per pair, in order: "difference", "low", "high"
    (the interval at "level"), "level", "p" (Welch's) and "holm_p".
    """
    p_values = [welch(variant, reference)[3] for variant, reference in pairs] + [1.0] * pending
    results = []
    for (variant, reference), p, level, holm_p in zip(pairs, p_values, holm_levels(p_values, alpha), holm(p_values)):
        difference, low, high, _ = welch(variant, reference, float(level))
        results.append({"difference": difference, "low": low, "high": high, "level": float(level), "p": p,
                        "holm_p": float(holm_p)})
    return results


def verdict(difference, adjusted_p, predicted_sign, alpha=0.05):
    """The verdict word for ``variant - reference``, given its Holm-adjusted p-value.

    ``predicted_sign`` is +1 when the claim says the variant is larger (a
    worse FID), -1 when it says smaller.
    """
    if adjusted_p >= alpha:
        return "not visible at this scale"
    return "supported" if (difference > 0) == (predicted_sign > 0) else "contradicted"
