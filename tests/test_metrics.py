"""FID, KID and class coverage against closed forms and known cases."""

import numpy as np
import pytest

from dcgan_keras import metrics


def random_covariance(rng, dim, rank=None):
    factor = rng.standard_normal((dim, rank or dim))
    return factor @ factor.T / dim


def test_fid_of_a_set_with_itself_is_zero():
    features = np.random.default_rng(0).standard_normal((500, 16)) * 3 + 1
    assert metrics.fid(features, features) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_matches_the_closed_form_for_commuting_covariances():
    # Diagonal covariances commute: tr((AB)^1/2) = sum sqrt(a_i b_i), so
    # FID = |mu_a - mu_b|^2 + sum (sqrt(a_i) - sqrt(b_i))^2.
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0.1, 4, 8), rng.uniform(0.1, 4, 8)
    mu_a, mu_b = rng.standard_normal(8), rng.standard_normal(8)
    expected = np.sum((mu_a - mu_b) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert metrics.frechet_distance(mu_a, np.diag(a), mu_b, np.diag(b)) == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_of_general_gaussians_matches_an_eigen_oracle():
    # Independent route: sqrtm(A B) through a general eigendecomposition of A B.
    rng = np.random.default_rng(2)
    cov_a, cov_b = random_covariance(rng, 6), random_covariance(rng, 6)
    mu_a, mu_b = rng.standard_normal(6), rng.standard_normal(6)
    values = np.linalg.eigvals(cov_a @ cov_b)
    expected = np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * np.sum(np.sqrt(values)).real
    assert metrics.frechet_distance(mu_a, cov_a, mu_b, cov_b) == pytest.approx(expected, rel=1e-8)


def test_one_dimensional_gaussians():
    # N(0, 1) vs N(3, 4): (0-3)^2 + (1-2)^2 = 10.
    assert metrics.frechet_distance([0.0], [[1.0]], [3.0], [[4.0]]) == pytest.approx(10.0)


def test_near_singular_covariances_give_a_finite_nonnegative_distance():
    rng = np.random.default_rng(3)
    # Rank 3 in 32 dimensions: fewer directions than features, as with dead units.
    cov_a, cov_b = random_covariance(rng, 32, rank=3), random_covariance(rng, 32, rank=3)
    distance = metrics.frechet_distance(np.zeros(32), cov_a, np.zeros(32), cov_b)
    assert np.isfinite(distance) and distance >= 0
    assert metrics.frechet_distance(np.zeros(32), cov_a, np.zeros(32), cov_a) == pytest.approx(0.0, abs=1e-6)
    # Fewer samples than features: a singular sample covariance.
    few = rng.standard_normal((10, 64))
    assert metrics.fid(few, few) == pytest.approx(0.0, abs=1e-6)


def test_fid_samples_of_known_gaussians_approach_the_closed_form():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((20000, 4))
    b = rng.standard_normal((20000, 4)) * 2 + 1  # N(1, 4 I): 4*1 + 4*(2-1)^2 = 8
    assert metrics.fid(a, b) == pytest.approx(8.0, rel=0.05)


def test_kid_expectation_is_zero_for_one_distribution_and_positive_otherwise():
    rng = np.random.default_rng(5)
    # Many small independent pairs from one distribution: the unbiased estimate averages to ~0 ...
    same = [metrics.mmd2_unbiased(rng.standard_normal((50, 8)), rng.standard_normal((50, 8))) for _ in range(400)]
    assert abs(np.mean(same)) < 3 * np.std(same) / np.sqrt(len(same))
    # ... where the biased estimate (diagonals included) would sit clearly above 0.
    x, y = rng.standard_normal((50, 8)), rng.standard_normal((50, 8))
    biased = (metrics.polynomial_kernel(x, x).mean() + metrics.polynomial_kernel(y, y).mean()
              - 2 * metrics.polynomial_kernel(x, y).mean())
    assert biased > 10 * np.std(same) / np.sqrt(len(same))
    shifted, _ = metrics.kid(rng.standard_normal((500, 8)), rng.standard_normal((500, 8)) + 0.5, 20, 200)
    assert shifted > 0.1


def test_kid_subsets_are_reproducible_and_validate_inputs():
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal((300, 5)), rng.standard_normal((300, 5))
    assert metrics.kid(a, b, 10, 100, seed=3) == metrics.kid(a, b, 10, 100, seed=3)
    with pytest.raises(ValueError, match="Feature sizes differ"):
        metrics.kid(a, b[:, :4])
    with pytest.raises(ValueError, match="NaN"):
        metrics.fid(np.full((5, 2), np.nan), a[:, :2])


def test_kid_of_sets_no_larger_than_a_subset_is_the_one_estimate_on_the_whole_sets():
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((40, 6)), rng.standard_normal((40, 6)) + 0.3
    # The oracle: the unbiased MMD^2 with the cubic kernel written out sum by sum.
    def within(x):
        k = (x @ x.T / 6 + 1.0) ** 3
        return (k.sum() - np.trace(k)) / (len(x) * (len(x) - 1))

    expected = within(a) + within(b) - 2 * ((a @ b.T / 6 + 1.0) ** 3).mean()
    mean, spread = metrics.kid(a, b, num_subsets=50, subset_size=50)
    assert mean == pytest.approx(expected, rel=1e-12) and spread == 0.0
    # A subset smaller than either set draws subsets: their estimates spread.
    assert metrics.kid(a, b, num_subsets=50, subset_size=20)[1] > 0


def test_class_coverage_of_a_collapsed_and_a_perfect_generator():
    eye = np.eye(10)
    collapsed = metrics.class_coverage(np.tile(eye[3], (100, 1)))
    assert collapsed["classes"] == 1 and collapsed["kl"] == pytest.approx(np.log(10))
    perfect = metrics.class_coverage(np.tile(eye, (10, 1)))
    assert perfect["classes"] == 10 and perfect["kl"] == pytest.approx(0.0) and perfect["confidence"] == 1.0
    # One stray image in a class does not make it "present" (under 1%).
    nearly = metrics.class_coverage(np.concatenate([np.tile(eye[0], (199, 1)), eye[[5]]]))
    assert nearly["classes"] == 1


def _solid(colour, count=4):
    """``count`` 8x8 images of one RGB colour given in [-1, 1]."""
    return np.broadcast_to(np.asarray(colour, "float32"), (count, 8, 8, 3)).copy()


def test_colour_histogram_distance_closed_forms():
    white, red, grey = _solid([1, 1, 1]), _solid([1, -1, -1]), _solid([0, 0, 0])
    assert metrics.colour_histogram_distance(white, white) == 0.0
    assert metrics.colour_histogram_distance(white, red) == 1.0  # no colour in common
    half = np.concatenate([white, red])  # half white, half red against all white: TV = 1/2
    assert metrics.colour_histogram_distance(half, white) == pytest.approx(0.5)
    # Within one bin (1/8 of the range per channel) colours count as the same.
    assert metrics.colour_histogram_distance(grey, grey + 0.05) == 0.0
    with pytest.raises(ValueError, match="RGB"):
        metrics.colour_histogram_distance(white[..., :1], white[..., :1])
