"""dcgan_keras.chapters.statistics against textbook values."""

import numpy as np
import pytest

from dcgan_keras.chapters import statistics


@pytest.mark.parametrize("probability, dof, expected", [
    (0.975, 1, 12.706), (0.975, 2, 4.303), (0.975, 4, 2.776), (0.975, 10, 2.228), (0.995, 5, 4.032),
    (0.99375, 2, 8.860),
])
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


def test_welch_matches_scipy():
    # scipy.stats.ttest_ind(a, b, equal_var=False): t 5.4376, df 7.666, p 7.1386e-4, 95% CI [2.4243, 6.0423].
    a, b = [19.1, 21.0, 20.2, 22.3, 18.9], [15.2, 17.9, 16.1, 16.8, 15.5, 14.9]
    difference, low, high, p = statistics.welch(a, b)
    assert (difference, low, high) == pytest.approx((4.23333, 2.42435, 6.04232), abs=1e-4)
    assert p == pytest.approx(7.1386e-4, rel=1e-3)
    assert statistics.welch(b, a)[0] == pytest.approx(-difference) and statistics.welch(b, a)[3] == pytest.approx(p)


def test_welch_of_identical_groups():
    assert statistics.welch([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])[3] == pytest.approx(1.0)
    assert statistics.welch([2.0, 2.0], [2.0, 2.0]) == (0.0, 0.0, 0.0, 1.0)


def test_holm_step_down():
    # Sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 -> 0.06 (never below the previous).
    assert statistics.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert statistics.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # 0.5*2 caps at 1, and 0.9 may not fall below it
    assert statistics.holm([0.02]) == pytest.approx([0.02])  # one comparison: nothing to correct


def test_verdict_words():
    assert statistics.verdict(4.0, 0.01, predicted_sign=1) == "supported"
    assert statistics.verdict(-4.0, 0.01, predicted_sign=1) == "contradicted"
    assert statistics.verdict(-4.0, 0.01, predicted_sign=-1) == "supported"
    assert statistics.verdict(4.0, 0.2, predicted_sign=1) == "not visible at this scale"
    assert statistics.verdict(4.0, 0.05, predicted_sign=1) == "not visible at this scale"  # 0.05 is not below 0.05


def test_holm_levels_follow_the_step_down_and_stop_where_holm_stops():
    # m = 4: the smallest p is tested at 0.05/4 and rejected; the next at 0.05/3 is not, so it and
    # every later comparison get the level of that step.
    levels = statistics.holm_levels([0.5, 0.001, 0.04, 0.02])
    np.testing.assert_allclose(levels, [1 - 0.05 / 3, 1 - 0.05 / 4, 1 - 0.05 / 3, 1 - 0.05 / 3])
    np.testing.assert_allclose(statistics.holm_levels([0.001, 0.002]), [1 - 0.05 / 2, 1 - 0.05])


def test_holm_welch_puts_each_interval_at_its_holm_level():
    rng = np.random.default_rng(0)
    reference = rng.normal(0.0, 1.0, 5)
    pairs = [(rng.normal(shift, 1.0, 5), reference) for shift in (0.0, 1.0, 4.0)]
    family = statistics.holm_welch(pairs)
    p_values = [statistics.welch(a, b)[3] for a, b in pairs]
    for (a, b), test, level, holm_p in zip(pairs, family, statistics.holm_levels(p_values), statistics.holm(p_values)):
        assert (test["level"], test["holm_p"]) == (level, holm_p)
        assert (test["difference"], test["low"], test["high"]) == statistics.welch(a, b, level)[:3]
        assert (test["low"] > 0 or test["high"] < 0) == (holm_p < 0.05)  # interval and verdict agree
    later = statistics.holm_welch(pairs, pending=2)  # comparisons still to come count at p = 1
    assert all(b["holm_p"] >= a["holm_p"] for a, b in zip(family, later))


def test_spread_welch_compares_absolute_deviations_from_each_median():
    reference = np.array([10.0, 11.0, 12.0, 13.0, 14.0])  # deviations from 12: 2, 1, 0, 1, 2 (mean 1.2)
    same_spread = reference + 100.0  # another mean, the same spread
    difference, low, high, p = statistics.spread_welch(same_spread, reference)
    assert difference == 0.0 and low == pytest.approx(-high) and p == pytest.approx(1.0)
    wild = np.array([10.0, 11.0, 12.0, 13.0, 64.0])  # one diverged seed: deviations 2, 1, 0, 1, 52 (mean 11.2)
    difference, low, high, p = statistics.spread_welch(wild, reference)
    assert difference == pytest.approx(10.0) and low < 0 < high  # one wild seed in five is not a significant spread
    # Five times the deviations in every seed is not yet significant with 5 seeds a side; twenty times is.
    assert statistics.spread_welch(5.0 * (reference - 12.0), reference)[3] > 0.05
    difference, low, high, p = statistics.spread_welch(20.0 * (reference - 12.0), reference)
    assert difference == pytest.approx(19 * 1.2) and p < 0.05 and low > 0
