"""Covariance structures: densities, parameter counts, precision factors, errors.

References: scipy.stats.multivariate_normal.logpdf for densities, scikit-learn's
GaussianMixture._n_parameters() (test-only import) and the textbook formulas for counts,
numpy.linalg.inv for precisions.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from gmmcore.engine.covariance import (
    COVARIANCE_TYPES,
    MCLUST_NAMES,
    IllConditionedCovarianceError,
    get_structure,
)
from gmmcore.engine.estep import log_gaussian

SEEDS = [0, 1, 2]


def random_spd(rng, d, scale=1.0):
    """A well-conditioned symmetric positive definite matrix."""
    a = rng.normal(size=(d, d))
    return scale * (a @ a.T / d + 0.5 * np.eye(d))


def random_covariances(covariance_type, rng, k, d):
    """Covariances in the type's own shape (see gmmcore.engine.covariance module docstring)."""
    if covariance_type == "full":
        return np.stack([random_spd(rng, d) for _ in range(k)])
    if covariance_type == "tied":
        return random_spd(rng, d)
    if covariance_type == "diag":
        return rng.uniform(0.2, 3.0, size=(k, d))
    return rng.uniform(0.2, 3.0, size=k)


def dense(covariance_type, cov, k, d):
    """Covariances as a (K, D, D) stack, written out independently of the engine."""
    if covariance_type == "full":
        return cov
    if covariance_type == "tied":
        return np.stack([cov] * k)
    if covariance_type == "diag":
        return np.stack([np.diag(c) for c in cov])
    return np.stack([c * np.eye(d) for c in cov])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("n_features", [1, 2, 5])
