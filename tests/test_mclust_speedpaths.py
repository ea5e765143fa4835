"""The small-data shortcuts of mclust's M-steps compute what the plain formulas do.

- the 2 x 2 orthogonal Procrustes solution in closed form (EVE, VVE on two features) against
  the SVD's, including the rank-deficient and zero matrices where the maximizer is not unique;
- ``raw_min``, which the ellipsoidal M-steps take from the eigenvalues they built the
  covariances from, against an eigendecomposition of the covariances they return.
"""

from __future__ import annotations

import numpy as np
import pytest

import gmmcore.engine.mclust_models  # noqa: F401  (registers the models)
from gmmcore.engine.covariance import get_structure
from gmmcore.engine.mclust_rotation import _procrustes_2d


def _svd_procrustes(G):
    P, _, Rt = np.linalg.svd(G)
    return P @ Rt


def _check_maximizer(G, D):
    np.testing.assert_allclose(D @ D.T, np.eye(2), atol=1e-15)
    best = np.trace(G.T @ _svd_procrustes(G))
    assert np.trace(G.T @ D) >= best - 4e-15 * np.abs(G).sum()


def test_2d_procrustes_equals_the_svd_solution():
    rng = np.random.default_rng(0)
    for _ in range(2000):
        G = rng.standard_normal((2, 2)) * 10.0 ** rng.uniform(-150, 150)
        D = _procrustes_2d(G)
        _check_maximizer(G, D)
        # Full rank: the maximizer is unique, so it is the SVD's to rounding.
        np.testing.assert_allclose(D, _svd_procrustes(G), atol=2e-15)


@pytest.mark.parametrize(
    "G",
    [
        np.zeros((2, 2)),
        np.array([[3.0, 0.0], [1.0, 0.0]]),  # a zero column (the MM's usual rank-one G)
        np.array([[0.0, 2.0], [0.0, -5.0]]),
        np.array([[1.0, 2.0], [2.0, 4.0]]),
        np.array([[-1.0, 0.0], [0.0, 0.0]]),
        np.array([[1e-300, 0.0], [0.0, -1e-300]]),
    ],
)
def test_2d_procrustes_of_singular_matrices_is_a_maximizer(G):
    """Where the maximizer is not unique, any one serves the MM step (the two candidates of a
    rank-one G differ in the sign of a column, which D A D^T does not see)."""
    _check_maximizer(G, _procrustes_2d(G))


@pytest.mark.parametrize("name", ["EEV", "EVV", "VEE", "VEV", "EVE", "VVE"])
@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("warm", [False, True])
def test_raw_min_is_the_smallest_eigenvalue_of_the_covariances(name, d, warm):
    s = get_structure(name)
    rng = np.random.default_rng(d)
    k, n = 3, 60
    X = rng.standard_normal((n, d)) * np.linspace(1.0, 3.0, d)
    resp = rng.dirichlet(np.ones(k), size=n)
    nk = resp.sum(axis=0)
    means = resp.T @ X / nk[:, None]
    S2 = np.einsum("ik,ij,il->kjl", resp, X, X)
    reg_covar = 1e-6
    previous = s.m_step(nk, means, S2, reg_covar)[0] if warm else None
    cov, raw_min = s.m_step(nk, means, S2, reg_covar, previous)
    expected = np.linalg.eigvalsh(cov)[:, 0] - reg_covar
    assert raw_min.shape == (k,)
    np.testing.assert_allclose(raw_min, expected, rtol=1e-12, atol=1e-14 * np.abs(cov).max())


def _eve_problem():
    from gmmcore.datasets import load_sample
    from gmmcore.engine.hierarchical import hc_responsibilities

    X = load_sample("Iris")[["Sepal.Length", "Sepal.Width", "Petal.Length", "Petal.Width"]]
    X = X.to_numpy(float)
    X = X - X.mean(axis=0)
    resp = hc_responsibilities(X, 5)
    nk = resp.sum(axis=0)
    means = resp.T @ X / nk[:, None]
    S2 = np.einsum("nk,ni,nj->kij", resp, X, X)
    return nk, means, S2


@pytest.mark.parametrize("name", ["EVE", "VVE", "VEV", "VEE"])
def test_ems_first_m_step_solves_loosely_and_still_ascends(name):
    """Inside em_start an iterative M-step without previous covariances stops its inner loop
    at the warm tolerance (what EM's later M-steps carry on), elsewhere it is exact; both
    improve the expected complete-data log-likelihood over the inner loop's own start."""
    from gmmcore.engine.covariance import em_start, in_em_start
    from gmmcore.engine.mclust_base import INNER_RTOL, WARM_INNER_RTOL, inner_rtol

    assert not in_em_start() and inner_rtol(None) == INNER_RTOL
    with em_start():
        assert in_em_start() and inner_rtol(None) == WARM_INNER_RTOL
    with pytest.raises(RuntimeError), em_start():
        raise RuntimeError
    assert not in_em_start()  # reset after an error too

    structure = get_structure(name)
    nk, means, S2 = _eve_problem()
    exact, _ = structure.m_step(nk, means, S2, 1e-6)
    with em_start():
        loose, _ = structure.m_step(nk, means, S2, 1e-6)
    W = S2 - nk[:, None, None] * means[:, :, None] * means[:, None, :]

    def q(cov):  # expected complete-data log-likelihood, up to constants
        _, logdet = np.linalg.slogdet(cov)
        return -0.5 * float(
            (nk * logdet).sum() + np.trace(np.linalg.solve(cov, W), axis1=1, axis2=2).sum()
        )

    # The exact maximizer is at least as good, and the loose one within the warm tolerance
    # of it (relative to |Q|).
    assert q(exact) >= q(loose) - 1e-9 * abs(q(exact))
    assert q(loose) >= q(exact) - 10 * WARM_INNER_RTOL * abs(q(exact))
