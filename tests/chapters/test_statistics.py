"""dcgan_keras.chapters.statistics against textbook values."""

import numpy as np
import pytest

from dcgan_keras.chapters import statistics


@pytest.mark.parametrize("probability, dof, expected", [
    (0.975, 1, 12.706), (0.975, 2, 4.303), (0.975, 4, 2.776), (0.975, 10, 2.228), (0.995, 5, 4.032),
    (0.99375, 2, 8.860),  # 95% two-sided, Bonferroni over 4 comparisons, 3 seeds
])  # fmt: skip
def test_t_quantiles_match_the_tables(probability, dof, expected):
    assert statistics.t_quantile(probability, dof) == pytest.approx(expected, abs=2e-3)


def test_t_cdf_is_symmetric_and_tends_to_the_normal():
    assert statistics.t_cdf(0.0, 3) == pytest.approx(0.5)
    assert statistics.t_cdf(-1.5, 3) == pytest.approx(1 - statistics.t_cdf(1.5, 3))
    assert statistics.t_cdf(1.96, 10_000) == pytest.approx(0.975, abs=1e-4)


def test_mean_and_standard_error():
    assert statistics.mean_and_se([1.0, 2.0, 3.0]) == pytest.approx((2.0, 1.0 / np.sqrt(3)))
    with pytest.raises(ValueError, match="at least 2"):
        statistics.mean_and_se([1.0])


def test_paired_interval_and_bonferroni_widening():
    reference, variant = [10.0, 20.0, 30.0], [12.0, 21.0, 33.0]  # differences 2, 1, 3
    difference, low, high = statistics.paired_interval(variant, reference)
    half = 4.303 * 1.0 / np.sqrt(3)
    assert (difference, low, high) == pytest.approx((2.0, 2.0 - half, 2.0 + half), abs=1e-3)
    _, wide_low, wide_high = statistics.paired_interval(variant, reference, comparisons=4)
    assert wide_low < low and wide_high > high


def test_verdict_words():
    assert statistics.verdict(1.0, 5.0, predicted_sign=1) == "supported"
    assert statistics.verdict(-5.0, -1.0, predicted_sign=1) == "contradicted"
    assert statistics.verdict(-5.0, -1.0, predicted_sign=-1) == "supported"
    assert statistics.verdict(-1.0, 5.0, predicted_sign=1) == "not visible at this scale"