def test_log_gaussian_matches_scipy_logpdf(covariance_type, seed, n_features):
    rng = np.random.RandomState(seed)
    k = 3
    structure = get_structure(covariance_type)
    cov = random_covariances(covariance_type, rng, k, n_features)
    means = rng.normal(scale=3.0, size=(k, n_features))
    X = rng.normal(scale=4.0, size=(200, n_features))
    prec_chol = structure.precisions_cholesky(cov)

    ours = log_gaussian(X, means, prec_chol, structure)

    full = dense(covariance_type, cov, k, n_features)
    expected = np.column_stack(
        [stats.multivariate_normal(means[j], full[j]).logpdf(X).reshape(-1) for j in range(k)]
    )
    # Reference: scipy.stats.multivariate_normal.logpdf (eigendecomposition-based, so only
    # rounding differs from our Cholesky route).
    assert_allclose(ours, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_log_gaussian_far_from_mean_is_finite(covariance_type):
    """Points 1e6 standard deviations away get a very negative, finite log-density."""
    rng = np.random.RandomState(0)
    structure = get_structure(covariance_type)
    cov = random_covariances(covariance_type, rng, 2, 3)
    prec_chol = structure.precisions_cholesky(cov)
    X = np.full((4, 3), 1e6)
    out = log_gaussian(X, np.zeros((2, 3)), prec_chol, structure)
    assert np.isfinite(out).all()
    assert (out < -1e10).all()


@pytest.mark.parametrize("n_features", [1, 2, 3, 6])
@pytest.mark.parametrize("n_components", [1, 2, 5])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_n_parameters_matches_sklearn(covariance_type, n_components, n_features):
    sklearn_mixture = pytest.importorskip("sklearn.mixture")
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, n_features))
    ref = sklearn_mixture.GaussianMixture(
        n_components, covariance_type=covariance_type, max_iter=1, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's ConvergenceWarning at max_iter=1
        ref.fit(X)
    # Reference: scikit-learn's GaussianMixture._n_parameters().
    assert get_structure(covariance_type).n_parameters(n_components, n_features) == (
        ref._n_parameters()
    )


@pytest.mark.parametrize(
    ("covariance_type", "formula"),
    [
        ("full", lambda k, d: (k - 1) + k * d + k * d * (d + 1) // 2),
        ("tied", lambda k, d: (k - 1) + k * d + d * (d + 1) // 2),
        ("diag", lambda k, d: (k - 1) + k * d + k * d),
        ("spherical", lambda k, d: (k - 1) + k * d + k),
    ],
)
@pytest.mark.parametrize(("k", "d"), [(1, 1), (3, 2), (4, 5)])
def test_n_parameters_matches_formula(covariance_type, formula, k, d):
    assert get_structure(covariance_type).n_parameters(k, d) == formula(k, d)


def test_n_parameters_counts_one_weight_vector_per_task():
    # (K - 1) free weights per task; means and covariances are shared.
    tied = get_structure("tied")
    assert tied.n_parameters(3, 2, n_weight_sets=4) - tied.n_parameters(3, 2) == 3 * (3 - 1)


def test_tied_three_components_two_features_has_mclust_eee_count():
    # mclust's EEE with G=3 on Old Faithful reports df = 11.
    assert get_structure("tied").n_parameters(3, 2) == 11


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_precision_cholesky_times_transpose_is_inverse_covariance(covariance_type, seed):
    rng = np.random.RandomState(seed)
    k, d = 3, 4
    structure = get_structure(covariance_type)
    cov = random_covariances(covariance_type, rng, k, d)
    pc = structure.precisions_cholesky(cov)
    full = dense(covariance_type, cov, k, d)
    if covariance_type in ("full", "tied"):
        pcs = pc if covariance_type == "full" else np.stack([pc] * k)
        product = pcs @ pcs.transpose(0, 2, 1)
    else:
        product = dense(covariance_type, pc**2, k, d)
    # Reference: numpy.linalg.inv of the dense covariance.
    assert_allclose(product, np.linalg.inv(full), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_precision_cholesky_is_upper_triangular(covariance_type):
    rng = np.random.RandomState(0)
    structure = get_structure(covariance_type)
    pc = structure.precisions_cholesky(random_covariances(covariance_type, rng, 2, 4))
    pcs = pc if covariance_type == "full" else pc[None]
    for u in pcs:
        assert_allclose(np.tril(u, -1), 0.0, atol=0)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_precisions_cholesky_from_precisions_factors_the_precision(covariance_type, seed):
    rng = np.random.RandomState(seed)
    k, d = 2, 3
    structure = get_structure(covariance_type)
    cov = random_covariances(covariance_type, rng, k, d)
    if covariance_type in ("full", "tied"):
        precisions = np.linalg.inv(cov)
    else:
        precisions = 1.0 / cov
    from_prec = structure.precisions_cholesky_from_precisions(precisions)
    from_cov = structure.precisions_cholesky(cov)
    # Reference: the factor computed from the covariance (both are the unique upper-triangular
    # factor with positive diagonal, scikit-learn's convention).
    assert_allclose(from_prec, from_cov, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_covariances_round_trip_through_precision_cholesky(covariance_type):
    rng = np.random.RandomState(3)
    structure = get_structure(covariance_type)
    cov = random_covariances(covariance_type, rng, 3, 3)
    back = structure.covariances_from_precisions_cholesky(structure.precisions_cholesky(cov))
    # Reference: the covariances we started from.
    assert_allclose(back, cov, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_log_det_precisions_cholesky_is_minus_half_log_det_covariance(covariance_type):
    rng = np.random.RandomState(4)
    k, d = 3, 3
    structure = get_structure(covariance_type)
    cov = random_covariances(covariance_type, rng, k, d)
    ours = np.broadcast_to(
        structure.log_det_precisions_cholesky(structure.precisions_cholesky(cov), d), (k,)
    )
    # Reference: numpy.linalg.slogdet of the dense covariances.
    expected = -0.5 * np.linalg.slogdet(dense(covariance_type, cov, k, d))[1]
    assert_allclose(ours, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_covariance_matrices_is_a_dense_stack(covariance_type):
    rng = np.random.RandomState(5)
    k, d = 3, 2
    cov = random_covariances(covariance_type, rng, k, d)
    out = get_structure(covariance_type).covariance_matrices(cov, k, d)
    assert out.shape == (k, d, d)
    # Reference: our independent dense() expansion.
    assert_allclose(out, dense(covariance_type, cov, k, d), rtol=0, atol=0)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_m_step_matches_weighted_sample_covariance_plus_reg(covariance_type):
    """The covariance half of the M-step equals numpy's weighted covariance + reg_covar."""
    rng = np.random.RandomState(6)
    n, k, d, reg = 300, 3, 3, 1e-3
    X = rng.normal(size=(n, d)) @ rng.normal(size=(d, d))
    resp = rng.dirichlet(np.ones(k), size=n)
    nk = resp.sum(axis=0)
    means = resp.T @ X / nk[:, None]
    structure = get_structure(covariance_type)
    if structure.second_moment == "outer":
        S2 = np.einsum("nk,ni,nj->kij", resp, X, X)
    elif structure.second_moment == "square":
        S2 = resp.T @ (X * X)
    else:
        S2 = X.T @ X
    cov, _ = structure.m_step(nk, means, S2, reg)
    per_comp = np.stack([np.cov(X.T, aweights=resp[:, j], bias=True) for j in range(k)])
    if covariance_type == "full":
        expected = per_comp + reg * np.eye(d)
    elif covariance_type == "tied":
        expected = (nk[:, None, None] * per_comp).sum(axis=0) / n + reg * np.eye(d)
    elif covariance_type == "diag":
        expected = np.diagonal(per_comp, axis1=1, axis2=2) + reg
    else:
        expected = np.diagonal(per_comp, axis1=1, axis2=2).mean(axis=1) + reg
    # Reference: numpy.cov with analytic weights (bias=True is the ML estimate).
    assert_allclose(cov, expected, rtol=1e-10, atol=1e-12)


def test_mclust_names_cover_every_type():
    assert MCLUST_NAMES == {"full": "VVV", "tied": "EEE", "diag": "VVI", "spherical": "VII"}
    for name in COVARIANCE_TYPES:
        assert get_structure(name).mclust_name == MCLUST_NAMES[name]


@pytest.mark.parametrize("bad", ["ful", "FULL", "", None, 3, ["full"]])
def test_get_structure_unknown_type_lists_the_valid_ones(bad):
    with pytest.raises(ValueError, match=r"choose one of full, tied, diag, spherical"):
        get_structure(bad)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_non_positive_definite_covariance_raises_helpful_error(covariance_type):
    structure = get_structure(covariance_type)
    d = 2
    if covariance_type == "full":
        cov = np.stack([np.eye(d), np.array([[1.0, 2.0], [2.0, 1.0]])])
    elif covariance_type == "tied":
        cov = np.array([[1.0, 2.0], [2.0, 1.0]])
    elif covariance_type == "diag":
        cov = np.array([[1.0, 1.0], [1.0, -1.0]])
    else:
        cov = np.array([1.0, 0.0])
    with pytest.raises(IllConditionedCovarianceError, match="Increase reg_covar") as info:
        structure.precisions_cholesky(cov, reg_covar=1e-6)
    assert isinstance(info.value, ValueError)
    assert info.value.component == (None if covariance_type == "tied" else 1)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_log_gaussian_matches_scipy_at_a_timestamp_offset(covariance_type):
    """Data and means 1.7e9 from the origin (Unix timestamps): ``mahalanobis`` forms x - mu
    before any product. Before: the expanded ||x||^2 - 2 x.mu + ||mu||^2 of tied, diag and
    spherical was off by ~1e2. Reference: scipy's logpdf, 1e-9 (rounding of x - mu at 1.7e9
    is ~1e-7 of the coordinates, exact here because x and mu are within a factor 2)."""
    rng = np.random.RandomState(0)
    k, d = 3, 2
    structure = get_structure(covariance_type)
    cov = random_covariances(covariance_type, rng, k, d)
    means = rng.normal(scale=3.0, size=(k, d)) + 1.7e9
    X = rng.normal(scale=4.0, size=(100, d)) + 1.7e9
    ours = log_gaussian(X, means, structure.precisions_cholesky(cov), structure)
    full = dense(covariance_type, cov, k, d)
    expected = np.column_stack(
        [stats.multivariate_normal(means[j], full[j]).logpdf(X) for j in range(k)]
    )
    assert_allclose(ours, expected, rtol=1e-9, atol=1e-9)
