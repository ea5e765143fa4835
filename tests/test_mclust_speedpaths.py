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
