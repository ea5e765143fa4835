"""GaussianMixture.sample reproduces the fitted parameters on large draws.

Tolerances come from sampling error: with n_k draws from component k, a mean has standard
error sqrt(Sigma_ii / n_k) and a covariance entry sqrt((Sigma_ii Sigma_jj + Sigma_ij^2) / n_k)
(Wishart variance); a weight has standard error sqrt(w (1 - w) / N). We allow 5 standard
errors, so a correct sampler fails with probability far below 1e-5 per entry (and the draws
are seeded, so the tests are deterministic anyway).
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from gmmcore.datasets import make_mixture
from gmmcore.engine.covariance import COVARIANCE_TYPES, get_structure
from gmmcore.mixture import GaussianMixture

N_DRAW = 200_000
Z = 5.0


@pytest.fixture(scope="module")
def data():
    frame, _ = make_mixture(600, 3, 3, separation=4.0, random_state=21)
    return frame[["x1", "x2", "x3"]].to_numpy()


@pytest.fixture(scope="module", params=COVARIANCE_TYPES)
def fitted(request, data):
    gm = GaussianMixture(3, covariance_type=request.param, random_state=0).fit(data)
    X, y = gm.sample(N_DRAW)
    return gm, X, y


def dense_covariances(gm):
    k, d = gm.means_.shape
    return get_structure(gm.covariance_type).covariance_matrices(gm.covariances_, k, d)


def test_sample_shapes(fitted):
    gm, X, y = fitted
    assert X.shape == (N_DRAW, 3) and y.shape == (N_DRAW,)
    assert y.dtype.kind == "i" and set(np.unique(y)) <= {0, 1, 2}


def test_sample_reproduces_weights(fitted):
    gm, _, y = fitted
    freq = np.bincount(y, minlength=3) / N_DRAW
    # Reference: the fitted weights_; 0.005 is > 5 standard errors (sqrt(0.25 / 2e5) = 0.0011).
    assert_allclose(freq, gm.weights_, rtol=0, atol=0.005)


def test_sample_reproduces_means(fitted):
    gm, X, y = fitted
    covs = dense_covariances(gm)
    for k in range(3):
        n_k = int((y == k).sum())
        se = np.sqrt(np.diag(covs[k]) / n_k)
        # Reference: the fitted means_; atol is Z standard errors of a sample mean.
        assert_allclose(X[y == k].mean(axis=0), gm.means_[k], rtol=0, atol=Z * se.max())
        assert np.all(np.abs(X[y == k].mean(axis=0) - gm.means_[k]) < Z * se), k


def test_sample_reproduces_covariances(fitted):
    gm, X, y = fitted
    covs = dense_covariances(gm)
    for k in range(3):
        Xk = X[y == k]
        n_k = Xk.shape[0]
        var = np.diag(covs[k])
        se = np.sqrt((np.outer(var, var) + covs[k] ** 2) / n_k)
        emp = np.cov(Xk.T, bias=True)
        # Reference: the fitted covariance, within Z (Wishart) standard errors per entry.
        assert np.all(np.abs(emp - covs[k]) < Z * se), (k, emp, covs[k])


def test_sample_labels_are_grouped_by_component(fitted):
    """Labels come in component order, and each label's rows are drawn from that component
    (its sample mean is nearest the label's own mean)."""
    gm, X, y = fitted
    assert np.all(np.diff(y) >= 0)
    for k in range(3):
        m = X[y == k].mean(axis=0)
        assert np.argmin(((gm.means_ - m) ** 2).sum(axis=1)) == k


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_sample_is_reproducible_with_random_state(data, covariance_type):
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=4).fit(data)
    X1, y1 = gm.sample(500)
    X2, y2 = gm.sample(500)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)


def test_sample_differs_with_another_random_state(data):
    a = GaussianMixture(3, random_state=1).fit(data)
    b = GaussianMixture(3, random_state=1).fit(data).set_params(random_state=2)
    assert not np.array_equal(a.sample(100)[0], b.sample(100)[0])


def test_sample_one_row(data):
    X, y = GaussianMixture(2, random_state=0).fit(data).sample(1)
    assert X.shape == (1, 3) and y.shape == (1,)


def test_sample_multi_task_uses_that_task_weights():
    frame, _ = make_mixture(
        800, 2, 2, n_tasks=2, weights=[[0.9, 0.1], [0.1, 0.9]], separation=6.0, random_state=0
    )
    gm = GaussianMixture(2, random_state=0).fit(frame[["x1", "x2"]], tasks=frame["task"])
    for t, task in enumerate(gm.tasks_):
        _, y = gm.sample(50_000, task=task)
        # Reference: that task's fitted weight row; 0.01 is > 4 standard errors at n=5e4.
        assert_allclose(np.bincount(y, minlength=2) / 50_000, gm.weights_[t], rtol=0, atol=0.01)
